// StoreMessages: a whole group commit in one call (rebound_store_batch), with deduplication
// inside the batch and against earlier batches, events per message, and the suppression
// policy applied event by event in order. And the event feed's durability horizon, which
// holds back what a writer committed without waiting for the flush.

#include "storage/message_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "storage/database.h"
#include "storage/event_store.h"
#include "tests/support/pg_test.h"

namespace rebound::storage {
namespace {

class MessageStoreTest : public testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        // One account per test (the suite shares a database when its tests run in one process).
        account_ = tx.exec_params1("INSERT INTO accounts (name) VALUES ($1) RETURNING id",
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name())[0]
                       .as<std::int64_t>();
        tx.commit();
        auto prepared = ConnectForIngest(db().url(), /*synchronous=*/true);  // as a writer without pipelined_flush
        ASSERT_TRUE(prepared.ok()) << prepared.status();
        conn_ = std::move(*prepared);
        pqxx::nontransaction check(*conn_);
        ASSERT_EQ(check.exec1("SHOW plan_cache_mode")[0].as<std::string>(), "force_generic_plan");
    }

    MessageRow Message(unsigned char id, std::string content) const {
        MessageRow m;
        m.digest.fill(id);
        m.digest[0] = static_cast<unsigned char>(account_);  // distinct per test
        m.mail_from = "";
        m.rcpt_to = {"a@feedback.store.test", "b@feedback.store.test"};
        m.client_address = "127.0.0.1";
        m.helo = "mx.test";
        m.parse_state = "parsed";
        m.rules_version = "test";
        m.content = std::move(content);
        return m;
    }

    EventRow Event(std::string recipient, std::string disposition, int bounce_class) const {
        EventRow e;
        e.account_id = account_;
        e.mailing_id = 0xFFFFFFFFFFFFFFFFull;  // bit-for-bit in bigint
        e.recipient_id = 7;
        e.token_issued_on = "2026-11-01";
        e.recipient = std::move(recipient);
        e.recipient_domain = "example.org";
        e.kind = "dsn";
        e.status = "5.1.1";
        e.reply_code = 550;
        e.reason = disposition == "soft" ? "mailboxfull" : "userunknown";
        e.hard_bounce = disposition == "hard";
        e.bounce_class = bounce_class;
        e.disposition = std::move(disposition);
        e.diagnostic = "550 5.1.1 \"quoted\" \\ back\tslash, ünïcödé";
        e.rule_id = "test.rule";
        e.rules_version = "test";
        return e;
    }

    std::int64_t Count(const std::string& sql) const {
        pqxx::nontransaction tx(*conn_);
        return tx.exec1(sql)[0].as<std::int64_t>();
    }

    // How often conn_ ran the prepared statement `name` (every run is a generic plan there).
    std::int64_t Runs(const std::string& name) const {
        pqxx::nontransaction tx(*conn_);
        const pqxx::result r =
            tx.exec_params("SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE name = $1", name);
        return r.empty() ? 0 : r[0][0].as<std::int64_t>();
    }

