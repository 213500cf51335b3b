// BounceService through a real gRPC channel against a real PostgreSQL. Events are inserted
// directly (the ingest path has its own tests).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <thread>

#include "rebound/v1/bounce.grpc.pb.h"
#include "tests/api/api_fixture.h"

namespace rebound::api {
namespace {

using namespace std::chrono_literals;

class BounceServiceTest : public ApiFixture {
  protected:
    void SetUp() override {
        ApiFixture::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        stub_ = v1::BounceService::NewStub(channel_);
        std::tie(a_, a_key_) = NewAccount("a");
        std::tie(b_, b_key_) = NewAccount("b");
    }

    // Inserts one event in its own transaction (or in `tx`); returns its id.
    static std::int64_t Insert(pqxx::work& tx, std::int64_t account, std::int64_t mailing, std::int64_t recipient_id,
                               const std::string& recipient, const std::string& disposition = "hard",
                               const std::string& reason = "userunknown", int bounce_class = 10) {
        const std::string domain = recipient.substr(recipient.find('@') + 1);
        return tx
            .exec_params1(
                "INSERT INTO bounce_events (account_id, mailing_id, recipient_id, recipient, recipient_domain, "
                "kind, status, reason, hard_bounce, bounce_class, disposition) VALUES ($1, $2, $3, $4, $5, "
                "'dsn', '5.1.1', $6, $7, $8, $9) RETURNING id",
                account, mailing, recipient_id, recipient, domain, reason, disposition == "hard", bounce_class,
                disposition)[0]
            .as<std::int64_t>();
    }
    std::int64_t Insert(std::int64_t account, std::int64_t mailing, std::int64_t recipient_id,
                        const std::string& recipient, const std::string& disposition = "hard",
                        const std::string& reason = "userunknown", int bounce_class = 10) {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        const std::int64_t id =
            Insert(tx, account, mailing, recipient_id, recipient, disposition, reason, bounce_class);
        tx.commit();
        return id;
    }

