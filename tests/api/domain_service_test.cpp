// DomainService through a real gRPC channel and PostgreSQL, verifying against a real
// authoritative DNS server (Knot on 127.0.0.1): registration and its recommended records,
// account isolation, the state machine pending -> verified -> failing -> verified with a
// temporary outcome in between, and the state changes listed by the API.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "rebound/v1/domain.grpc.pb.h"
#include "storage/database.h"
#include "storage/message_store.h"
#include "tests/api/api_fixture.h"
#include "tests/support/knot_server.h"

namespace rebound::api {
namespace {

class DomainServiceTest : public ApiFixture {
  protected:
    void SetUp() override {
        ApiFixture::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        if (!testing::KnotServer::Available()) {
            const char* ci = std::getenv("CI");
            if (ci == nullptr || std::string(ci) != "true") GTEST_SKIP() << "knotd not installed (tools/install-deps)";
            FAIL() << "knotd not installed";
        }
        knot_ = std::make_unique<testing::KnotServer>();
        std::string error;
        ASSERT_TRUE(knot_->Start(testing::ScenarioZones(), &error)) << error;
        // The fixture's server again, with the [dns] configuration of the test zones.
        server_->Shutdown(std::chrono::seconds(2));
        config::GrpcConfig cfg;
        cfg.listen = "127.0.0.1:0";
        cfg.admin_key = kAdminKey;
        ApiServer::Dependencies deps{pool_.get(), codec_.get(), 1};
        deps.dns = testing::ScenarioDnsConfig(knot_->address());
        auto server = ApiServer::Start(cfg, deps);
        ASSERT_TRUE(server.ok()) << server.status();
        server_ = std::move(*server);
        channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
        accounts_ = v1::AccountService::NewStub(channel_);
        stub_ = v1::DomainService::NewStub(channel_);
        std::tie(a_, a_key_) = NewAccount("a");
        std::tie(b_, b_key_) = NewAccount("b");
    }

    grpc::Status Register(const std::string& key, const std::string& domain, const std::string& label,
                          v1::Domain* out) {
        v1::RegisterDomainRequest req;
        req.set_domain(domain);
        req.set_feedback_label(label);
        return stub_->RegisterDomain(Ctx(key).get(), req, out);
    }

    v1::VerifyDomainResponse Verify(const std::string& key, std::uint64_t id) {
        v1::VerifyDomainRequest req;
        req.set_id(id);
        v1::VerifyDomainResponse resp;
        grpc::Status st = stub_->VerifyDomain(Ctx(key).get(), req, &resp);
        EXPECT_TRUE(st.ok()) << st.error_message();
        return resp;
    }

    std::vector<v1::StateChange> Changes(const std::string& key, std::uint64_t domain_id, std::uint64_t after = 0) {
        v1::ListStateChangesRequest req;
        req.set_domain_id(domain_id);
        req.set_after_id(after);
        v1::ListStateChangesResponse resp;
        grpc::Status st = stub_->ListStateChanges(Ctx(key).get(), req, &resp);
        EXPECT_TRUE(st.ok()) << st.error_message();
        return {resp.changes().begin(), resp.changes().end()};
    }

    static bool HasVerdict(const v1::VerifyDomainResponse& r, const std::string& code) {
        for (const auto& v : r.check().verdicts())
            if (v.code() == code) return true;
        return false;
    }

