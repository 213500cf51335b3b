// Retention drops whole monthly partitions past their age, and nothing younger.

#include <gtest/gtest.h>

#include "storage/database.h"
#include "storage/migrations.h"
#include "tests/support/pg_test.h"

namespace rebound::storage {
namespace {

class RetentionTest : public testing::PgTest {};

TEST_F(RetentionTest, DropsOnlyPartitionsOlderThanTheirRetention) {
    auto conn = db().Connect();
    {
        pqxx::work tx(*conn);
        // Partitions for a month 200 days back and one 500 days back, with a row each.
        tx.exec("SELECT rebound_ensure_monthly_partitions('raw_messages', now() - interval '500 days', 1)");
        tx.exec("SELECT rebound_ensure_monthly_partitions('raw_messages', now() - interval '200 days', 1)");
        tx.exec("SELECT rebound_ensure_monthly_partitions('bounce_events', now() - interval '500 days', 1)");
        tx.exec("SELECT rebound_ensure_monthly_partitions('bounce_events', now() - interval '200 days', 1)");
        tx.exec("INSERT INTO accounts (name) VALUES ('r')");
        for (const char* age : {"500 days", "200 days", "1 day"}) {
            tx.exec(std::string("INSERT INTO raw_messages (received_at, sha256, size_bytes, mail_from, rcpt_to, "
                                "parse_state, content) VALUES (now() - interval '") +
                    age + "', sha256('" + age + "'), 1, '', '{a@b}', 'empty', 'x')");
            tx.exec(std::string("INSERT INTO bounce_events (received_at, account_id, kind, reason, disposition) "
                                "SELECT now() - interval '") +
                    age + "', id, 'dsn', 'userunknown', 'hard' FROM accounts");
            tx.exec(std::string("INSERT INTO message_digests VALUES (sha256('") + age + "'), 1, now() - interval '" +
                    age + "')");
        }
        tx.commit();
    }
    auto prepared = Connect(db().url());  // with storage/sql prepared
    ASSERT_TRUE(prepared.ok());
    auto report = ApplyRetention(**prepared, 90, 400);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->dropped.size(), 3u) << "raw: the 500- and 200-day months; events: the 500-day month";
    pqxx::nontransaction tx(*conn);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM raw_messages")[0].as<int>(), 1);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM bounce_events")[0].as<int>(), 2);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM message_digests")[0].as<int>(), 1);
    // The current months are untouched and the next run drops nothing.
    auto again = ApplyRetention(**prepared, 90, 400);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->dropped.empty());
    EXPECT_FALSE(ApplyRetention(**prepared, 0, 400).ok()) << "a zero retention is refused";
}

// Partitions take the column compression of their parent (raw content is LZ4, which cost a
// third of pglz's CPU when storing): those made by the migrations and those made later.
TEST_F(RetentionTest, PartitionsCompressRawContentWithLz4) {
    auto conn = db().Connect();
    pqxx::work tx(*conn);
    tx.exec("SELECT rebound_ensure_monthly_partitions('raw_messages', now() + interval '400 days', 1)");
    pqxx::result parts = tx.exec(
        "SELECT c.relname, a.attcompression FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'content' "
        "WHERE i.inhparent = 'raw_messages'::regclass");
    ASSERT_GE(parts.size(), 5u) << "four from the migrations, one made here";
    for (const auto& row : parts)
        EXPECT_EQ(row[1].as<std::string>(), "l") << row[0].as<std::string>();
    // A stored value is compressed with it (large enough to be compressed, compressible).
    for (const char* when : {"now()", "now() + interval '400 days'"}) {
        tx.exec(std::string("INSERT INTO raw_messages (received_at, sha256, size_bytes, mail_from, rcpt_to, "
                            "parse_state, content) VALUES (") +
                when + ", sha256(convert_to(" + tx.quote(when) +
                ", 'UTF8')), 8192, '', '{a@b}', 'empty', convert_to(repeat('bounce ', 1200), 'UTF8'))");
    }
    pqxx::result methods = tx.exec("SELECT pg_column_compression(content) FROM raw_messages");
    ASSERT_EQ(methods.size(), 2u);
    for (const auto& row : methods)
        EXPECT_EQ(row[0].as<std::string>(), "lz4");
}

}  // namespace
}  // namespace rebound::storage
