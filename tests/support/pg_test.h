#pragma once
// A fresh PostgreSQL database per test suite, created from the test cluster that ctest's
// `pg` fixture starts (tools/pg-local), migrated, and dropped at the end of the suite.
//
// The cluster is found through REBOUND_TEST_PG_URL (an admin connection string to any
// database), else the build directory's own test cluster. When it cannot be reached the
// suite is skipped with a message — except under CI=true, where that is a failure.

#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>

namespace rebound::testing {

class TestDatabase {
  public:
    // Creates an empty database with a unique name; `migrate` applies the built-in migrations.
    static std::unique_ptr<TestDatabase> Create(bool migrate, std::string* error);
    ~TestDatabase();
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    const std::string& url() const { return url_; }
    const std::string& name() const { return name_; }
    std::unique_ptr<pqxx::connection> Connect() const;

  private:
    TestDatabase(std::string admin_url, std::string name, std::string url)
        : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
    std::string admin_url_;
    std::string name_;
    std::string url_;
};

// The admin connection string used by TestDatabase.
std::string AdminUrl();

// The repository's source folder (for fixtures, migrations, tools).
std::string SourceDir();

// Base fixture: one migrated database for the whole suite, reachable as db().
class PgTest : public ::testing::Test {
  public:
    static void SetUpTestSuite();
    static void TearDownTestSuite();

  protected:
    void SetUp() override;
    static TestDatabase& db() { return *database_; }

  private:
    static std::unique_ptr<TestDatabase> database_;
    static std::string error_;
};

}  // namespace rebound::testing
