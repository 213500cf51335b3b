// Failure tests with reboundd as a process and a private PostgreSQL cluster that the test
// stops and starts: every message that got 250 must be in the database afterwards.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <system_error>
#include <thread>

#include "services/envelope/codec.h"
#include "tests/support/pg_test.h"
#include "tests/support/process.h"
#include "tests/support/smtp_client.h"

namespace rebound {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::SmtpClient;

const std::string kMasterKey(64, '5');

int RunTool(const std::string& command) {
    return std::system(command.c_str());
}

class FaultsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = testing::MakeTempDir("rebound-faults");
        ASSERT_FALSE(dir_.empty()) << "no temporary directory: " << std::strerror(errno);
        port_ = 56000 + ::getpid() % 1000;
        pg_ = testing::SourceDir() + "/tools/pg-local --dir " + dir_ + "/pg --port " + std::to_string(port_);
        ASSERT_EQ(RunTool(pg_ + " start"), 0);
        url_ = "host=" + dir_ + "/pg port=" + std::to_string(port_) + " user=postgres dbname=rebound";
        // Schema and one feedback domain; reboundd migrates on start, so run it once first.
        StartDaemon();
        pqxx::connection conn(url_);
        pqxx::work tx(conn);
        account_ = tx.exec1("INSERT INTO accounts (name) VALUES ('acme') RETURNING id")[0].as<std::int64_t>();
        tx.exec_params(
            "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, 'acme.test', "
            "'feedback.acme.test')",
            account_);
        tx.commit();
        StopDaemon(SIGTERM);
        StartDaemon();
        auto codec = envelope::Codec::Create(kMasterKey, "", 60);
        ASSERT_TRUE(codec.ok());
        auto local = codec->EncodeLocalPart({static_cast<std::uint64_t>(account_), 1, {}}, 1, 2,
                                            static_cast<std::uint32_t>(std::time(nullptr) / 86400));
        ASSERT_TRUE(local.ok());
        rcpt_ = *local + "@feedback.acme.test";
    }

    void TearDown() override {
        if (daemon_) StopDaemon(SIGKILL);
        if (dir_.empty()) return;
        RunTool(pg_ + " stop");
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    void StartDaemon() {
        daemon_ = std::make_unique<ChildProcess>();
        ASSERT_TRUE(daemon_->Start({REBOUNDD_PATH}, {{"REBOUND_DATABASE_URL", url_},
                                                     {"REBOUND_DATA_DIR", dir_ + "/data"},
                                                     {"REBOUND_GRPC_LISTEN", "127.0.0.1:0"},
                                                     {"REBOUND_SMTP_LISTEN", "127.0.0.1:0"},
                                                     {"REBOUND_INGEST_DOMAIN_REFRESH_SECONDS", "1"},
                                                     // No DNS re-checks: tests talk to loopback only.
                                                     {"REBOUND_DNS_RECHECK_ENABLED", "false"},
                                                     {"REBOUND_MASTER_KEY", kMasterKey}}));
        auto line = daemon_->WaitForLine("event=smtp.listening", 30s);
        ASSERT_TRUE(line.has_value()) << daemon_->output();
        smtp_port_ = std::stoi(testing::LogField(*line, "port"));
        ASSERT_TRUE(daemon_->WaitForLine("event=reboundd.ready", 30s).has_value()) << daemon_->output();
    }

    void StopDaemon(int sig) {
        daemon_->Signal(sig);
        daemon_->Wait(30s);
        daemon_.reset();
    }

    // Sessions sending uniquely tagged bounces until `stop`; returns the tags that got 250.
    void Traffic(std::atomic<bool>& stop, std::set<std::string>& acked, std::atomic<int>& temp_failures) {
        std::mutex mu;
        std::vector<std::thread> threads;
        for (int s = 0; s < 4; ++s) {
            threads.emplace_back([&, s] {
                int n = 0;
                while (!stop.load()) {
                    SmtpClient client;
                    if (!client.Connect("127.0.0.1", smtp_port_)) {
                        std::this_thread::sleep_for(50ms);
                        continue;
                    }
                    while (!stop.load()) {
                        const std::string tag = "tag-" + std::to_string(s) + "-" + std::to_string(n++);
                        const std::string msg = "From: MAILER-DAEMON@mx.example\nTo: x\nSubject: " + tag +
                                                "\nContent-Type: text/plain\n\n<user@example.com>: host mx.example "
                                                "said: 550 5.1.1 User unknown\n";
                        testing::SmtpReply r = client.Send("", {rcpt_}, msg);
                        if (r.code == 250) {
                            std::lock_guard lock(mu);
                            acked.insert(tag);
                        } else if (r.code >= 400 && r.code < 500) {
                            temp_failures.fetch_add(1);
                            if (r.code == 421) break;
                        } else {
                            break;  // connection gone
                        }
                    }
                }
            });
        }
        for (auto& t : threads)
            t.join();
    }

    std::set<std::string> StoredTags() {
        std::set<std::string> tags;
        pqxx::connection conn(url_);
        pqxx::nontransaction tx(conn);
        for (const auto& row : tx.exec("SELECT substring(convert_from(content, 'UTF8') from 'Subject: "
                                       "(tag-[0-9]+-[0-9]+)') FROM raw_messages")) {
            if (!row[0].is_null()) tags.insert(row[0].as<std::string>());
        }
        return tags;
    }

    std::string dir_;
    int port_ = 0;
    std::string pg_;
    std::string url_;
    std::int64_t account_ = 0;
    std::string rcpt_;
    std::unique_ptr<ChildProcess> daemon_;
    int smtp_port_ = 0;
};

