// The SMTP server with the ingest layer against a real PostgreSQL, over loopback: what
// gets a 250 is in the database, attributed through its envelope token; what cannot be
// stored gets 451 and leaves nothing behind.

#include "services/ingest/ingest.h"

#include <gtest/gtest.h>

#include <ctime>
#include <thread>

#include "services/bounce/parser.h"
#include "services/envelope/day.h"
#include "services/ingest/reprocess.h"
#include "services/smtp/server.h"
#include "storage/database.h"
#include "tests/support/pg_test.h"
#include "tests/support/smtp_client.h"
#include "tests/support/threads.h"

namespace rebound::ingest {
namespace {

using testing::SmtpClient;
using testing::SmtpReply;

const std::string kMasterKey(64, '7');

// An RFC 3464 report about `recipient`, with the original's headers attached.
std::string Dsn(const std::string& recipient, const std::string& status = "5.1.1",
                const std::string& original_return_path = "sender@example.org", const std::string& tag = "1") {
    return "From: MAILER-DAEMON@mx.example.net\n"
           "To: bounces@feedback.acme.test\n"
           "Subject: Undelivered Mail Returned to Sender " +
           tag +
           "\n"
           "Message-ID: <dsn-" +
           tag +
           "@mx.example.net>\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"BOUND\"\n"
           "\n"
           "--BOUND\n"
           "Content-Type: text/plain\n"
           "\n"
           "Your message could not be delivered.\n"
           "\n"
           "--BOUND\n"
           "Content-Type: message/delivery-status\n"
           "\n"
           "Reporting-MTA: dns; mx.example.net\n"
           "\n"
           "Final-Recipient: rfc822; " +
           recipient +
           "\n"
           "Action: failed\n"
           "Status: " +
           status +
           "\n"
           "Diagnostic-Code: smtp; 550 " +
           status + " <" + recipient +
           ">: Recipient address rejected: User unknown\n"
           "\n"
           "--BOUND\n"
           "Content-Type: text/rfc822-headers\n"
           "\n"
           "Return-Path: <" +
           original_return_path +
           ">\n"
           "From: news@acme.test\n"
           "To: " +
           recipient +
           "\n"
           "Subject: Our news\n"
           "Message-ID: <orig-" +
           tag +
           "@acme.test>\n"
           "\n"
           "--BOUND--\n";
}

class IngestTest : public testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto conn = db().Connect();
        {
            pqxx::work tx(*conn);
            tx.exec("TRUNCATE bounce_events, raw_messages, message_digests, sender_domains, accounts CASCADE");
            account_id_ = tx.exec1("INSERT INTO accounts (name) VALUES ('acme') RETURNING id")[0].as<std::int64_t>();
            other_account_ =
                tx.exec1("INSERT INTO accounts (name) VALUES ('other') RETURNING id")[0].as<std::int64_t>();
            tx.exec_params(
                "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, 'acme.test', "
                "'feedback.acme.test')",
                account_id_);
            tx.exec_params(
                "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, 'other.test', "
                "'feedback.other.test')",
                other_account_);
            tx.commit();
        }
        auto codec = envelope::Codec::Create(kMasterKey, "", 60);
        ASSERT_TRUE(codec.ok()) << codec.status();
        codec_ = std::make_unique<envelope::Codec>(std::move(*codec));
        domains_ = std::make_unique<DomainDirectory>(db().url(), std::chrono::seconds(60));
        ASSERT_TRUE(domains_->Refresh().ok());
        StartServer(db().url());
    }

    void StartServer(const std::string& db_url, config::IngestConfig ingest_config = {}) {
        ingest_ = std::make_unique<Ingest>(ingest_config, db_url, domains_.get(), codec_.get());
        ingest_->Start();
        smtp::ServerOptions options;
        options.listen = {"127.0.0.1:0"};
        options.threads = 2;
        server_ = std::make_unique<smtp::Server>(options, ingest_.get());
        ASSERT_TRUE(server_->Start().ok());
        port_ = server_->endpoints().at(0).port;
    }