    std::unique_ptr<testing::KnotServer> knot_;
    std::unique_ptr<v1::DomainService::Stub> stub_;
    std::int64_t a_ = 0, b_ = 0;
    std::string a_key_, b_key_;
};

TEST_F(DomainServiceTest, RegisterReturnsTheRecordsToCreate) {
    v1::Domain d;
    grpc::Status st = Register(a_key_, "Good.Customer.Test.", "", &d);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_NE(d.id(), 0u);
    EXPECT_EQ(d.domain(), "good.customer.test");
    EXPECT_EQ(d.feedback_label(), "feedback");
    EXPECT_EQ(d.feedback_domain(), "feedback.good.customer.test");
    EXPECT_EQ(d.state(), "pending");
    EXPECT_FALSE(d.has_last_checked_at());
    ASSERT_EQ(d.records().mx_size(), 2);
    EXPECT_EQ(d.records().mx(0).value(), "mx1.rebound.test");
    EXPECT_EQ(d.records().mx(0).preference(), 10u);
    EXPECT_EQ(d.records().mx(1).value(), "mx2.rebound.test");
    EXPECT_EQ(d.records().mx(1).preference(), 20u);
    EXPECT_EQ(d.records().spf().type(), "TXT");
    EXPECT_EQ(d.records().spf().value(), "v=spf1 include:_spf.rebound.test ~all");
    EXPECT_EQ(d.records().cname().zone_line(), "feedback.good.customer.test. 3600 IN CNAME feedback.rebound.test.");
    EXPECT_NE(d.records().zone_file().find("feedback.good.customer.test. 3600 IN MX 20 mx2.rebound.test."),
              std::string::npos)
        << d.records().zone_file();

    // Mail for it is accepted from now on, whatever its state: ingest finds it.
    auto conn = storage::Connect(db().url());
    ASSERT_TRUE(conn.ok());
    auto found = storage::FindFeedbackDomain(**conn, "feedback.good.customer.test");
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->account_id, a_);

    // A custom label.
    v1::Domain custom;
    ASSERT_TRUE(Register(a_key_, "good.customer.test", "Bounces", &custom).ok());
    EXPECT_EQ(custom.feedback_domain(), "bounces.good.customer.test");