TEST_F(FaultsTest, KillDashNineLosesNoAcknowledgedMessage) {
    std::atomic<bool> stop{false};
    std::set<std::string> acked;
    std::atomic<int> temp{0};
    std::thread traffic([&] { Traffic(stop, acked, temp); });
    std::this_thread::sleep_for(1500ms);
    StopDaemon(SIGKILL);  // in the middle of transactions
    stop = true;
    traffic.join();
    ASSERT_GT(acked.size(), 10u) << "traffic flowed before the kill";

    StartDaemon();  // restarts cleanly on the same database
    const std::set<std::string> stored = StoredTags();
    for (const auto& tag : acked)
        EXPECT_TRUE(stored.count(tag)) << tag << " got 250 but is not stored";
    // Nothing half-written: every stored message has its event.
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM raw_messages r WHERE NOT EXISTS "
                       "(SELECT 1 FROM bounce_events e WHERE e.raw_message_id = r.id)")[0]
                  .as<int>(),
              0);
}

TEST_F(FaultsTest, DatabaseDownGives451AndLosesNothing) {
    std::atomic<bool> stop{false};
    std::set<std::string> acked;
    std::atomic<int> temp{0};
    std::thread traffic([&] { Traffic(stop, acked, temp); });
    std::this_thread::sleep_for(1000ms);
    ASSERT_EQ(RunTool(pg_ + " stop"), 0);
    std::this_thread::sleep_for(1500ms);
    const int failures_while_down = temp.load();
    ASSERT_EQ(RunTool(pg_ + " start"), 0);
    std::this_thread::sleep_for(2000ms);  // traffic resumes
    stop = true;
    traffic.join();

    EXPECT_GT(failures_while_down, 0) << "clients got 4xx while the database was down";
    const std::set<std::string> stored = StoredTags();
    for (const auto& tag : acked)
        EXPECT_TRUE(stored.count(tag)) << tag << " got 250 but is not stored";
    EXPECT_TRUE(daemon_->WaitForLine("event=ingest.failed", 5s).has_value()) << "the failure was logged";
    // It recovered: messages were acknowledged after the database came back.
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const int rows = tx.exec1("SELECT count(*) FROM raw_messages")[0].as<int>();
    EXPECT_GT(rows, 0);
    // The counters logged at shutdown tell the same story.
    daemon_->Signal(SIGTERM);
    ASSERT_TRUE(daemon_->Wait(30s).has_value());
    auto counters = daemon_->WaitForLine("event=reboundd.counters", 1s);
    ASSERT_TRUE(counters.has_value()) << daemon_->output();
    EXPECT_EQ(testing::LogField(*counters, "ingest_stored"), std::to_string(rows)) << *counters;
    EXPECT_NE(testing::LogField(*counters, "ingest_storage_failures"), "0") << *counters;
    EXPECT_NE(testing::LogField(*counters, "messages_accepted"), "0") << *counters;
    daemon_.reset();
}

}  // namespace
}  // namespace rebound