    std::unique_ptr<v1::BounceService::Stub> stub_;
    std::int64_t a_ = 0, b_ = 0;
    std::string a_key_, b_key_;
};

TEST_F(BounceServiceTest, PagesStayCorrectWhileEventsAreInserted) {
    {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        for (int i = 0; i < 250; ++i)
            Insert(tx, a_, 1, i, "u" + std::to_string(i) + "@gmail.com");
        tx.commit();
    }
    Insert(b_, 1, 1, "other@gmail.com");
    std::set<std::uint64_t> seen;
    std::string token;
    int pages = 0;
    do {
        v1::ListEventsRequest req;
        req.set_page_size(100);
        req.set_page_token(token);
        v1::ListEventsResponse resp;
        grpc::Status st = stub_->ListEvents(Ctx(a_key_).get(), req, &resp);
        ASSERT_TRUE(st.ok()) << st.error_message();
        for (const auto& e : resp.events()) {
            EXPECT_TRUE(seen.insert(e.id()).second) << "event " << e.id() << " twice";
            EXPECT_NE(e.recipient(), "other@gmail.com") << "another account's event";
        }
        token = resp.next_page_token();
        ++pages;
        // New events arrive between pages; they are newer than every page token.
        Insert(a_, 2, 999, "new@gmail.com");
    } while (!token.empty() && pages < 10);
    EXPECT_EQ(seen.size(), 250u) << "every old event once; the ones stored meanwhile are newer than every token";
    EXPECT_EQ(pages, 3);

    v1::ListEventsRequest bad;
    bad.set_page_token("garbage");
    v1::ListEventsResponse resp;
    EXPECT_EQ(stub_->ListEvents(Ctx(a_key_).get(), bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    bad.set_page_token("");
    bad.set_page_size(1001);
    grpc::Status st = stub_->ListEvents(Ctx(a_key_).get(), bad, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("page_size"), std::string::npos);
}

TEST_F(BounceServiceTest, FiltersNarrowTheList) {
    Insert(a_, 10, 1, "x@gmail.com", "hard");
    Insert(a_, 10, 2, "Y@outlook.com", "soft", "mailboxfull", 22);
    Insert(a_, 11, 3, "z@gmail.com", "complaint", "feedback", 1);
    auto list = [&](v1::ListEventsRequest req) {
        v1::ListEventsResponse resp;
        grpc::Status st = stub_->ListEvents(Ctx(a_key_).get(), req, &resp);
        EXPECT_TRUE(st.ok()) << st.error_message();
        return resp.events_size();
    };
    v1::ListEventsRequest r;
    r.mutable_mailing_id()->set_value(10);
    EXPECT_EQ(list(r), 2);
    r.set_disposition("soft");
    EXPECT_EQ(list(r), 1);
    v1::ListEventsRequest by_address;
    by_address.set_address("y@OUTLOOK.com");
    EXPECT_EQ(list(by_address), 1);
    v1::ListEventsRequest by_reason;
    by_reason.set_reason("feedback");
    EXPECT_EQ(list(by_reason), 1);
    v1::ListEventsRequest by_recipient;
    by_recipient.mutable_recipient_id()->set_value(3);
    EXPECT_EQ(list(by_recipient), 1);
    v1::ListEventsRequest future;
    future.mutable_since()->set_seconds(4102444800);  // 2100
    EXPECT_EQ(list(future), 0);
}

TEST_F(BounceServiceTest, GetEventIsScopedToTheAccount) {
    std::int64_t raw_id = 0;
    {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        raw_id = tx.exec1(
                       "INSERT INTO raw_messages (sha256, size_bytes, mail_from, rcpt_to, parse_state, content) "
                       "VALUES (sha256('x'), 5, '', '{a@b}', 'parsed', 'hello') RETURNING id")[0]
                     .as<std::int64_t>();
        tx.commit();
    }
    const std::int64_t id = Insert(a_, 5, 6, "r@gmail.com");
    {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        tx.exec_params("UPDATE bounce_events SET raw_message_id = $1 WHERE id = $2", raw_id, id);
        tx.commit();
    }
    v1::GetEventRequest req;
    req.set_id(static_cast<std::uint64_t>(id));
    req.set_include_raw(true);
    v1::BounceEvent e;
    grpc::Status st = stub_->GetEvent(Ctx(a_key_).get(), req, &e);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(e.mailing_id().value(), 5u);
    EXPECT_EQ(e.recipient_domain(), "gmail.com");
    EXPECT_EQ(e.raw_message(), "hello");
    EXPECT_FALSE(e.cursor().empty());
    EXPECT_EQ(stub_->GetEvent(Ctx(b_key_).get(), req, &e).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BounceServiceTest, MailingAndDomainStatistics) {
    Insert(a_, 100, 1, "a@gmail.com", "hard");
    Insert(a_, 100, 1, "a@gmail.com", "hard");
    Insert(a_, 100, 2, "b@gmail.com", "soft", "mailboxfull", 22);
    Insert(a_, 100, 3, "c@outlook.com", "complaint", "feedback", 1);
    Insert(a_, 101, 4, "d@outlook.com", "block", "blocked", 50);
    Insert(b_, 100, 9, "e@gmail.com", "hard");  // another account, same mailing id
    v1::GetMailingStatsRequest req;
    req.add_mailing_ids(100);
    req.add_mailing_ids(101);
    req.add_mailing_ids(555);
    v1::GetMailingStatsResponse resp;
    grpc::Status st = stub_->GetMailingStats(Ctx(a_key_).get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.mailings_size(), 3);
    const auto& m = resp.mailings(0);
    EXPECT_EQ(m.events(), 4u);
    EXPECT_EQ(m.recipients_bounced(), 2u) << "recipient 1 twice counts once";
    EXPECT_EQ(m.recipients_complained(), 1u);
    std::map<std::string, std::uint64_t> disp;
    for (const auto& c : m.by_disposition())
        disp[c.key()] = c.count();
    EXPECT_EQ(disp["hard"], 2u);
    EXPECT_EQ(disp["soft"], 1u);
    EXPECT_EQ(resp.mailings(1).events(), 1u);
    EXPECT_EQ(resp.mailings(2).events(), 0u);

    v1::GetDomainStatsRequest dreq;
    dreq.mutable_since()->set_seconds(std::time(nullptr) - 3600);
    dreq.mutable_until()->set_seconds(std::time(nullptr) + 3600);
    v1::GetDomainStatsResponse dresp;
    st = stub_->GetDomainStats(Ctx(a_key_).get(), dreq, &dresp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(dresp.domains_size(), 2);
    EXPECT_EQ(dresp.domains(0).domain(), "gmail.com");
    EXPECT_EQ(dresp.domains(0).events(), 3u) << "account B's gmail event is not counted";
    dreq.mutable_until()->set_seconds(dreq.since().seconds() + 400LL * 86400);
    EXPECT_EQ(stub_->GetDomainStats(Ctx(a_key_).get(), dreq, &dresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Reads a WatchEvents stream started at `cursor` until `done(events)` says so (or a
// deadline), then cancels it.
std::vector<v1::BounceEvent> Watch(v1::BounceService::Stub* stub, const std::string& key, const std::string& cursor,
                                   const std::function<bool(const std::vector<v1::BounceEvent>&)>& done,
                                   const std::function<void()>& after_start = {}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + key);
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    v1::WatchEventsRequest req;
    req.set_cursor(cursor);
    auto reader = stub->WatchEvents(&ctx, req);
    if (after_start) after_start();
    std::vector<v1::BounceEvent> got;
    v1::BounceEvent e;
    while (!done(got) && reader->Read(&e))
        got.push_back(e);
    ctx.TryCancel();
    reader->Finish();
    return got;
}

TEST_F(BounceServiceTest, WatchEventsResumesWithoutGapOrDuplicate) {
    const std::int64_t before = Insert(a_, 1, 1, "before@gmail.com");
    std::vector<std::int64_t> expected;
    auto has_all = [&](const std::vector<v1::BounceEvent>& got) {
        std::size_t found = 0;
        for (const auto& e : got) {
            found += std::count(expected.begin(), expected.end(), static_cast<std::int64_t>(e.id()));
        }
        return expected.size() == 3 && found == 3;
    };
    std::vector<v1::BounceEvent> first = Watch(stub_.get(), a_key_, "", has_all, [&] {
        std::this_thread::sleep_for(300ms);
        // A transaction that starts first but commits last must not be skipped.
        auto slow_conn = db().Connect();
        pqxx::work slow(*slow_conn);
        const std::int64_t slow_id = Insert(slow, a_, 1, 10, "slow@gmail.com");
        expected.push_back(Insert(a_, 1, 11, "fast1@gmail.com"));
        Insert(b_, 1, 12, "b-only@gmail.com");  // another account: never delivered to A
        expected.push_back(Insert(a_, 1, 13, "fast2@gmail.com"));
        std::this_thread::sleep_for(500ms);
        slow.commit();
        expected.push_back(slow_id);
    });
    // Without a cursor the stream starts at "now": an event stored just before may come
    // too (the start is the oldest transaction still open anywhere on the server), but
    // every later event comes exactly once.
    std::vector<v1::BounceEvent> fresh;
    for (const auto& e : first) {
        if (e.id() != static_cast<std::uint64_t>(before)) fresh.push_back(e);
    }
    ASSERT_EQ(fresh.size(), 3u);
    std::set<std::uint64_t> ids;
    for (const auto& e : fresh)
        ids.insert(e.id());
    EXPECT_EQ(ids, (std::set<std::uint64_t>(expected.begin(), expected.end())));
    // Feed order is that of the storing transactions: the slow one began first, so its event
    // comes first, and the others were held back until it ended rather than skipped.
    EXPECT_EQ(fresh.front().id(), static_cast<std::uint64_t>(expected.back()));

    // Resume from the second event: exactly the third, then the new ones.
    const std::int64_t later = Insert(a_, 1, 14, "later@gmail.com");
    std::vector<v1::BounceEvent> resumed =
        Watch(stub_.get(), a_key_, fresh[1].cursor(), [](const auto& got) { return got.size() == 2; });
    ASSERT_EQ(resumed.size(), 2u);
    EXPECT_EQ(resumed[0].id(), fresh[2].id());
    EXPECT_EQ(resumed[1].id(), static_cast<std::uint64_t>(later));

    // Account B's stream from the same cursor never shows A's events.
    std::vector<v1::BounceEvent> b_events =
        Watch(stub_.get(), b_key_, fresh[0].cursor(), [](const auto& got) { return got.size() == 1; });
    ASSERT_EQ(b_events.size(), 1u);
    EXPECT_EQ(b_events[0].recipient(), "b-only@gmail.com");

    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + a_key_);
    v1::WatchEventsRequest bad;
    bad.set_cursor("x.y");
    auto reader = stub_->WatchEvents(&ctx, bad);
    v1::BounceEvent e;
    while (reader->Read(&e)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace rebound::api