    std::int64_t account_ = 0;
    std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(MessageStoreTest, StoresABatchWithItsEventsAndReportsEachMessage) {
    std::vector<MessageRow> batch;
    batch.push_back(Message(1, std::string("first\0with NUL and \xff bytes", 26)));
    batch.back().events.push_back(Event("x@example.org", "hard", 10));
    batch.back().events.push_back(Event("y@example.org", "block", 50));
    batch.push_back(Message(2, "second, no events"));
    batch.back().parse_state = "empty";
    batch.back().client_address.clear();  // unknown: NULL
    auto stored = StoreMessages(*conn_, batch);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(stored->size(), 2u);
    EXPECT_FALSE((*stored)[0].duplicate);
    EXPECT_EQ((*stored)[0].events, 2);
    EXPECT_EQ((*stored)[0].suppressed, 1) << "the hard bounce suppresses, the block does not";
    EXPECT_EQ((*stored)[1].events, 0);
    EXPECT_NE((*stored)[0].raw_message_id, (*stored)[1].raw_message_id);

    pqxx::nontransaction tx(*conn_);
    const pqxx::row raw = tx.exec_params1(
        "SELECT content, rcpt_to::text, client_address IS NULL, size_bytes FROM raw_messages WHERE id = $1",
        (*stored)[0].raw_message_id);
    EXPECT_EQ(pqxx::binarystring(raw[0]).str(), batch[0].content) << "raw bytes kept exactly";
    EXPECT_EQ(raw[1].as<std::string>(), "{a@feedback.store.test,b@feedback.store.test}");
    EXPECT_FALSE(raw[2].as<bool>());
    EXPECT_EQ(raw[3].as<int>(), 26);
    EXPECT_EQ(pqxx::binarystring(
                  tx.exec_params1("SELECT content FROM raw_messages WHERE id = $1", (*stored)[1].raw_message_id)[0])
                  .str(),
              "second, no events");
    const pqxx::row ev = tx.exec_params1(
        "SELECT mailing_id, diagnostic, reply_code, token_issued_on::text, disposition FROM bounce_events "
        "WHERE raw_message_id = $1 ORDER BY id LIMIT 1",
        (*stored)[0].raw_message_id);
    EXPECT_EQ(ev[0].as<std::int64_t>(), -1);
    EXPECT_EQ(ev[1].as<std::string>(), batch[0].events[0].diagnostic);
    EXPECT_EQ(ev[2].as<int>(), 550);
    EXPECT_EQ(ev[3].as<std::string>(), "2026-11-01");
    EXPECT_EQ(ev[4].as<std::string>(), "hard") << "events keep their order";
}

TEST_F(MessageStoreTest, ADigestSeenBeforeOrTwiceInOneBatchIsStoredOnce) {
    MessageRow m = Message(3, "retried");
    m.events.push_back(Event("r@example.org", "hard", 10));
    auto first = StoreMessages(*conn_, {m});
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_FALSE((*first)[0].duplicate);

    // The retry, a new message, and the new message again in the same batch.
    MessageRow other = Message(4, "new");
    other.events.push_back(Event("s@example.org", "soft", 22));
    auto second = StoreMessages(*conn_, {m, other, other});
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE((*second)[0].duplicate);
    EXPECT_EQ((*second)[0].raw_message_id, (*first)[0].raw_message_id);
    EXPECT_EQ((*second)[0].events, 0);
    EXPECT_FALSE((*second)[1].duplicate);
    EXPECT_EQ((*second)[1].events, 1);
    EXPECT_TRUE((*second)[2].duplicate);
    EXPECT_EQ((*second)[2].raw_message_id, (*second)[1].raw_message_id);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE content IN ('retried', 'new')"), 2);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE recipient IN ('r@example.org', 's@example.org')"), 2);
}