    void TearDown() override {
        if (server_) server_->Shutdown(std::chrono::seconds(5));
        if (ingest_) ingest_->Stop();
    }

    std::string Address(std::uint64_t mailing, std::uint64_t recipient, std::int64_t account = 0,
                        const std::string& domain = "feedback.acme.test", std::uint32_t day = 0) {
        envelope::AccountKeys keys{static_cast<std::uint64_t>(account == 0 ? account_id_ : account), 1, {}};
        auto local = codec_->EncodeLocalPart(keys, mailing, recipient, day == 0 ? envelope::Today() : day);
        EXPECT_TRUE(local.ok()) << local.status();
        return *local + "@" + domain;
    }

    SmtpReply SendOne(const std::vector<std::string>& rcpts, const std::string& message, const std::string& from = "") {
        SmtpClient client;
        EXPECT_TRUE(client.Connect("127.0.0.1", port_));
        SmtpReply r = client.Send(from, rcpts, message);
        client.Command("QUIT");
        return r;
    }

    // Sends `sessions` x `per_session` distinct DSNs to tokens of `mailing` over concurrent
    // sessions; returns the 250s.
    int SendConcurrently(int sessions, int per_session, std::uint64_t mailing) {
        std::vector<std::thread> threads;
        std::atomic<int> ok{0};
        for (int s = 0; s < sessions; ++s) {
            threads.emplace_back([&, s] {
                SmtpClient client;
                if (!client.Connect("127.0.0.1", port_)) return;
                for (int i = 0; i < per_session; ++i) {
                    const std::string tag = std::to_string(mailing) + "-" + std::to_string(s) + "-" + std::to_string(i);
                    if (client
                            .Send("", {Address(mailing, static_cast<std::uint64_t>(s * 1000 + i))},
                                  Dsn("user" + tag + "@example.com", "5.1.1", "x@example.org", tag))
                            .code == 250) {
                        ok.fetch_add(1);
                    }
                }
                client.Command("QUIT");
            });
        }
        for (auto& t : threads)
            t.join();
        return ok.load();
    }

    std::int64_t Count(const std::string& sql) {
        auto conn = db().Connect();
        pqxx::nontransaction tx(*conn);
        return tx.exec1(sql)[0].as<std::int64_t>();
    }

    std::int64_t account_id_ = 0;
    std::int64_t other_account_ = 0;
    std::unique_ptr<envelope::Codec> codec_;
    std::unique_ptr<DomainDirectory> domains_;
    std::unique_ptr<Ingest> ingest_;
    std::unique_ptr<smtp::Server> server_;
    int port_ = 0;
};

// The writer and the flusher run on threads of their own, named for `top -H` and perf, and
// joined when the ingest stops.
TEST_F(IngestTest, StorageThreadsAreNamedAndEndWithTheIngest) {
    EXPECT_EQ(testing::CountThreadsNamed("ingest-writer"), 1);
    EXPECT_EQ(testing::CountThreadsNamed("ingest-flush"), 1);
    server_->Shutdown(std::chrono::seconds(5));
    ingest_->Stop();
    EXPECT_EQ(testing::CountThreadsNamed("ingest-writer"), 0);
    EXPECT_EQ(testing::CountThreadsNamed("ingest-flush"), 0);
}

