// The mailing statistics rollups (migration 0008) against the truth computed from the events
// themselves, through every way events change: batch inserts, single inserts, updates,
// deletes, and compaction of the delta rows.

#include <gtest/gtest.h>

#include <random>

#include "storage/database.h"
#include "storage/migrations.h"
#include "tests/support/pg_test.h"

namespace rebound::storage {
namespace {

class RollupsTest : public testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        conn_ = db().Connect();
        pqxx::work tx(*conn_);
        account_ = tx.exec1("INSERT INTO accounts (name) VALUES ('rollups') RETURNING id")[0].as<std::int64_t>();
        tx.commit();
    }

    void Exec(const std::string& sql) {
        pqxx::work tx(*conn_);
        tx.exec(sql);
        tx.commit();
    }

    // Rollup rows and the same figures aggregated from bounce_events, as text for comparison.
    std::pair<std::string, std::string> Counts() {
        pqxx::nontransaction tx(*conn_);
        const std::string a = std::to_string(account_);
        const std::string rollup =
            tx.exec1(
                  "SELECT coalesce(string_agg(format('%s/%s/%s/%s=%s', mailing_id, disposition, reason, bounce_class, "
                  "n), ' ' "
                  "ORDER BY mailing_id, disposition, reason, bounce_class), '') FROM (SELECT mailing_id, disposition, "
                  "reason, "
                  "bounce_class, sum(events) AS n FROM mailing_event_counts WHERE account_id = " +
                  a + " GROUP BY 1, 2, 3, 4 HAVING sum(events) <> 0) t")[0]
                .as<std::string>();
        const std::string truth = tx.exec1(
                                        "SELECT coalesce(string_agg(format('%s/%s/%s/%s=%s', mailing_id, disposition, "
                                        "reason, bounce_class, n), ' ' "
                                        "ORDER BY mailing_id, disposition, reason, bounce_class), '') FROM (SELECT "
                                        "mailing_id, disposition, reason, "
                                        "bounce_class, count(*) AS n FROM bounce_events WHERE account_id = " +
                                        a + " AND mailing_id IS NOT NULL GROUP BY 1, 2, 3, 4) t")[0]
                                      .as<std::string>();
        return {rollup, truth};
    }

    std::pair<std::string, std::string> Recipients() {
        pqxx::nontransaction tx(*conn_);
        const std::string a = std::to_string(account_);
        const std::string rollup =
            tx.exec1(
                  "SELECT coalesce(string_agg(format('%s:%s/%s', mailing_id, b, c), ' ' ORDER BY mailing_id), '') FROM "
                  "(SELECT mailing_id, sum(bounced) AS b, sum(complained) AS c FROM mailing_recipient_counts WHERE "
                  "account_id = " +
                  a + " GROUP BY 1 HAVING sum(bounced) <> 0 OR sum(complained) <> 0) t")[0]
                .as<std::string>();
        const std::string truth =
            tx.exec1(
                  "SELECT coalesce(string_agg(format('%s:%s/%s', mailing_id, b, c), ' ' ORDER BY mailing_id), '') FROM "
                  "(SELECT mailing_id, count(DISTINCT recipient_id) FILTER (WHERE disposition IN ('hard', 'soft', "
                  "'block')) AS b, count(DISTINCT recipient_id) FILTER (WHERE disposition = 'complaint') AS c FROM "
                  "bounce_events WHERE account_id = " +
                  a +
                  " AND mailing_id IS NOT NULL GROUP BY 1 HAVING "
                  "count(DISTINCT recipient_id) FILTER (WHERE disposition IN ('hard', 'soft', 'block', 'complaint')) > "
                  "0) t")[0]
                .as<std::string>();
        return {rollup, truth};
    }

    void ExpectConsistent(const std::string& after) {
        const auto [counts, counts_truth] = Counts();
        EXPECT_EQ(counts, counts_truth) << "event counts after " << after;
        const auto [recipients, recipients_truth] = Recipients();
        EXPECT_EQ(recipients, recipients_truth) << "distinct recipients after " << after;
    }

    std::unique_ptr<pqxx::connection> conn_;
    std::int64_t account_ = 0;
};

const char* const kDispositions[] = {"hard", "soft", "block", "complaint", "auto_reply", "delayed"};