// A batch without events (messages that are not bounces, or that nothing could be read from)
// is stored by ingest_store_raw, one plain statement, instead of rebound_store_batch.
TEST_F(MessageStoreTest, ABatchWithoutEventsIsStoredByOneStatementInItsOrder) {
    std::vector<MessageRow> batch;
    batch.push_back(Message(40, std::string("raw\0one", 7)));
    batch.push_back(Message(41, "raw two"));
    batch.back().parse_state = "unparsed";
    batch.back().parse_error = "no part could be read";
    batch.back().client_address.clear();
    batch.push_back(Message(42, "raw three"));
    batch.back().parse_state = "empty";
    const std::int64_t raw_runs = Runs("ingest_store_raw");
    const std::int64_t function_runs = Runs("ingest_store_batch");
    auto stored = StoreMessages(*conn_, batch);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(Runs("ingest_store_raw"), raw_runs + 1);
    EXPECT_EQ(Runs("ingest_store_batch"), function_runs) << "not through rebound_store_batch";
    ASSERT_EQ(stored->size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_FALSE((*stored)[i].duplicate) << i;
        EXPECT_EQ((*stored)[i].events, 0) << i;
        EXPECT_EQ((*stored)[i].suppressed, 0) << i;
        if (i > 0) {
            EXPECT_GT((*stored)[i].raw_message_id, (*stored)[i - 1].raw_message_id) << "ids in batch order";
        }
    }
    pqxx::nontransaction tx(*conn_);
    for (std::size_t i = 0; i < 3; ++i) {
        const pqxx::row r = tx.exec_params1(
            "SELECT content, sha256, parse_state, coalesce(parse_error, ''), client_address IS NULL, rcpt_to::text, "
            "size_bytes FROM raw_messages WHERE id = $1",
            (*stored)[i].raw_message_id);
        EXPECT_EQ(pqxx::binarystring(r[0]).str(), batch[i].content) << i;
        EXPECT_EQ(pqxx::binarystring(r[1]).str(), std::string(batch[i].digest.begin(), batch[i].digest.end())) << i;
        EXPECT_EQ(r[2].as<std::string>(), batch[i].parse_state) << i;
        EXPECT_EQ(r[3].as<std::string>(), batch[i].parse_error) << i;
        EXPECT_EQ(r[4].as<bool>(), batch[i].client_address.empty()) << i;
        EXPECT_EQ(r[5].as<std::string>(), "{a@feedback.store.test,b@feedback.store.test}") << i;
        EXPECT_EQ(r[6].as<std::size_t>(), batch[i].content.size()) << i;
        EXPECT_EQ(tx.exec_params1("SELECT raw_message_id FROM message_digests WHERE sha256 = $1",
                                  pqxx::binarystring(batch[i].digest.data(), batch[i].digest.size()))[0]
                      .as<std::int64_t>(),
                  (*stored)[i].raw_message_id)
            << i;
    }
}

TEST_F(MessageStoreTest, WithoutEventsAMessageStoredBeforeIsADuplicateOfIt) {
    MessageRow first = Message(43, "first delivery");
    first.events.push_back(Event("t@example.org", "hard", 10));
    auto with_event = StoreMessages(*conn_, {first});  // through rebound_store_batch
    ASSERT_TRUE(with_event.ok()) << with_event.status();
    MessageRow again = Message(44, "stored raw, then retried");
    auto once = StoreMessages(*conn_, {again});
    ASSERT_TRUE(once.ok()) << once.status();

    // Retries of both (the first now without its event: nothing new is stored for it) around
    // a new message.
    first.events.clear();
    const std::int64_t raw_runs = Runs("ingest_store_raw");
    auto retried = StoreMessages(*conn_, {first, Message(45, "new"), again});
    ASSERT_TRUE(retried.ok()) << retried.status();
    EXPECT_EQ(Runs("ingest_store_raw"), raw_runs + 1);
    EXPECT_TRUE((*retried)[0].duplicate);
    EXPECT_EQ((*retried)[0].raw_message_id, (*with_event)[0].raw_message_id);
    EXPECT_FALSE((*retried)[1].duplicate);
    EXPECT_TRUE((*retried)[2].duplicate);
    EXPECT_EQ((*retried)[2].raw_message_id, (*once)[0].raw_message_id);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE content IN ('first delivery', 'new', "
                    "'stored raw, then retried')"),
              3);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE recipient = 't@example.org'"), 1);

    // The same digest twice in one batch goes through rebound_store_batch, which stores it once.
    const std::int64_t function_runs = Runs("ingest_store_batch");
    MessageRow twice = Message(46, "twice in one batch");
    auto both = StoreMessages(*conn_, {twice, twice});
    ASSERT_TRUE(both.ok()) << both.status();
    EXPECT_EQ(Runs("ingest_store_batch"), function_runs + 1);
    EXPECT_FALSE((*both)[0].duplicate);
    EXPECT_TRUE((*both)[1].duplicate);
    EXPECT_EQ((*both)[1].raw_message_id, (*both)[0].raw_message_id);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE content = 'twice in one batch'"), 1);
}

