// reboundd as a process: configuration errors, start-up with migration, the gRPC front
// (Rebound's service, health checking, reflection), clean stop on SIGTERM; and the
// `rebound migrate` command against the same database.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include "rebound/v1/system.grpc.pb.h"
#include "tests/support/knot_server.h"
#include "tests/support/pg_test.h"
#include "tests/support/process.h"
#include "tests/support/threads.h"

namespace rebound {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

class RebounddTest : public testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        ASSERT_FALSE(data_dir_.empty()) << "mkdtemp could not make a directory under /tmp";
    }
    // The data directory (its generated TLS pair) goes with the test; the daemons it started
    // have ended with the test's body.
    void TearDown() override {
        std::error_code ec;
        if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_, ec);
        PgTest::TearDown();
    }

    std::map<std::string, std::string> Env() {
        return {{"REBOUND_DATABASE_URL", db().url()},
                {"REBOUND_DATA_DIR", data_dir_},
                {"REBOUND_GRPC_LISTEN", "127.0.0.1:0"},
                {"REBOUND_SMTP_LISTEN", "127.0.0.1:0"},
                {"REBOUND_MASTER_KEY", std::string(64, 'a')},
                // No DNS re-checks unless a test points them at its own server: loopback only.
                {"REBOUND_DNS_RECHECK_ENABLED", "false"}};
    }
    std::string data_dir_ = testing::MakeTempDir("rebound-e2e");
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
    // Its own threads go by their names (`top -H`, perf); gRPC's name theirs.
    for (const char* name : {"smtp-io", "ingest-writer", "ingest-flush", "log-writer", "maintenance", "domain-refresh"})
        EXPECT_GE(testing::CountThreadsNamed(name, child.pid()), 1) << name;

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

// The periodic DNS re-check: reboundd checks due domains against the configured resolver
// (Knot on loopback) and moves their state: pending -> verified, pending stays pending while
// failing, verified -> failing; a temporary failure (resolver gone) keeps the state. SIGTERM
// still stops it promptly.
TEST_F(RebounddTest, RechecksDomainsPeriodicallyAndMovesTheirState) {
    if (!testing::KnotServer::Available()) {
        const char* ci = std::getenv("CI");
        if (ci == nullptr || std::string(ci) != "true") GTEST_SKIP() << "knotd not installed (tools/install-deps)";
        FAIL() << "knotd not installed";
    }
    testing::KnotServer knot;
    std::string error;
    ASSERT_TRUE(knot.Start(testing::ScenarioZones(), &error)) << error;
    {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        const auto account = tx.exec1("INSERT INTO accounts (name) VALUES ('dns') RETURNING id")[0].as<std::int64_t>();
        for (const char* domain : {"good.customer.test", "mxcname.customer.test"}) {
            tx.exec_params("INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, $2, $3)",
                           account, std::string(domain), "feedback." + std::string(domain));
        }
        tx.commit();
    }
    auto state_of = [&](const std::string& domain) {
        auto conn = db().Connect();
        pqxx::nontransaction tx(*conn);
        auto r = tx.exec_params1(
            "SELECT state || '/' || coalesce(last_outcome, '') FROM sender_domains WHERE domain = $1", domain);
        return r[0].as<std::string>();
    };
    auto wait_for = [&](const std::string& domain, const std::string& want) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        std::string got;
        while (std::chrono::steady_clock::now() < deadline) {
            got = state_of(domain);
            if (got == want) return got;
            std::this_thread::sleep_for(100ms);
        }
        return got;
    };

    auto env = Env();
    env["REBOUND_DNS_RECHECK_ENABLED"] = "true";
    env["REBOUND_DNS_RESOLVERS"] = knot.address();
    env["REBOUND_DNS_MX_HOSTS"] = "10 mx1.rebound.test, 20 mx2.rebound.test";
    env["REBOUND_DNS_FEEDBACK_HOST"] = "feedback.rebound.test";
    env["REBOUND_DNS_SPF_INCLUDE"] = "_spf.rebound.test";
    env["REBOUND_DNS_TIMEOUT_MS"] = "300";
    env["REBOUND_DNS_TRIES"] = "1";
    env["REBOUND_DNS_RECHECK_POLL_SECONDS"] = "1";
    env["REBOUND_DNS_RECHECK_SECONDS"] = "1";
    env["REBOUND_DNS_RETRY_MIN_SECONDS"] = "1";
    env["REBOUND_DNS_RETRY_MAX_SECONDS"] = "1";
    ChildProcess child;
    ASSERT_TRUE(child.Start({REBOUNDD_PATH}, env));
    ASSERT_TRUE(child.WaitForLine("event=reboundd.ready", 30s).has_value()) << child.output();

    EXPECT_EQ(wait_for("good.customer.test", "verified/ok"), "verified/ok");
    EXPECT_EQ(wait_for("mxcname.customer.test", "pending/failing"), "pending/failing");

    // The customer breaks the good domain's MX.
    auto zones = testing::ScenarioZones();
    std::string& customer = zones["customer.test"];
    const std::string good = "feedback.good 1800 MX 10 mx1.rebound.test.\n";
    customer.replace(customer.find(good), good.size(), "feedback.good 1800 MX 5 mail.foreignfirst.customer.test.\n");
    ASSERT_TRUE(knot.Restart(zones, &error)) << error;
    EXPECT_EQ(wait_for("good.customer.test", "failing/failing"), "failing/failing");

    // DNS gone: temporary, the state stays.
    knot.Stop();
    EXPECT_EQ(wait_for("good.customer.test", "failing/temporary"), "failing/temporary");
    {
        auto conn = db().Connect();
        pqxx::nontransaction tx(*conn);
        auto r = tx.exec(
            "SELECT c.from_state || '>' || c.to_state FROM sender_domain_state_changes c "
            "JOIN sender_domains d ON d.id = c.domain_id WHERE d.domain = 'good.customer.test' ORDER BY c.id");
        ASSERT_EQ(r.size(), 2u);
        EXPECT_EQ(r[0][0].as<std::string>(), "pending>verified");
        EXPECT_EQ(r[1][0].as<std::string>(), "verified>failing");
    }
    child.WaitForLine("\x01", 200ms);  // reads what it logged so far
    EXPECT_NE(child.output().find("event=domain.checked"), std::string::npos) << child.output();

    const auto stop_started = std::chrono::steady_clock::now();
    child.Signal(SIGTERM);
    auto status = child.Wait(30s);
    ASSERT_TRUE(status.has_value()) << child.output();
    EXPECT_EQ(*status, 0) << child.output();
    EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 10s);
}

}  // namespace
}  // namespace rebound
