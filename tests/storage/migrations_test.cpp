// The migration runner against a real PostgreSQL: fresh database, re-run, tampered
// checksum, concurrent runners, a failing migration.

#include "storage/migrations.h"

#include <gtest/gtest.h>

#include <thread>

#include "storage/database.h"
#include "tests/support/pg_test.h"

namespace rebound::storage {
namespace {

using testing::TestDatabase;

class MigrationsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string error;
        db_ = TestDatabase::Create(/*migrate=*/false, &error);
        if (db_ == nullptr) {
            const char* ci = std::getenv("CI");
            if (ci != nullptr && std::string(ci) == "true") FAIL() << error;
            GTEST_SKIP() << error;
        }
    }

    std::unique_ptr<pqxx::connection> Conn() {
        auto conn = Connect(db_->url());
        EXPECT_TRUE(conn.ok()) << conn.status();
        return conn.ok() ? std::move(*conn) : nullptr;
    }

    std::int64_t Count(const std::string& sql) {
        auto conn = db_->Connect();
        pqxx::nontransaction tx(*conn);
        return tx.exec1(sql)[0].as<std::int64_t>();
    }

    std::unique_ptr<TestDatabase> db_;
};

std::vector<Migration> Sample() {
    auto m = ParseMigrations({{"0001_first.sql", "CREATE TABLE t1 (id int);"},
                              {"0002_second.sql", "CREATE TABLE t2 (id int); INSERT INTO t2 VALUES (1);"}});
    EXPECT_TRUE(m.ok());
    return *m;
}

TEST_F(MigrationsTest, FreshDatabaseGetsTheWholeBuiltinSchema) {
    auto conn = Conn();
    auto before = SchemaVersion(*conn);
    ASSERT_TRUE(before.ok()) << before.status();
    EXPECT_EQ(*before, 0);

    auto builtin = BuiltinMigrations();
    ASSERT_TRUE(builtin.ok());
    auto report = Migrate(*conn, *builtin);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->applied.size(), builtin->size());
    EXPECT_EQ(report->schema_version, builtin->back().version);
    EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations"), static_cast<std::int64_t>(builtin->size()));
    // The core tables exist and the partitioned tables have partitions for now.
    for (const char* table : {"accounts", "api_keys", "sender_domains", "raw_messages", "bounce_events", "suppressions",
                              "suppression_history", "message_digests"}) {
        EXPECT_EQ(Count(std::string("SELECT count(*) FROM pg_class WHERE relname = '") + table + "'"), 1) << table;
    }
    EXPECT_GE(Count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'bounce_events'::regclass"), 3);
    auto created = EnsurePartitions(*conn, 3);
    ASSERT_TRUE(created.ok()) << created.status();
    auto again = EnsurePartitions(*conn, 3);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0) << "creating partitions is idempotent";
    // An event can be stored in the current month's partition.
    auto c2 = db_->Connect();
    pqxx::work tx(*c2);
    tx.exec("INSERT INTO accounts (name) VALUES ('a')");
    tx.exec(
        "INSERT INTO bounce_events (account_id, kind, reason, disposition) "
        "SELECT id, 'dsn', 'userunknown', 'hard' FROM accounts");
    tx.commit();
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events"), 1);
}

TEST_F(MigrationsTest, SecondRunIsANoOp) {
    auto conn = Conn();
    auto first = Migrate(*conn, Sample());
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->applied.size(), 2u);
    auto second = Migrate(*conn, Sample());
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(second->applied.empty());
    EXPECT_EQ(second->schema_version, 2);
    EXPECT_EQ(Count("SELECT count(*) FROM t2"), 1) << "the data migration ran once";
}

TEST_F(MigrationsTest, OnlyNewMigrationsRun) {
    auto conn = Conn();
    std::vector<Migration> one = Sample();
    one.pop_back();
    ASSERT_TRUE(Migrate(*conn, one).ok());
    auto report = Migrate(*conn, Sample());
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->applied.size(), 1u);
    EXPECT_EQ(report->applied[0], "0002_second.sql");
}

TEST_F(MigrationsTest, EditedAppliedMigrationIsRefused) {
    auto conn = Conn();
    ASSERT_TRUE(Migrate(*conn, Sample()).ok());
    auto tampered = ParseMigrations({{"0001_first.sql", "CREATE TABLE t1 (id bigint);"},
                                     {"0002_second.sql", "CREATE TABLE t2 (id int); INSERT INTO t2 VALUES (1);"},
                                     {"0003_third.sql", "CREATE TABLE t3 (id int);"}});
    ASSERT_TRUE(tampered.ok());
    auto report = Migrate(*conn, *tampered);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(report.status().message()).find("0001_first.sql was changed"), std::string::npos)
        << report.status();
    EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 't3'"), 0) << "nothing after the refusal ran";
    // The lock was released: a correct run afterwards works on the same connection.
    auto ok = Migrate(*conn, Sample());
    EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(MigrationsTest, FailingMigrationLeavesNothingHalfApplied) {
    auto conn = Conn();
    auto bad = ParseMigrations({{"0001_first.sql", "CREATE TABLE t1 (id int);"},
                                {"0002_broken.sql", "CREATE TABLE t2 (id int); SELECT no_such_function();"}});
    ASSERT_TRUE(bad.ok());
    auto report = Migrate(*conn, *bad);
    ASSERT_FALSE(report.ok());
    EXPECT_NE(std::string(report.status().message()).find("0002_broken.sql"), std::string::npos) << report.status();
    EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations"), 1);
    EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 't2'"), 0) << "the failed file rolled back whole";
}

TEST_F(MigrationsTest, ConcurrentRunnersApplyEachMigrationOnce) {
    // A slow migration, so the runners really overlap.
    auto slow = ParseMigrations({{"0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE t1 (id int);"},
                                 {"0002_count.sql", "CREATE TABLE t2 (id int); INSERT INTO t2 VALUES (1);"}});
    ASSERT_TRUE(slow.ok());
    constexpr int kRunners = 4;
    std::vector<absl::StatusOr<MigrationReport>> results(kRunners, absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < kRunners; ++i) {
        threads.emplace_back([&, i] {
            auto conn = Connect(db_->url());
            if (!conn.ok()) {
                results[i] = conn.status();
                return;
            }
            results[i] = Migrate(**conn, *slow);
        });
    }
    for (auto& t : threads)
        t.join();
    std::size_t applied = 0;
    for (const auto& r : results) {
        ASSERT_TRUE(r.ok()) << r.status();
        applied += r->applied.size();
        EXPECT_EQ(r->schema_version, 2);
    }
    EXPECT_EQ(applied, 2u) << "each migration applied by exactly one runner";
    EXPECT_EQ(Count("SELECT count(*) FROM t2"), 1);
}

TEST_F(MigrationsTest, ReportsVersionsUnknownToThisBuild) {
    auto conn = Conn();
    ASSERT_TRUE(Migrate(*conn, Sample()).ok());
    std::vector<Migration> older = Sample();
    older.pop_back();
    auto report = Migrate(*conn, older);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->unknown_versions.size(), 1u);
    EXPECT_EQ(report->unknown_versions[0], 2);
}

TEST_F(MigrationsTest, UnreachableDatabaseIsUnavailable) {
    auto conn = Connect("host=127.0.0.1 port=1 dbname=x connect_timeout=2");
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable) << conn.status();
}

}  // namespace
}  // namespace rebound::storage
