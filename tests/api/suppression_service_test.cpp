// Suppressions: the policy applied as events are stored (through the same storage call the
// ingest layer uses), and SuppressionService through a real gRPC channel.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "rebound/v1/suppression.grpc.pb.h"
#include "storage/database.h"
#include "storage/message_store.h"
#include "tests/api/api_fixture.h"

namespace rebound::api {
namespace {

using namespace std::chrono_literals;

class SuppressionTest : public ApiFixture {
  protected:
    void SetUp() override {
        ApiFixture::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        stub_ = v1::SuppressionService::NewStub(channel_);
        std::tie(a_, a_key_) = NewAccount("a");
        std::tie(b_, b_key_) = NewAccount("b");
    }

    // Stores a message with one event, as the ingest layer does; returns how many recipients
    // the policy suppressed.
    int Store(std::int64_t account, const std::string& recipient, const std::string& disposition, int bounce_class,
              std::uint64_t recipient_id = 0) {
        storage::MessageRow m;
        static int n = 0;
        const std::string tag = std::to_string(++n);
        for (std::size_t i = 0; i < m.digest.size(); ++i)
            m.digest[i] = static_cast<unsigned char>(tag[i % tag.size()] + i);
        m.mail_from = "";
        m.rcpt_to = {"x@feedback.a.test"};
        m.parse_state = "parsed";
        m.content = "message " + tag;
        storage::EventRow e;
        e.account_id = account;
        e.recipient = recipient;
        e.recipient_domain = recipient.substr(recipient.find('@') + 1);
        e.kind = "dsn";
        e.reason = "test";
        e.disposition = disposition;
        e.bounce_class = bounce_class;
        if (recipient_id != 0) e.recipient_id = recipient_id;
        m.events.push_back(e);
        auto conn = storage::Connect(db().url());
        auto stored = storage::StoreMessages(**conn, {m});
        EXPECT_TRUE(stored.ok()) << stored.status();
        return stored.ok() ? (*stored)[0].suppressed : -1;
    }

    std::vector<std::string> Check(const std::string& key, const std::vector<std::string>& addresses) {
        v1::CheckSuppressionsRequest req;
        for (const auto& a : addresses)
            req.add_addresses(a);
        v1::CheckSuppressionsResponse resp;
        grpc::Status st = stub_->CheckSuppressions(Ctx(key).get(), req, &resp);
        EXPECT_TRUE(st.ok()) << st.error_message();
        std::vector<std::string> out(resp.suppressed_addresses().begin(), resp.suppressed_addresses().end());
        std::sort(out.begin(), out.end());
        return out;
    }