TEST_F(IngestTest, StoresTheBounceAttributedToItsTokenBeforeTheReply) {
    SmtpReply r = SendOne({Address(42, 7)}, Dsn("alice@example.com"));
    ASSERT_EQ(r.code, 250) << r.text;
    EXPECT_NE(r.text.find("2.0.0"), std::string::npos) << r.text;
    // Durable before the reply: no waiting here.
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE parse_state = 'parsed'"), 1);
    auto conn = db().Connect();
    pqxx::nontransaction tx(*conn);
    pqxx::row e = tx.exec1(
        "SELECT mailing_id, recipient_id, account_id, recipient, recipient_domain, status, reason, hard_bounce, "
        "disposition, kind, original_message_id, token_stale, rule_id IS NOT NULL, rules_version IS NOT NULL "
        "FROM bounce_events");
    EXPECT_EQ(e[0].as<std::int64_t>(), 42);
    EXPECT_EQ(e[1].as<std::int64_t>(), 7);
    EXPECT_EQ(e[2].as<std::int64_t>(), account_id_);
    EXPECT_EQ(e[3].as<std::string>(), "alice@example.com");
    EXPECT_EQ(e[4].as<std::string>(), "example.com");
    EXPECT_EQ(e[5].as<std::string>(), "5.1.1");
    EXPECT_EQ(e[6].as<std::string>(), "userunknown");
    EXPECT_TRUE(e[7].as<bool>());
    EXPECT_EQ(e[8].as<std::string>(), "hard");
    EXPECT_EQ(e[9].as<std::string>(), "dsn");
    EXPECT_EQ(e[10].as<std::string>(), "<orig-1@acme.test>");
    EXPECT_FALSE(e[11].as<bool>());
    EXPECT_TRUE(e[12].as<bool>());
    EXPECT_TRUE(e[13].as<bool>());
}

TEST_F(IngestTest, ARetriedDeliveryIsStoredOnce) {
    const std::string rcpt = Address(1, 2);
    const std::string dsn = Dsn("bob@example.com");
    EXPECT_EQ(SendOne({rcpt}, dsn).code, 250);
    EXPECT_EQ(SendOne({rcpt}, dsn).code, 250) << "the retry is acknowledged";
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages"), 1);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events"), 1);
    // The same content to another envelope recipient is another delivery.
    EXPECT_EQ(SendOne({Address(1, 3)}, dsn).code, 250);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages"), 2);
}

TEST_F(IngestTest, OneMessageForSeveralTokensIsStoredOnceAndAttributedToEach) {
    SmtpReply r = SendOne({Address(5, 100), Address(5, 101)}, Dsn("carol@example.com"));
    ASSERT_EQ(r.code, 250) << r.text;
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages"), 1);
    EXPECT_EQ(Count("SELECT count(DISTINCT recipient_id) FROM bounce_events WHERE mailing_id = 5"), 2);
    EXPECT_EQ(Count("SELECT count(DISTINCT raw_message_id) FROM bounce_events"), 1);
}

TEST_F(IngestTest, RecipientsAreCheckedAtRcptTime) {
    SmtpClient client;
    ASSERT_TRUE(client.Connect("127.0.0.1", port_));
    ASSERT_EQ(client.Read().code, 220);
    ASSERT_EQ(client.Command("EHLO client.test").code, 250);
    ASSERT_EQ(client.Command("MAIL FROM:<>").code, 250);

    SmtpReply unknown = client.Command("RCPT TO:<notatoken@feedback.acme.test>");
    EXPECT_EQ(unknown.code, 550);
    EXPECT_EQ(unknown.text.substr(0, 5), "5.1.1") << unknown.text;

    // A token minted for another account does not verify under this account's domain.
    SmtpReply cross = client.Command("RCPT TO:<" + Address(1, 1, other_account_) + ">");
    EXPECT_EQ(cross.code, 550) << cross.text;
    EXPECT_EQ(client.Command("RCPT TO:<" + Address(1, 1, other_account_, "feedback.other.test") + ">").code, 250);

    SmtpReply relay = client.Command("RCPT TO:<someone@gmail.com>");
    EXPECT_EQ(relay.code, 550);
    EXPECT_EQ(relay.text.substr(0, 5), "5.7.1") << relay.text;

    // Case changed by a relay on the way: still the same token and domain.
    std::string upper = Address(9, 9);
    for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(client.Command("RCPT TO:<" + upper + ">").code, 250);

    EXPECT_EQ(client.Command("RCPT TO:<postmaster@feedback.acme.test>").code, 250);
    EXPECT_EQ(client.Command("RCPT TO:<Abuse@Feedback.Acme.Test>").code, 250);
    EXPECT_EQ(client.Command("RCPT TO:<Postmaster>").code, 250);
}