TEST_F(MessageStoreTest, WithoutEventsARefusedMessageRollsBackTheWholeBatch) {
    MessageRow good = Message(47, "good, raw");
    MessageRow bad = Message(48, "bad, raw");
    bad.parse_state = "not-a-state";  // violates the CHECK constraint
    auto stored = StoreMessages(*conn_, {good, bad});
    ASSERT_FALSE(stored.ok());
    EXPECT_NE(stored.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE content IN ('good, raw', 'bad, raw')"), 0);
    auto retry = StoreMessages(*conn_, {good});
    ASSERT_TRUE(retry.ok()) << retry.status();
    EXPECT_FALSE((*retry)[0].duplicate) << "the rolled-back claim left no digest behind";
}

// Another transaction claims the digest first and commits while the insert waits for it: the
// message is that transaction's duplicate, and the lookup after the insert finds its id.
TEST_F(MessageStoreTest, WithoutEventsAClaimCommittedWhileTheBatchWaitedIsFound) {
    MessageRow m = Message(49, "claimed elsewhere");
    auto other = db().Connect();
    pqxx::work claim(*other);
    claim.exec_params("INSERT INTO message_digests (sha256, raw_message_id, received_at) VALUES ($1, 987654321, now())",
                      pqxx::binarystring(m.digest.data(), m.digest.size()));
    const int writer_pid = conn_->backendpid();
    std::optional<absl::StatusOr<std::vector<StoredMessage>>> stored;
    std::thread writer([&] { stored = StoreMessages(*conn_, {m}); });
    // The insert waits on the uncommitted claim (a lock wait), then the claim commits. Watched
    // from a third connection: conn_ is the writer thread's now.
    auto watch = db().Connect();
    bool waiting = false;
    for (int i = 0; i < 500 && !waiting; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        pqxx::nontransaction tx(*watch);
        waiting = tx.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                                  writer_pid)[0]
                      .as<int>() > 0;
    }
    claim.commit();
    writer.join();
    EXPECT_TRUE(waiting) << "the insert never waited on the claim";
    ASSERT_TRUE(stored.has_value());
    ASSERT_TRUE(stored->ok()) << stored->status();
    EXPECT_TRUE((**stored)[0].duplicate);
    EXPECT_EQ((**stored)[0].raw_message_id, 987654321);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE content = 'claimed elsewhere'"), 0);
}

TEST_F(MessageStoreTest, SoftBouncesInOneBatchCountTowardsTheThreshold) {
    // Three soft bounces for one recipient arrive in the same group commit: the policy
    // (3 within 30 days) suppresses the recipient once.
    std::vector<MessageRow> batch;
    for (unsigned char i = 10; i < 13; ++i) {
        batch.push_back(Message(i, "soft " + std::to_string(i)));
        batch.back().events.push_back(Event("Full@Example.org", "soft", 22));
    }
    auto stored = StoreMessages(*conn_, batch);
    ASSERT_TRUE(stored.ok()) << stored.status();
    int suppressed = 0;
    for (const auto& s : *stored)
        suppressed += s.suppressed;
    EXPECT_EQ(suppressed, 1);
    EXPECT_EQ(Count("SELECT count(*) FROM suppressions WHERE address = 'full@example.org' AND cause = 'soft_bounce'"),
              1);
    EXPECT_EQ(Count("SELECT count(*) FROM suppression_history WHERE address = 'full@example.org'"), 1);
}