    std::unique_ptr<v1::SuppressionService::Stub> stub_;
    std::int64_t a_ = 0, b_ = 0;
    std::string a_key_, b_key_;
};

TEST_F(SuppressionTest, PolicySuppressesHardBouncesComplaintsAndRepeatedSoftBounces) {
    EXPECT_EQ(Store(a_, "Hard@Example.com", "hard", 10, 77), 1);
    EXPECT_EQ(Store(a_, "hard@example.com", "hard", 10), 0) << "already suppressed";
    EXPECT_EQ(Store(a_, "norcpt@example.com", "hard", 30), 1);
    EXPECT_EQ(Store(a_, "angry@example.com", "complaint", 1), 1);
    EXPECT_EQ(Store(a_, "blocked@example.com", "block", 50), 0) << "blocks never suppress the recipient";
    EXPECT_EQ(Store(a_, "away@example.com", "auto_reply", 60), 0);
    EXPECT_EQ(Store(a_, "slow@example.com", "delayed", 70), 0);
    EXPECT_EQ(Store(a_, "full@example.com", "soft", 22), 0);
    EXPECT_EQ(Store(a_, "full@example.com", "soft", 22), 0);
    EXPECT_EQ(Store(a_, "full@example.com", "soft", 22), 1) << "the third soft bounce in 30 days";

    EXPECT_EQ(
        Check(a_key_, {"HARD@example.com", "norcpt@example.com", "angry@example.com", "blocked@example.com",
                       "away@example.com", "slow@example.com", "full@example.com", "fine@example.com"}),
        (std::vector<std::string>{"angry@example.com", "full@example.com", "hard@example.com", "norcpt@example.com"}));
    v1::CheckSuppressionsRequest by_id;
    by_id.add_recipient_ids(77);
    by_id.add_recipient_ids(78);
    v1::CheckSuppressionsResponse resp;
    ASSERT_TRUE(stub_->CheckSuppressions(Ctx(a_key_).get(), by_id, &resp).ok());
    ASSERT_EQ(resp.suppressed_recipient_ids_size(), 1);
    EXPECT_EQ(resp.suppressed_recipient_ids(0), 77u);

    // Account B sees none of A's suppressions.
    EXPECT_TRUE(Check(b_key_, {"hard@example.com", "angry@example.com"}).empty());
}

TEST_F(SuppressionTest, PolicyIsPerAccount) {
    v1::SuppressionPolicy policy;
    policy.set_soft_bounce_threshold(2);
    policy.set_soft_bounce_window_days(7);
    policy.set_suppress_complaints(false);
    v1::SuppressionPolicy out;
    ASSERT_TRUE(stub_->SetPolicy(Ctx(a_key_).get(), policy, &out).ok());
    EXPECT_EQ(Store(a_, "s@example.com", "soft", 20), 0);
    EXPECT_EQ(Store(a_, "s@example.com", "soft", 20), 1) << "A's threshold is 2";
    EXPECT_EQ(Store(a_, "c@example.com", "complaint", 1), 0) << "A does not suppress complaints";
    EXPECT_EQ(Store(b_, "s@example.com", "soft", 20), 0);
    EXPECT_EQ(Store(b_, "s@example.com", "soft", 20), 0) << "B keeps the default of 3";
    v1::GetPolicyRequest get;
    ASSERT_TRUE(stub_->GetPolicy(Ctx(b_key_).get(), get, &out).ok());
    EXPECT_EQ(out.soft_bounce_threshold(), 3u);
    policy.set_soft_bounce_threshold(0);
    grpc::Status bad = stub_->SetPolicy(Ctx(a_key_).get(), policy, &out);
    EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(bad.error_message().find("soft_bounce_threshold"), std::string::npos);
}

TEST_F(SuppressionTest, ManualAddAndRemoveAreKeptInHistory) {
    v1::AddSuppressionRequest add;
    add.set_address("Someone@Example.com");
    add.set_reason("asked by phone");
    v1::Suppression s;
    ASSERT_TRUE(stub_->AddSuppression(Ctx(a_key_).get(), add, &s).ok());
    EXPECT_EQ(s.address(), "someone@example.com");
    EXPECT_EQ(s.cause(), "manual");
    EXPECT_EQ(stub_->AddSuppression(Ctx(a_key_).get(), add, &s).error_code(), grpc::StatusCode::ALREADY_EXISTS);

    v1::RemoveSuppressionRequest remove;
    remove.set_address("someone@example.com");
    v1::RemoveSuppressionResponse removed;
    grpc::Status no_reason = stub_->RemoveSuppression(Ctx(a_key_).get(), remove, &removed);
    EXPECT_EQ(no_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(no_reason.error_message().find("reason"), std::string::npos);
    remove.set_reason("confirmed opt-in again");
    EXPECT_EQ(stub_->RemoveSuppression(Ctx(b_key_).get(), remove, &removed).error_code(), grpc::StatusCode::NOT_FOUND)
        << "B cannot remove A's suppression";
    ASSERT_TRUE(stub_->RemoveSuppression(Ctx(a_key_).get(), remove, &removed).ok());
    EXPECT_EQ(removed.removed().reason(), "asked by phone");
    EXPECT_TRUE(Check(a_key_, {"someone@example.com"}).empty());

    auto conn = db().Connect();
    pqxx::nontransaction tx(*conn);
    pqxx::result h = tx.exec(
        "SELECT action, reason FROM suppression_history WHERE address = 'someone@example.com' "
        "ORDER BY id");
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0][0].as<std::string>(), "add");
    EXPECT_EQ(h[1][0].as<std::string>(), "remove");
    EXPECT_EQ(h[1][1].as<std::string>(), "confirmed opt-in again");
}

TEST_F(SuppressionTest, BadInputNamesTheField) {
    v1::CheckSuppressionsRequest req;
    req.add_addresses("ok@example.com");
    req.add_addresses("not an address");
    v1::CheckSuppressionsResponse resp;
    grpc::Status st = stub_->CheckSuppressions(Ctx(a_key_).get(), req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("addresses[1]"), std::string::npos) << st.error_message();
    req.clear_addresses();
    for (int i = 0; i < 10001; ++i)
        req.add_recipient_ids(static_cast<std::uint64_t>(i));
    EXPECT_EQ(stub_->CheckSuppressions(Ctx(a_key_).get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SuppressionTest, ListAndExportCoverEverythingInOrder) {
    {
        auto conn = db().Connect();
        pqxx::work tx(*conn);
        tx.exec_params(
            "INSERT INTO suppressions (account_id, address, cause) SELECT $1, 'u' || lpad(g::text, 5, '0') "
            "|| '@example.com', 'manual' FROM generate_series(1, 7000) g",
            a_);
        tx.exec_params("INSERT INTO suppressions (account_id, address, cause) VALUES ($1, 'b@example.com', 'manual')",
                       b_);
        tx.commit();
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + a_key_);
    auto reader = stub_->ExportSuppressions(&ctx, v1::ExportSuppressionsRequest());
    v1::Suppression s;
    std::string last;
    int n = 0;
    while (reader->Read(&s)) {
        EXPECT_LT(last, s.address());
        last = s.address();
        ++n;
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(n, 7000);

    v1::ListSuppressionsRequest list;
    list.set_page_size(1000);
    int listed = 0;
    do {
        v1::ListSuppressionsResponse resp;
        ASSERT_TRUE(stub_->ListSuppressions(Ctx(a_key_).get(), list, &resp).ok());
        listed += resp.suppressions_size();
        list.set_page_token(resp.next_page_token());
    } while (!list.page_token().empty());
    EXPECT_EQ(listed, 7000);
}

}  // namespace
}  // namespace rebound::api
