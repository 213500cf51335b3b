#pragma once
// The shared fixture of the API tests: a fresh database (emptied per test), the real
// ApiServer on 127.0.0.1:0 and a gRPC channel to it, and helpers for accounts and contexts.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "rebound/v1/account.grpc.pb.h"
#include "services/api/server.h"
#include "tests/support/pg_test.h"

namespace rebound::api {

inline const std::string kAdminKey = "admin-key-for-tests-0123456789";

class ApiFixture : public testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        {
            auto conn = db().Connect();
            pqxx::work tx(*conn);
            tx.exec(
                "TRUNCATE bounce_events, raw_messages, message_digests, suppressions, suppression_history, "
                "suppression_policies, api_keys, sender_domains, accounts CASCADE");
            tx.commit();
        }
        pool_ = std::make_unique<storage::Pool>(db().url(), 8);
        auto codec = envelope::Codec::Create(std::string(64, 'c'), "", 60);
        ASSERT_TRUE(codec.ok()) << codec.status();
        codec_ = std::make_unique<envelope::Codec>(std::move(*codec));
        config::GrpcConfig cfg;
        cfg.listen = "127.0.0.1:0";
        cfg.admin_key = kAdminKey;
        auto server = ApiServer::Start(cfg, {pool_.get(), codec_.get(), 1});
        ASSERT_TRUE(server.ok()) << server.status();
        server_ = std::move(*server);
        channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
        accounts_ = v1::AccountService::NewStub(channel_);
    }

    void TearDown() override {
        if (server_) server_->Shutdown(std::chrono::seconds(2));
    }

    // A client context with `key` as bearer token (none when empty) and a deadline.
    static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& key) {
        auto ctx = std::make_unique<grpc::ClientContext>();
        if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
        ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
        return ctx;
    }

    // A new account through AccountService with an API key, and (when `feedback_domain` is
    // given) that feedback domain registered; returns {account id, api key}.
    std::pair<std::int64_t, std::string> NewAccount(const std::string& name, const std::string& feedback_domain = "") {
        v1::CreateAccountRequest req;
        req.set_name(name);
        v1::Account account;
        grpc::Status st = accounts_->CreateAccount(Ctx(kAdminKey).get(), req, &account);
        EXPECT_TRUE(st.ok()) << st.error_message();
        if (!feedback_domain.empty()) {
            auto conn = db().Connect();
            pqxx::work tx(*conn);
            tx.exec_params("INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, $2, $3)",
                           static_cast<std::int64_t>(account.id()), name + ".test", feedback_domain);
            tx.commit();
        }
        v1::CreateApiKeyRequest kreq;
        kreq.set_account_id(account.id());
        v1::CreateApiKeyResponse key;
        st = accounts_->CreateApiKey(Ctx(kAdminKey).get(), kreq, &key);
        EXPECT_TRUE(st.ok()) << st.error_message();
        return {static_cast<std::int64_t>(account.id()), key.api_key()};
    }

    std::unique_ptr<storage::Pool> pool_;
    std::unique_ptr<envelope::Codec> codec_;
    std::unique_ptr<ApiServer> server_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::AccountService::Stub> accounts_;
};

}  // namespace rebound::api