TEST_F(MessageStoreTest, ARefusedEventRollsBackTheWholeBatch) {
    MessageRow good = Message(20, "good");
    MessageRow bad = Message(21, "bad");
    bad.events.push_back(Event("z@example.org", "hard", 10));
    bad.events.back().kind = "not-a-kind";  // violates the CHECK constraint
    auto stored = StoreMessages(*conn_, {good, bad});
    ASSERT_FALSE(stored.ok());
    EXPECT_NE(stored.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE content IN ('good', 'bad')"), 0) << "nothing half-written";
    auto retry = StoreMessages(*conn_, {good});
    ASSERT_TRUE(retry.ok()) << retry.status();
    EXPECT_FALSE((*retry)[0].duplicate) << "the rolled-back claim left no digest behind";
}

// Events, suppressions and their history name their account without a foreign key (0010):
// what keeps those rows valid is that an account cannot be deleted.
TEST_F(MessageStoreTest, AnAccountWithEventsCannotBeDeleted) {
    MessageRow m = Message(30, "kept");
    m.events.push_back(Event("kept@example.org", "hard", 10));
    ASSERT_TRUE(StoreMessages(*conn_, {m}).ok());
    auto conn = db().Connect();
    pqxx::nontransaction tx(*conn);
    try {
        tx.exec0("DELETE FROM accounts WHERE id = " + std::to_string(account_));
        ADD_FAILURE() << "the account was deleted";
    } catch (const pqxx::sql_error& e) {
        EXPECT_EQ(e.sqlstate(), "23001") << e.what();
        EXPECT_NE(std::string(e.what()).find("disabled"), std::string::npos) << e.what();
    }
    EXPECT_EQ(Count("SELECT count(*) FROM accounts WHERE id = " + std::to_string(account_)), 1);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE account_id = " + std::to_string(account_)), 1);
    EXPECT_EQ(Count("SELECT count(*) FROM suppressions WHERE account_id = " + std::to_string(account_)), 1);
}

TEST_F(MessageStoreTest, AnEmptyBatchStoresNothing) {
    auto stored = StoreMessages(*conn_, {});
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_TRUE(stored->empty());
}

// The feed's durability horizon (migrations/0011): a batch committed with synchronous_commit =
// off is visible at once but not yet durable, and the feed must not serve it until a
// synchronous commit has moved the horizon past it.
class FeedHorizonTest : public MessageStoreTest {
  protected:
    // The raw feed query, without FeedAfter's moving of the horizon.
    std::int64_t Served() const {
        pqxx::nontransaction tx(*conn_);
        return static_cast<std::int64_t>(tx.exec_prepared("feed_after", account_, "0", 0, 100).size());
    }
    bool Held() const {
        pqxx::nontransaction tx(*conn_);
        return tx.exec_prepared1("feed_held", account_, "0", 0)[0].as<bool>();
    }
    std::string Horizon() const {
        pqxx::nontransaction tx(*conn_);
        return tx.exec1("SELECT horizon::text FROM ingest_flush_horizon")[0].as<std::string>();
    }
    std::string StoreAsync(unsigned char id, const std::string& recipient) {
        auto writer = ConnectForIngest(db().url(), /*synchronous=*/false);
        EXPECT_TRUE(writer.ok()) << writer.status();
        MessageRow m = Message(id, recipient);
        m.events.push_back(Event(recipient, "hard", 10));
        auto stored = StoreMessages(**writer, {m});
        EXPECT_TRUE(stored.ok()) << stored.status();
        pqxx::nontransaction tx(**writer);
        return tx
            .exec1("SELECT txid::text FROM bounce_events WHERE account_id = " + std::to_string(account_) +
                   " ORDER BY id DESC LIMIT 1")[0]
            .as<std::string>();
    }
    static std::int64_t Xid(const std::string& s) { return std::stoll(s); }
    bool young_ = false;
    // The snapshot xmin is the cluster's: a transaction of a suite running beside this one
    // holds it back for a moment. Waits until every transaction up to `txid` has ended, and
    // sets young_ when that took so little time that the event is still clearly younger than
    // the 250 ms after which a feed reader moves the horizon itself (the usual case; a suite
    // beside this one holding a transaction open can make it older).
    void WaitForXminPast(const std::string& txid) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 1000; ++i) {
            pqxx::nontransaction tx(*conn_);
            if (tx.exec1("SELECT pg_snapshot_xmin(pg_current_snapshot()) > '" + txid + "'::xid8")[0].as<bool>()) {
                young_ = std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100);
                RecordProperty("young", young_ ? "yes" : "no");
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ADD_FAILURE() << "transactions older than " << txid << " still running after 10 s";
    }
};