    // Taken: by the same account, or by another one.
    v1::Domain again;
    EXPECT_EQ(Register(a_key_, "good.customer.test", "feedback", &again).error_code(), grpc::ALREADY_EXISTS);
    EXPECT_EQ(Register(b_key_, "good.customer.test", "", &again).error_code(), grpc::ALREADY_EXISTS);
}

TEST_F(DomainServiceTest, InvalidNamesAreRefusedNamingTheField) {
    v1::Domain d;
    for (const char* bad :
         {"", "localhost", "exa mple.com", "-bad.example", "example..com", "192.0.2.1", "under_score.example"}) {
        grpc::Status st = Register(a_key_, bad, "", &d);
        EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT) << bad;
        EXPECT_EQ(st.error_message().rfind("domain:", 0), 0u) << st.error_message();
    }
    const std::vector<std::string> bad_labels = {"two.labels", "-x", "sp ace", std::string(64, 'a')};
    for (const std::string& bad : bad_labels) {
        grpc::Status st = Register(a_key_, "example.com", bad, &d);
        EXPECT_EQ(st.error_code(), grpc::INVALID_ARGUMENT) << bad;
        EXPECT_EQ(st.error_message().rfind("feedback_label:", 0), 0u) << st.error_message();
    }
    v1::GetDomainRequest get;
    EXPECT_EQ(stub_->GetDomain(Ctx(a_key_).get(), get, &d).error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_EQ(Register("", "example.com", "", &d).error_code(), grpc::UNAUTHENTICATED);
    EXPECT_EQ(Register(kAdminKey, "example.com", "", &d).error_code(), grpc::PERMISSION_DENIED);
}

TEST_F(DomainServiceTest, AccountsSeeOnlyTheirOwnDomains) {
    v1::Domain d;
    ASSERT_TRUE(Register(a_key_, "good.customer.test", "", &d).ok());
    v1::GetDomainRequest get;
    get.set_id(d.id());
    v1::Domain out;
    EXPECT_TRUE(stub_->GetDomain(Ctx(a_key_).get(), get, &out).ok());
    EXPECT_EQ(stub_->GetDomain(Ctx(b_key_).get(), get, &out).error_code(), grpc::NOT_FOUND);
    v1::VerifyDomainRequest verify;
    verify.set_id(d.id());
    v1::VerifyDomainResponse vr;
    EXPECT_EQ(stub_->VerifyDomain(Ctx(b_key_).get(), verify, &vr).error_code(), grpc::NOT_FOUND);
    v1::DeleteDomainRequest del;
    del.set_id(d.id());
    v1::DeleteDomainResponse dr;
    EXPECT_EQ(stub_->DeleteDomain(Ctx(b_key_).get(), del, &dr).error_code(), grpc::NOT_FOUND);
    v1::ListDomainsResponse list;
    ASSERT_TRUE(stub_->ListDomains(Ctx(b_key_).get(), {}, &list).ok());
    EXPECT_EQ(list.domains_size(), 0);
    ASSERT_TRUE(stub_->ListDomains(Ctx(a_key_).get(), {}, &list).ok());
    EXPECT_EQ(list.domains_size(), 1);
    Verify(a_key_, d.id());
    EXPECT_TRUE(Changes(b_key_, 0).empty());
    EXPECT_EQ(Changes(a_key_, 0).size(), 1u);
}

TEST_F(DomainServiceTest, ListPagesAndDeleteIsSoftAndReRegisterable) {
    std::vector<std::uint64_t> ids;
    for (const char* name : {"good.customer.test", "backup.customer.test", "cname.customer.test"}) {
        v1::Domain d;
        ASSERT_TRUE(Register(a_key_, name, "", &d).ok());
        ids.push_back(d.id());
    }
    v1::ListDomainsRequest req;
    req.set_page_size(2);
    v1::ListDomainsResponse page1, page2;
    ASSERT_TRUE(stub_->ListDomains(Ctx(a_key_).get(), req, &page1).ok());
    ASSERT_EQ(page1.domains_size(), 2);
    ASSERT_FALSE(page1.next_page_token().empty());
    req.set_page_token(page1.next_page_token());
    ASSERT_TRUE(stub_->ListDomains(Ctx(a_key_).get(), req, &page2).ok());
    ASSERT_EQ(page2.domains_size(), 1);
    EXPECT_EQ(page2.domains(0).id(), ids[2]);
    EXPECT_TRUE(page2.next_page_token().empty());
    req.set_page_token("junk");
    EXPECT_EQ(stub_->ListDomains(Ctx(a_key_).get(), req, &page2).error_code(), grpc::INVALID_ARGUMENT);

    v1::DeleteDomainRequest del;
    del.set_id(ids[0]);
    v1::DeleteDomainResponse dr;
    ASSERT_TRUE(stub_->DeleteDomain(Ctx(a_key_).get(), del, &dr).ok());
    EXPECT_EQ(stub_->DeleteDomain(Ctx(a_key_).get(), del, &dr).error_code(), grpc::NOT_FOUND);
    v1::GetDomainRequest get;
    get.set_id(ids[0]);
    v1::Domain out;
    EXPECT_EQ(stub_->GetDomain(Ctx(a_key_).get(), get, &out).error_code(), grpc::NOT_FOUND);
    auto conn = storage::Connect(db().url());
    EXPECT_EQ(storage::FindFeedbackDomain(**conn, "feedback.good.customer.test").status().code(),
              absl::StatusCode::kNotFound);
    {
        auto admin = db().Connect();
        pqxx::nontransaction tx(*admin);
        EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM sender_domains WHERE id = $1 AND deleted_at IS NOT NULL",
                                  static_cast<std::int64_t>(ids[0]))[0]
                      .as<int>(),
                  1);
    }
    // Another account may not take it over; the owner may register it again.
    EXPECT_EQ(Register(b_key_, "good.customer.test", "", &out).error_code(), grpc::ALREADY_EXISTS);
    ASSERT_TRUE(Register(a_key_, "good.customer.test", "", &out).ok());
    EXPECT_EQ(out.id(), ids[0]);
    EXPECT_EQ(out.state(), "pending");
}

TEST_F(DomainServiceTest, VerifyReportsVerdictsRecordsAndTtls) {
    v1::Domain d;
    ASSERT_TRUE(Register(a_key_, "mxcname.customer.test", "", &d).ok());
    v1::VerifyDomainResponse r = Verify(a_key_, d.id());
    EXPECT_EQ(r.check().outcome(), "failing");
    EXPECT_EQ(r.check().mode(), "mx");
    EXPECT_TRUE(HasVerdict(r, "mx_target_cname"));
    ASSERT_GE(r.check().found_size(), 1);
    EXPECT_EQ(r.check().found(0).ttl(), 600u);
    EXPECT_EQ(r.domain().state(), "pending") << "never verified: stays pending";
    EXPECT_EQ(r.domain().check_failures(), 1u);
    EXPECT_EQ(r.domain().last_outcome(), "failing");
    EXPECT_TRUE(r.domain().has_last_checked_at());
    EXPECT_NE(r.domain().last_check_json().find("mx_target_cname"), std::string::npos);
    EXPECT_TRUE(Changes(a_key_, d.id()).empty());

    v1::Domain c;
    ASSERT_TRUE(Register(a_key_, "cname.customer.test", "", &c).ok());
    r = Verify(a_key_, c.id());
    EXPECT_EQ(r.check().outcome(), "ok");
    EXPECT_EQ(r.check().mode(), "cname");
    EXPECT_EQ(r.domain().state(), "verified");
}