TEST_F(RollupsTest, FollowInsertsUpdatesAndDeletesAndSurviveCompaction) {
    std::mt19937 rng(7);
    const std::string a = std::to_string(account_);
    auto values = [&](int n) {
        std::string v;
        for (int i = 0; i < n; ++i) {
            const char* d = kDispositions[rng() % std::size(kDispositions)];
            const std::string mailing = rng() % 8 == 0 ? "NULL" : std::to_string(rng() % 3);
            const std::string recipient = rng() % 10 == 0 ? "NULL" : std::to_string(rng() % 20);
            v += (i ? "," : "") + std::string("(") + a + ", " + mailing + ", " + recipient + ", 'dsn', 'r" +
                 std::to_string(rng() % 2) + "', '" + d + "', " + std::to_string(10 * (1 + rng() % 3)) + ")";
        }
        return v;
    };
    const std::string columns =
        "INSERT INTO bounce_events (account_id, mailing_id, recipient_id, kind, reason, "
        "disposition, bounce_class) VALUES ";
    ExpectConsistent("nothing");
    for (int round = 0; round < 30; ++round) {
        switch (rng() % 5) {
            case 0:
            case 1:
                Exec(columns + values(1 + static_cast<int>(rng() % 40)));
                ExpectConsistent("a batch insert");
                break;
            case 2:
                Exec("UPDATE bounce_events SET disposition = '" +
                     std::string(kDispositions[rng() % std::size(kDispositions)]) + "' WHERE account_id = " + a +
                     " AND id % 5 = " + std::to_string(rng() % 5));
                ExpectConsistent("an update");
                break;
            case 3:
                Exec("DELETE FROM bounce_events WHERE account_id = " + a +
                     " AND id % 7 = " + std::to_string(rng() % 7));
                ExpectConsistent("a delete");
                break;
            case 4: {
                // Delete and insert again in one transaction, as reprocessing does.
                pqxx::work tx(*conn_);
                tx.exec("DELETE FROM bounce_events WHERE account_id = " + a +
                        " AND recipient_id = " + std::to_string(rng() % 20));
                tx.exec(columns + values(3));
                tx.commit();
                ExpectConsistent("a replace");
                break;
            }
        }
    }
    auto prepared = Connect(db().url());
    ASSERT_TRUE(prepared.ok());
    {
        pqxx::nontransaction tx(*conn_);
        auto rows = [&] {
            return tx
                .exec1(
                    "SELECT (SELECT count(*) FROM mailing_event_counts) + (SELECT count(*) FROM "
                    "mailing_recipient_counts)")[0]
                .as<std::int64_t>();
        };
        const std::int64_t rows_before = rows();
        auto folded = CompactMailingRollups(**prepared, 0);
        ASSERT_TRUE(folded.ok()) << folded.status();
        EXPECT_GT(*folded, 0);
        EXPECT_EQ(*folded, rows_before - rows()) << "it reports the rows it removed from both tables";
        EXPECT_EQ(tx.exec1("SELECT count(*) FROM (SELECT account_id, mailing_id, disposition, reason, bounce_class "
                           "FROM mailing_event_counts GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1) t")[0]
                      .as<int>(),
                  0)
            << "one row per key after compaction";
    }
    ExpectConsistent("compaction");
    auto again = CompactMailingRollups(**prepared, 0);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0) << "nothing left to fold";
}

TEST_F(RollupsTest, ARecipientCountsOnceAndIsWithdrawnWithItsLastBounce) {
    const std::string a = std::to_string(account_);
    const std::string insert =
        "INSERT INTO bounce_events (account_id, mailing_id, recipient_id, kind, reason, "
        "disposition, bounce_class) VALUES ";
    Exec(insert + "(" + a + ", 5, 1, 'dsn', 'userunknown', 'hard', 10), (" + a +
         ", 5, 1, 'dsn', 'mailboxfull', 'soft', 22)");
    Exec(insert + "(" + a + ", 5, 1, 'dsn', 'blocked', 'block', 50)");
    EXPECT_EQ(Recipients().first, "5:1/0") << "three bounces of one recipient count once";
    Exec("DELETE FROM bounce_events WHERE account_id = " + a + " AND disposition IN ('hard', 'soft')");
    EXPECT_EQ(Recipients().first, "5:1/0") << "the block still counts";
    Exec("UPDATE bounce_events SET disposition = 'auto_reply' WHERE account_id = " + a);
    EXPECT_EQ(Recipients().first, "") << "no bounce left";
    ExpectConsistent("the changes");
}

}  // namespace
}  // namespace rebound::storage
