// Parsing of migration file names and ordering: no database needed.

#include <gtest/gtest.h>

#include "storage/migrations.h"

namespace rebound::storage {
namespace {

TEST(ParseMigrationsTest, SortsByVersionAndChecksumsContent) {
    auto parsed = ParseMigrations({{"0002_b.sql", "SELECT 2;"}, {"0001_a.sql", "SELECT 1;"}});
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].version, 1);
    EXPECT_EQ((*parsed)[1].name, "0002_b.sql");
    // sha256("SELECT 1;")
    EXPECT_EQ((*parsed)[0].checksum, "17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a");
}

TEST(ParseMigrationsTest, RejectsBadNames) {
    for (const char* name : {"1.sql", "_a.sql", "0001_A.sql", "0001_a.txt", "x001_a.sql", "0000_a.sql", "0001_.sql"}) {
        auto parsed = ParseMigrations({{name, "SELECT 1;"}});
        EXPECT_FALSE(parsed.ok()) << name;
        EXPECT_NE(std::string(parsed.status().message()).find(name), std::string::npos) << parsed.status();
    }
}

TEST(ParseMigrationsTest, RejectsDuplicateVersions) {
    auto parsed = ParseMigrations({{"0001_a.sql", "SELECT 1;"}, {"001_b.sql", "SELECT 2;"}});
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(std::string(parsed.status().message()).find("same version"), std::string::npos);
}

TEST(ParseMigrationsTest, BuiltinMigrationsAreValidAndStartAtOne) {
    auto builtin = BuiltinMigrations();
    ASSERT_TRUE(builtin.ok()) << builtin.status();
    ASSERT_FALSE(builtin->empty());
    EXPECT_EQ(builtin->front().version, 1);
    for (std::size_t i = 0; i < builtin->size(); ++i) {
        EXPECT_EQ((*builtin)[i].version, static_cast<std::int64_t>(i + 1))
            << "migrations must be numbered without gaps";
    }
}

}  // namespace
}  // namespace rebound::storage