TEST_F(FeedHorizonTest, AnAsynchronousCommitIsServedOnlyOnceTheHorizonPassesIt) {
    const std::string txid = StoreAsync(40, "async@example.org");
    WaitForXminPast(txid);
    EXPECT_LE(Xid(Horizon()), Xid(txid));
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE account_id = " + std::to_string(account_)), 1)
        << "visible to other sessions at once";
    EXPECT_EQ(Served(), 0) << "but not served by the feed";
    if (young_) {
        EXPECT_FALSE(Held()) << "young: left to the flusher";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(Held());

    // A flush confirmation makes it durable but does not move the horizon: still held.
    auto flusher = ConnectForIngest(db().url(), /*synchronous=*/true);
    ASSERT_TRUE(flusher.ok()) << flusher.status();
    ASSERT_TRUE(ConfirmFlush(**flusher).ok());
    EXPECT_EQ(Served(), 0);

    // The flusher's horizon move passes it.
    auto moved = AdvanceFlushHorizon(**flusher, /*session_synchronous=*/true);
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_GT(Xid(*moved), Xid(txid));
    EXPECT_EQ(*moved, Horizon());
    EXPECT_EQ(Served(), 1);
    EXPECT_FALSE(Held());
}

TEST_F(FeedHorizonTest, AFeedReaderMovesTheHorizonItselfWhenHeldBack) {
    const std::string txid = StoreAsync(41, "reader@example.org");
    WaitForXminPast(txid);
    ASSERT_EQ(Served(), 0);
    if (young_) {
        // A young event is left to the ingest flusher, which moves the horizon every 20 ms.
        auto young = FeedAfter(*conn_, account_, "0", 0, 100);
        ASSERT_TRUE(young.ok()) << young.status();
        EXPECT_TRUE(young->empty());
        EXPECT_LE(Xid(Horizon()), Xid(txid));
    }
    // Once it has waited 250 ms, the reader moves the horizon itself.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto events = FeedAfter(*conn_, account_, "0", 0, 100);
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].recipient, "reader@example.org");
    EXPECT_EQ((*events)[0].txid, txid);
    EXPECT_GT(Xid(Horizon()), Xid(txid));
    // Caught up: nothing held, nothing more, and the horizon stays.
    const std::string horizon = Horizon();
    auto more = FeedAfter(*conn_, account_, (*events)[0].txid, (*events)[0].id, 100);
    ASSERT_TRUE(more.ok()) << more.status();
    EXPECT_TRUE(more->empty());
    EXPECT_EQ(Horizon(), horizon) << "no synchronous write when nothing is held back";
}

TEST_F(FeedHorizonTest, TheStartOfFromNowOnIsDurableAndCurrent) {
    const std::string txid = StoreAsync(42, "before@example.org");
    WaitForXminPast(txid);
    auto pos = FeedPosition(*conn_);
    ASSERT_TRUE(pos.ok()) << pos.status();
    EXPECT_GT(Xid(*pos), Xid(txid)) << "the position moved the horizon past what had committed";
    EXPECT_LE(Xid(*pos), Xid(Horizon()));
    auto after = FeedAfter(*conn_, account_, *pos, 0, 100);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_TRUE(after->empty()) << "an event from before the start is not repeated";
}

TEST_F(FeedHorizonTest, TheHorizonNeverMovesBack) {
    {
        pqxx::nontransaction tx(*conn_);
        tx.exec0(
            "UPDATE ingest_flush_horizon SET horizon = (pg_snapshot_xmin(pg_current_snapshot())::text::bigint + "
            "1000000)::text::xid8");
    }
    const std::string high = Horizon();
    auto moved = AdvanceFlushHorizon(*conn_);
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_EQ(*moved, high);
    // The feed position is still bounded by the transactions that are running.
    auto pos = FeedPosition(*conn_);
    ASSERT_TRUE(pos.ok()) << pos.status();
    EXPECT_LT(Xid(*pos), Xid(high));
    pqxx::nontransaction tx(*conn_);
    tx.exec0("UPDATE ingest_flush_horizon SET horizon = pg_snapshot_xmin(pg_current_snapshot())");  // for the others
}

}  // namespace
}  // namespace rebound::storage
