// reboundd as a process: configuration errors, start-up with migration, the gRPC front
// (Rebound's service, health checking, reflection), clean stop on SIGTERM; and the
// `rebound migrate` command against the same database.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>

#include "rebound/v1/system.grpc.pb.h"
#include "tests/support/pg_test.h"
#include "tests/support/process.h"

namespace rebound {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

std::string TempDir() {
    char tmpl[] = "/tmp/rebound-e2e-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    return dir != nullptr ? dir : "/tmp";
}

class RebounddTest : public testing::PgTest {
  protected:
    std::map<std::string, std::string> Env() {
        return {{"REBOUND_DATABASE_URL", db().url()},
                {"REBOUND_DATA_DIR", data_dir_},
                {"REBOUND_GRPC_LISTEN", "127.0.0.1:0"},
                {"REBOUND_SMTP_LISTEN", "127.0.0.1:0"},
                {"REBOUND_MASTER_KEY", std::string(64, 'a')}};
    }
    std::string data_dir_ = TempDir();
};

TEST_F(RebounddTest, BadConfigurationFailsBeforeListeningAndNamesTheField) {
    ChildProcess child;
    auto env = Env();
    env["REBOUND_SMTP_MAX_RECIPIENTS"] = "0";
    ASSERT_TRUE(child.Start({REBOUNDD_PATH}, env));
    auto status = child.Wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 1);
    EXPECT_NE(child.output().find("smtp.max_recipients"), std::string::npos) << child.output();
    EXPECT_EQ(child.output().find("listening"), std::string::npos) << child.output();
}

TEST_F(RebounddTest, ServesGrpcAndStopsCleanlyOnSigterm) {
    ChildProcess child;
    ASSERT_TRUE(child.Start({REBOUNDD_PATH}, Env()));
    auto line = child.WaitForLine("event=grpc.listening", 30s);
    ASSERT_TRUE(line.has_value()) << child.output();
    const std::string address = testing::LogField(*line, "address");
    ASSERT_FALSE(address.empty()) << *line;
    ASSERT_TRUE(child.WaitForLine("event=reboundd.ready", 10s).has_value()) << child.output();

    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    auto stub = rebound::v1::SystemService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    rebound::v1::GetInfoResponse info;
    grpc::Status st = stub->GetInfo(&ctx, rebound::v1::GetInfoRequest(), &info);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_GE(info.schema_version(), 1);
    EXPECT_EQ(info.schema_version(), info.known_schema_version());
    EXPECT_FALSE(info.version().empty());

    // Standard health checking: the generic stub speaks grpc.health.v1 without generated code.
    grpc::GenericStub generic(channel);
    {
        grpc::ClientContext hctx;
        hctx.set_deadline(std::chrono::system_clock::now() + 5s);
        // HealthCheckRequest{service: ""} is the empty message.
        grpc::ByteBuffer request;
        grpc::ByteBuffer response;
        grpc::Slice empty("", 0);
        request = grpc::ByteBuffer(&empty, 1);
        grpc::Status hs;
        bool done = false;
        std::mutex mu;
        std::condition_variable cv;
        generic.UnaryCall(&hctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                          [&](grpc::Status s) {
                              std::lock_guard lock(mu);
                              hs = s;
                              done = true;
                              cv.notify_all();
                          });
        std::unique_lock lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return done; }));
        ASSERT_TRUE(hs.ok()) << hs.error_message();
        std::vector<grpc::Slice> slices;
        ASSERT_TRUE(response.Dump(&slices).ok());
        std::string bytes;
        for (auto& s : slices)
            bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "status: SERVING";
    }

    child.Signal(SIGTERM);
    auto status = child.Wait(30s);
    ASSERT_TRUE(status.has_value()) << "reboundd did not stop on SIGTERM: " << child.output();
    EXPECT_EQ(*status, 0) << child.output();
    EXPECT_NE(child.output().find("event=shutdown.done"), std::string::npos) << child.output();
}

TEST_F(RebounddTest, MigrateCommandIsANoOpOnAMigratedDatabase) {
    ChildProcess child;
    ASSERT_TRUE(child.Start({REBOUND_CLI_PATH, "migrate"}, Env()));
    auto status = child.Wait(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0) << child.output();

    ChildProcess bad;
    auto env = Env();
    env["REBOUND_DATABASE_URL"] = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
    ASSERT_TRUE(bad.Start({REBOUND_CLI_PATH, "migrate"}, env));
    auto bad_status = bad.Wait(30s);
    ASSERT_TRUE(bad_status.has_value());
    EXPECT_EQ(*bad_status, 1);
    EXPECT_NE(bad.output().find("database unreachable"), std::string::npos) << bad.output();
}

TEST_F(RebounddTest, TokenCommandsFindTheAccountOfTheDomain) {
    std::int64_t account = 0;
    {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        account = tx.exec1(
                        "INSERT INTO accounts (name, envelope_key_id, envelope_retired_key_ids) "
                        "VALUES ('cli', 3, '{1}') RETURNING id")[0]
                      .as<std::int64_t>();
        tx.exec_params(
            "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, 'cli.test', "
            "'feedback.cli.test')",
            account);
        tx.commit();
    }
    ChildProcess enc;
    ASSERT_TRUE(enc.Start(
        {"/bin/sh", "-c",
         std::string(REBOUND_CLI_PATH) + " token encode --mailing 5 --recipient 6 --domain Feedback.Cli.Test 1>&2"},
        Env()));
    ASSERT_EQ(enc.Wait(30s), 0) << enc.output();
    auto line = enc.WaitForLine("@feedback.cli.test", 1s);
    ASSERT_TRUE(line.has_value()) << enc.output();
    const std::string address = *line;

    ChildProcess dec;
    ASSERT_TRUE(
        dec.Start({"/bin/sh", "-c", std::string(REBOUND_CLI_PATH) + " token decode " + address + " 1>&2"}, Env()));
    ASSERT_EQ(dec.Wait(30s), 0) << dec.output();
    EXPECT_NE(dec.output().find("\"account\":" + std::to_string(account)), std::string::npos) << dec.output();
    EXPECT_NE(dec.output().find("\"key_id\":3"), std::string::npos) << "minted with the current key: " << dec.output();

    ChildProcess unknown;
    ASSERT_TRUE(unknown.Start({REBOUND_CLI_PATH, "token", "decode", "abc@feedback.nowhere.test"}, Env()));
    ASSERT_EQ(unknown.Wait(30s), 1);
    EXPECT_NE(unknown.output().find("not a registered feedback domain"), std::string::npos) << unknown.output();
}

}  // namespace
}  // namespace rebound