TEST_F(DomainServiceTest, StateMachineWithTemporaryFailuresKeepingTheState) {
    v1::Domain d;
    ASSERT_TRUE(Register(a_key_, "good.customer.test", "", &d).ok());
    v1::VerifyDomainResponse r = Verify(a_key_, d.id());
    ASSERT_EQ(r.check().outcome(), "ok");
    EXPECT_EQ(r.domain().state(), "verified");
    EXPECT_EQ(r.domain().check_failures(), 0u);
    const auto verified_since = r.domain().state_since().seconds() * 1000000000LL + r.domain().state_since().nanos();

    // The customer breaks the records: the MX now names their own host.
    auto zones = testing::ScenarioZones();
    std::string& customer = zones["customer.test"];
    const std::string good = "feedback.good 1800 MX 10 mx1.rebound.test.\n";
    ASSERT_NE(customer.find(good), std::string::npos);
    customer.replace(customer.find(good), good.size(), "feedback.good 1800 MX 5 mail.foreignfirst.customer.test.\n");
    std::string error;
    ASSERT_TRUE(knot_->Restart(zones, &error)) << error;
    r = Verify(a_key_, d.id());
    EXPECT_EQ(r.check().outcome(), "failing");
    EXPECT_TRUE(HasVerdict(r, "mx_foreign_preferred"));
    EXPECT_EQ(r.domain().state(), "failing");
    EXPECT_EQ(r.domain().check_failures(), 1u);
    const auto failing_since = r.domain().state_since().seconds() * 1000000000LL + r.domain().state_since().nanos();
    EXPECT_GT(failing_since, verified_since);

    // DNS unreachable: temporary, the state stays, the failure count (backoff) grows.
    knot_->Stop();
    r = Verify(a_key_, d.id());
    EXPECT_EQ(r.check().outcome(), "temporary");
    EXPECT_EQ(r.domain().state(), "failing");
    EXPECT_EQ(r.domain().check_failures(), 2u);
    EXPECT_EQ(r.domain().state_since().seconds() * 1000000000LL + r.domain().state_since().nanos(), failing_since);
    EXPECT_GT(r.domain().next_check_at().seconds(), r.domain().last_checked_at().seconds());

    // Fixed again.
    ASSERT_TRUE(knot_->Restart(testing::ScenarioZones(), &error)) << error;
    r = Verify(a_key_, d.id());
    EXPECT_EQ(r.check().outcome(), "ok");
    EXPECT_EQ(r.domain().state(), "verified");
    EXPECT_EQ(r.domain().check_failures(), 0u);

    std::vector<v1::StateChange> changes = Changes(a_key_, d.id());
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(changes[0].from_state() + ">" + changes[0].to_state(), "pending>verified");
    EXPECT_EQ(changes[1].from_state() + ">" + changes[1].to_state(), "verified>failing");
    EXPECT_EQ(changes[1].outcome(), "failing");
    EXPECT_NE(changes[1].summary().find("mx_foreign_host"), std::string::npos) << changes[1].summary();
    EXPECT_EQ(changes[2].from_state() + ">" + changes[2].to_state(), "failing>verified");
    EXPECT_EQ(changes[2].feedback_domain(), "feedback.good.customer.test");
    EXPECT_TRUE(changes[2].has_changed_at());
    // A cursor: only the newer ones.
    EXPECT_EQ(Changes(a_key_, 0, changes[1].id()).size(), 1u);
}

}  // namespace
}  // namespace rebound::api
