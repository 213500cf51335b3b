#include "tests/support/pg_test.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "services/common/strings.h"
#include "storage/database.h"
#include "storage/migrations.h"

namespace rebound::testing {
namespace {

bool InCi() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

// Replaces (or appends) dbname=... in a key=value connection string.
std::string WithDatabase(const std::string& url, const std::string& name) {
    std::string out;
    for (std::string_view part : Split(url, ' ', /*skip_empty=*/true)) {
        if (part.starts_with("dbname=")) continue;
        StrAppend(&out, part, " ");
    }
    return StrCat(out, "dbname=", name);
}

}  // namespace

std::string AdminUrl() {
    if (const char* env = std::getenv("REBOUND_TEST_PG_URL"); env != nullptr && *env != '\0') return env;
    return REBOUND_TEST_PG_DEFAULT_URL;
}

std::string SourceDir() {
    return REBOUND_SOURCE_DIR;
}

std::unique_ptr<TestDatabase> TestDatabase::Create(bool migrate, std::string* error) {
    static std::atomic<int> counter{0};
    const std::string admin = AdminUrl();
    const std::string name = StrCat("rebound_test_", ::getpid(), "_", counter.fetch_add(1), "_", std::rand() % 100000);
    try {
        pqxx::connection conn(admin);
        pqxx::nontransaction tx(conn);
        tx.exec("CREATE DATABASE " + tx.quote_name(name));
    } catch (const std::exception& e) {
        *error = StrCat("cannot create a test database through \"", admin, "\": ", e.what());
        return nullptr;
    }
    std::unique_ptr<TestDatabase> db(new TestDatabase(admin, name, WithDatabase(admin, name)));
    if (migrate) {
        auto conn = storage::Connect(db->url());
        if (!conn.ok()) {
            *error = std::string(conn.status().message());
            return nullptr;
        }
        auto migrations = storage::BuiltinMigrations();
        if (!migrations.ok()) {
            *error = std::string(migrations.status().message());
            return nullptr;
        }
        auto report = storage::Migrate(**conn, *migrations);
        if (!report.ok()) {
            *error = std::string(report.status().message());
            return nullptr;
        }
    }
    return db;
}

TestDatabase::~TestDatabase() {
    try {
        pqxx::connection conn(admin_url_);
        pqxx::nontransaction tx(conn);
        tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "warning: could not drop test database %s: %s\n", name_.c_str(), e.what());
    }
}

std::unique_ptr<pqxx::connection> TestDatabase::Connect() const {
    return std::make_unique<pqxx::connection>(url_);
}

std::unique_ptr<TestDatabase> PgTest::database_;
std::string PgTest::error_;

void PgTest::SetUpTestSuite() {
    error_.clear();
    database_ = TestDatabase::Create(/*migrate=*/true, &error_);
}

void PgTest::TearDownTestSuite() {
    database_.reset();
}

void PgTest::SetUp() {
    if (database_ != nullptr) return;
    if (InCi()) FAIL() << "PostgreSQL is required under CI=true: " << error_;
    GTEST_SKIP() << "PostgreSQL not reachable (start it with ctest's pg fixture or tools/pg-local): " << error_;
}

}  // namespace rebound::testing