TEST_F(IngestTest, StaleButAuthenticTokensAreAcceptedAndFlagged) {
    SmtpReply r = SendOne({Address(3, 4, 0, "feedback.acme.test", envelope::Today() - 100)}, Dsn("dave@example.com"));
    ASSERT_EQ(r.code, 250) << r.text;
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE token_stale AND mailing_id = 3"), 1);
}

TEST_F(IngestTest, RoleMailboxesAreStoredUnattributed) {
    ASSERT_EQ(SendOne({"postmaster@feedback.acme.test"}, Dsn("erin@example.com")).code, 250);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE mailing_id IS NULL AND account_id = " +
                    std::to_string(account_id_)),
              1);
}

TEST_F(IngestTest, ATokenInTheAttachedOriginalAttributesAMangledDelivery) {
    // The bounce went to abuse@ (say a forwarder rewrote it), but the original's Return-Path
    // still carries the envelope address.
    const std::string token_address = Address(77, 88);
    ASSERT_EQ(SendOne({"abuse@feedback.acme.test"}, Dsn("frank@example.com", "5.1.1", token_address, "2")).code, 250);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE mailing_id = 77 AND recipient_id = 88"), 1);
}

TEST_F(IngestTest, AMessageTheParserRejectsIsKeptRawAsUnparsed) {
    const std::string junk = "\x01\x02 not a message at all\n\x7f\x80\x81\n";
    ASSERT_FALSE(bounce::Parse(junk).ok()) << "precondition: the parser refuses this input";
    ASSERT_EQ(SendOne({Address(1, 1)}, junk).code, 250);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages WHERE parse_state = 'unparsed' AND parse_error <> ''"), 1);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events"), 0);
}

TEST_F(IngestTest, ConcurrentSessionsShareTransactions) {
    constexpr int kSessions = 8;
    constexpr int kPerSession = 25;
    EXPECT_EQ(SendConcurrently(kSessions, kPerSession, 500), kSessions * kPerSession);
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages"), kSessions * kPerSession);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE mailing_id = 500"), kSessions * kPerSession);
    const std::uint64_t batches = ingest_->counters().batches.load();
    const std::uint64_t flushes = ingest_->counters().flushes.load();
    EXPECT_LT(batches, static_cast<std::uint64_t>(kSessions * kPerSession))
        << "messages of concurrent sessions were grouped";
    // Pipelined (the default): every 250 waited for a flusher's synchronous commit, and one
    // such commit confirms every batch committed before it.
    EXPECT_GE(flushes, 1u);
    EXPECT_LE(flushes, batches);
    EXPECT_EQ(ingest_->counters().unconfirmed.load(), 0u);
    // Every stored message's time is accounted for: its batch took at least a round trip to
    // PostgreSQL, and its 250 waited for a flush after its commit.
    const auto messages = static_cast<std::uint64_t>(kSessions * kPerSession);
    EXPECT_GE(ingest_->counters().execute_us.load(), messages);
    EXPECT_GE(ingest_->counters().confirm_us.load(), messages);
}

TEST_F(IngestTest, WithoutThePipelinedFlushEachBatchWaitsForItsOwnCommit) {
    server_->Shutdown(std::chrono::seconds(5));
    ingest_->Stop();
    config::IngestConfig config;
    config.pipelined_flush = false;
    StartServer(db().url(), config);
    EXPECT_EQ(SendConcurrently(4, 10, 501), 40);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE mailing_id = 501"), 40);
    EXPECT_EQ(ingest_->counters().stored.load(), 40u);
    EXPECT_EQ(ingest_->counters().flushes.load(), 0u) << "no flusher";
    // The commit itself waited for the flush, inside the batch's execution; the 250 follows it
    // at once.
    EXPECT_GT(ingest_->counters().execute_us.load(), 0u);
    EXPECT_LT(ingest_->counters().confirm_us.load(), ingest_->counters().execute_us.load());
}

TEST_F(IngestTest, StopConfirmsEverythingCommittedBeforeItReturns) {
    // Deliveries straight to the delegate, then Stop() at once: each gets its answer, every
    // 250 is stored, and no callback runs after Stop() returned.
    constexpr int kMessages = 30;
    std::atomic<bool> stopped{false};
    std::atomic<int> late{0};
    std::vector<int> codes(kMessages, 0);
    smtp::SessionInfo session;
    session.session_id = 777;
    session.client_address = "127.0.0.1";
    for (int i = 0; i < kMessages; ++i) {
        smtp::Envelope envelope;
        envelope.recipients = {Address(502, static_cast<std::uint64_t>(i))};
        ingest_->Deliver(session, envelope, Dsn("stop" + std::to_string(i) + "@example.com"), [&, i](smtp::Reply r) {
            codes[static_cast<std::size_t>(i)] = r.code;
            if (stopped.load()) late.fetch_add(1);
        });
    }
    ingest_->Stop();
    stopped = true;
    EXPECT_EQ(late.load(), 0);
    for (int i = 0; i < kMessages; ++i)
        EXPECT_EQ(codes[static_cast<std::size_t>(i)], 250) << i;
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE mailing_id = 502"), kMessages);
}

TEST_F(IngestTest, UnreachableDatabaseGives451AndStoresNothing) {
    server_->Shutdown(std::chrono::seconds(5));
    ingest_->Stop();
    StartServer("host=127.0.0.1 port=1 dbname=nothing connect_timeout=2");
    SmtpReply r = SendOne({Address(1, 1)}, Dsn("gina@example.com"));
    EXPECT_EQ(r.code, 451) << r.text;
    EXPECT_EQ(r.text.substr(0, 5), "4.3.0") << r.text;
    EXPECT_EQ(Count("SELECT count(*) FROM raw_messages"), 0);
}

TEST_F(IngestTest, ReprocessReplacesEventsFromTheRawMessages) {
    ASSERT_EQ(SendOne({Address(61, 1)}, Dsn("p1@example.com", "5.1.1", "x@example.org", "r1")).code, 250);
    ASSERT_EQ(SendOne({Address(61, 2)}, Dsn("p2@example.com", "5.1.1", "x@example.org", "r2")).code, 250);
    ASSERT_EQ(SendOne({Address(61, 3)}, Dsn("p3@example.com", "5.1.1", "x@example.org", "r3")).code, 250);
    {
        // As if an older rules version had classified them differently.
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        tx.exec("UPDATE bounce_events SET reason = 'undefined', rule_id = 'old', rules_version = 'old'");
        tx.exec("DELETE FROM suppressions");
        tx.commit();
    }
    auto conn = storage::Connect(db().url());
    ASSERT_TRUE(conn.ok());
    auto snapshot = domains_->Snapshot();
    const std::int64_t since = 0;
    const std::int64_t until = std::int64_t{4102444800} * 1000000;
    // Two messages per call: two calls cover the three.
    auto first = Reprocess(**conn, *snapshot, *codec_, since, until, since - 1, 0, 2);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->counts.messages, 2u);
    ASSERT_TRUE(first->next.has_value());
    auto second = Reprocess(**conn, *snapshot, *codec_, since, until, first->next->first, first->next->second, 2);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(second->counts.messages, 1u);
    EXPECT_FALSE(second->next.has_value());
    EXPECT_EQ(first->counts.events_before + second->counts.events_before, 3u);
    EXPECT_EQ(first->counts.events_after + second->counts.events_after, 3u);
    EXPECT_EQ(first->counts.suppressed + second->counts.suppressed, 3u) << "hard bounces suppress again";
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events WHERE reason = 'userunknown' AND mailing_id = 61 AND "
                    "rules_version <> 'old'"),
              3);
    EXPECT_EQ(Count("SELECT count(*) FROM bounce_events"), 3) << "replaced, not added";
}

}  // namespace
}  // namespace rebound::ingest
