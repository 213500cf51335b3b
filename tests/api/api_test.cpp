// The gRPC API through a real channel against a real PostgreSQL: authentication,
// administration, account isolation, and the envelope address service.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <ctime>

#include "rebound/v1/envelope.grpc.pb.h"
#include "services/api/status.h"
#include "services/envelope/day.h"
#include "storage/database.h"
#include "tests/api/api_fixture.h"

namespace rebound::api {
namespace {

using namespace std::chrono_literals;

class ApiTest : public ApiFixture {
  protected:
    void SetUp() override {
        ApiFixture::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        envelope_ = v1::EnvelopeService::NewStub(channel_);
    }

    // An account with the feedback domain feedback.<name>.test; returns {account id, key}.
    std::pair<std::uint64_t, std::string> NewAccount(const std::string& name) {
        auto [id, key] = ApiFixture::NewAccount(name, "feedback." + name + ".test");
        return {static_cast<std::uint64_t>(id), key};
    }

    std::unique_ptr<v1::EnvelopeService::Stub> envelope_;
};

TEST_F(ApiTest, CallsWithoutAValidKeyAreUnauthenticated) {
    auto [id, key] = NewAccount("alpha");
    v1::GenerateAddressesRequest req;
    req.add_recipient_ids(1);
    v1::GenerateAddressesResponse resp;
    // The real key with its last character changed (to another base32 letter: a key may end in 'x').
    const std::string altered = key.substr(0, key.size() - 1) + (key.back() == 'x' ? "y" : "x");
    for (const std::string& bad : {std::string(), std::string("nonsense"), altered,
                                   std::string("rbk_aaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")}) {
        grpc::Status st = envelope_->GenerateAddresses(Ctx(bad).get(), req, &resp);
        EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << bad << ": " << st.error_message();
    }
    EXPECT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).ok());
}

TEST_F(ApiTest, MadeUpKeysCostTheDatabaseABoundedNumberOfLookups) {
    auto [id, key] = NewAccount("flood");
    v1::GenerateAddressesRequest req;
    req.add_recipient_ids(1);
    v1::GenerateAddressesResponse resp;
    ASSERT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).ok());  // now cached
    // One unknown key, again and again: remembered as unknown, so never rationed.
    const std::string unknown = "rbk_zzzzzzzzzzzzbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    for (int i = 0; i < 1000; ++i) {
        grpc::Status st = envelope_->GenerateAddresses(Ctx(unknown).get(), req, &resp);
        ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << i << ": " << st.error_message();
    }
    // Many different made-up prefixes: beyond the burst, lookups are refused for a while.
    int exhausted = 0;
    for (int i = 0; i < 2000; ++i) {
        char prefix[13];
        std::snprintf(prefix, sizeof prefix, "%012d", i);
        std::string made_up = "rbk_" + std::string(prefix) + std::string(32, 'q');
        for (char& c : made_up)
            if (c >= '0' && c <= '9') c = static_cast<char>('a' + (c - '0'));  // base32 letters only
        grpc::Status st = envelope_->GenerateAddresses(Ctx(made_up).get(), req, &resp);
        if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            ++exhausted;
        } else {
            ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
        }
    }
    EXPECT_GT(exhausted, 0);
    // A key in use keeps working through the flood.
    EXPECT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).ok());
}

TEST_F(ApiTest, AdministrationNeedsTheAdministratorKey) {
    auto [id, key] = NewAccount("beta");
    v1::CreateAccountRequest req;
    req.set_name("gamma");
    v1::Account account;
    EXPECT_EQ(accounts_->CreateAccount(Ctx(key).get(), req, &account).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(accounts_->CreateAccount(Ctx("").get(), req, &account).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    // The administrator has no account of its own to generate addresses for.
    v1::GenerateAddressesRequest greq;
    v1::GenerateAddressesResponse gresp;
    EXPECT_EQ(envelope_->GenerateAddresses(Ctx(kAdminKey).get(), greq, &gresp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    // Duplicate names and bad arguments name the problem.
    req.set_name("beta");
    grpc::Status dup = accounts_->CreateAccount(Ctx(kAdminKey).get(), req, &account);
    EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    req.set_name("");
    grpc::Status empty = accounts_->CreateAccount(Ctx(kAdminKey).get(), req, &account);
    EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(empty.error_message().find("name"), std::string::npos);
    v1::GetAccountRequest get;
    get.set_account_id(999999);
    EXPECT_EQ(accounts_->GetAccount(Ctx(kAdminKey).get(), get, &account).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApiTest, RevokedKeysStopWorkingAtOnce) {
    auto [id, key] = NewAccount("delta");
    v1::GenerateAddressesRequest req;
    v1::GenerateAddressesResponse resp;
    ASSERT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).ok());
    v1::RevokeApiKeyRequest rreq;
    rreq.set_prefix(key);
    v1::RevokeApiKeyResponse rresp;
    ASSERT_TRUE(accounts_->RevokeApiKey(Ctx(kAdminKey).get(), rreq, &rresp).ok());
    EXPECT_EQ(rresp.account_id(), id);
    EXPECT_EQ(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ApiTest, GeneratedAddressesDecodeToTheirRecipientsInOrder) {
    auto [id, key] = NewAccount("epsilon");
    v1::GenerateAddressesRequest req;
    req.set_mailing_id(4242);
    const std::vector<std::uint64_t> ids = {0, 1, 7, 7, 123456789, UINT64_MAX};
    for (auto r : ids)
        req.add_recipient_ids(r);
    v1::GenerateAddressesResponse resp;
    ASSERT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).ok());
    ASSERT_EQ(resp.addresses_size(), static_cast<int>(ids.size()));
    EXPECT_EQ(resp.addresses(2), resp.addresses(3)) << "same recipient, same address";
    for (int i = 0; i < resp.addresses_size(); ++i) {
        const std::string& address = resp.addresses(i);
        EXPECT_TRUE(address.ends_with("@feedback.epsilon.test")) << address;
        EXPECT_LE(address.find('@'), 64u);
        v1::DecodeAddressRequest dreq;
        dreq.set_address(address);
        v1::DecodeAddressResponse dresp;
        ASSERT_TRUE(envelope_->DecodeAddress(Ctx(key).get(), dreq, &dresp).ok());
        EXPECT_EQ(dresp.status(), v1::TOKEN_STATUS_VALID);
        EXPECT_EQ(dresp.mailing_id(), 4242u);
        EXPECT_EQ(dresp.recipient_id(), ids[static_cast<std::size_t>(i)]);
        EXPECT_EQ(dresp.account_id(), id);
    }
    req.clear_recipient_ids();
    for (int i = 0; i < 10001; ++i)
        req.add_recipient_ids(static_cast<std::uint64_t>(i));
    grpc::Status big = envelope_->GenerateAddresses(Ctx(key).get(), req, &resp);
    EXPECT_EQ(big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(big.error_message().find("recipient_ids"), std::string::npos) << big.error_message();
    req.clear_recipient_ids();
    req.set_domain("feedback.other.test");
    EXPECT_EQ(envelope_->GenerateAddresses(Ctx(key).get(), req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiTest, AccountsAreIsolated) {
    auto [a_id, a_key] = NewAccount("zeta");
    auto [b_id, b_key] = NewAccount("eta");
    v1::GenerateAddressesRequest req;
    req.set_mailing_id(1);
    req.add_recipient_ids(1);
    v1::GenerateAddressesResponse resp;
    ASSERT_TRUE(envelope_->GenerateAddresses(Ctx(a_key).get(), req, &resp).ok());
    v1::DecodeAddressRequest dreq;
    dreq.set_address(resp.addresses(0));
    v1::DecodeAddressResponse dresp;
    ASSERT_TRUE(envelope_->DecodeAddress(Ctx(b_key).get(), dreq, &dresp).ok());
    EXPECT_EQ(dresp.status(), v1::TOKEN_STATUS_UNKNOWN_DOMAIN) << "B does not own A's domain";
    EXPECT_FALSE(dresp.attributed());
    // Even the bare token does not verify under B's keys.
    dreq.set_address(resp.addresses(0).substr(0, resp.addresses(0).find('@')));
    ASSERT_TRUE(envelope_->DecodeAddress(Ctx(b_key).get(), dreq, &dresp).ok());
    EXPECT_EQ(dresp.status(), v1::TOKEN_STATUS_FORGED);
    // B cannot generate addresses on A's domain.
    req.set_domain("feedback.zeta.test");
    EXPECT_EQ(envelope_->GenerateAddresses(Ctx(b_key).get(), req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiTest, RotationKeepsOldTokensUntilRetired) {
    auto [id, key] = NewAccount("theta");
    v1::GenerateAddressesRequest req;
    req.set_mailing_id(9);
    req.add_recipient_ids(9);
    v1::GenerateAddressesResponse old_resp;
    ASSERT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &old_resp).ok());
    EXPECT_EQ(old_resp.key_id(), 1u);

    v1::RotateEnvelopeKeyRequest rot;
    rot.set_account_id(id);
    v1::Account account;
    ASSERT_TRUE(accounts_->RotateEnvelopeKey(Ctx(kAdminKey).get(), rot, &account).ok());
    EXPECT_EQ(account.envelope_key_id(), 2u);
    v1::GenerateAddressesResponse new_resp;
    ASSERT_TRUE(envelope_->GenerateAddresses(Ctx(key).get(), req, &new_resp).ok());
    EXPECT_EQ(new_resp.key_id(), 2u);
    EXPECT_NE(new_resp.addresses(0), old_resp.addresses(0));

    auto decode = [&](const std::string& address) {
        v1::DecodeAddressRequest dreq;
        dreq.set_address(address);
        v1::DecodeAddressResponse dresp;
        EXPECT_TRUE(envelope_->DecodeAddress(Ctx(key).get(), dreq, &dresp).ok());
        return dresp.status();
    };
    EXPECT_EQ(decode(old_resp.addresses(0)), v1::TOKEN_STATUS_VALID);
    v1::RetireEnvelopeKeyRequest ret;
    ret.set_account_id(id);
    ret.set_key_id(2);
    EXPECT_EQ(accounts_->RetireEnvelopeKey(Ctx(kAdminKey).get(), ret, &account).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION)
        << "the current key cannot be retired";
    ret.set_key_id(1);
    ASSERT_TRUE(accounts_->RetireEnvelopeKey(Ctx(kAdminKey).get(), ret, &account).ok());
    EXPECT_EQ(decode(old_resp.addresses(0)), v1::TOKEN_STATUS_RETIRED_KEY);
    EXPECT_EQ(decode(new_resp.addresses(0)), v1::TOKEN_STATUS_VALID);
}

TEST_F(ApiTest, StreamingCoversRangesAndIdsInOrder) {
    auto [id, key] = NewAccount("iota");
    auto ctx = Ctx(key);
    auto stream = envelope_->StreamGenerateAddresses(ctx.get());
    v1::StreamGenerateAddressesRequest req;
    req.set_mailing_id(77);
    req.set_batch_id(1);
    req.add_recipient_ids(5);
    req.add_recipient_ids(3);
    auto* range = req.add_ranges();
    range->set_first(1000);
    range->set_count(25000);
    ASSERT_TRUE(stream->Write(req));
    v1::StreamGenerateAddressesRequest second;
    second.set_batch_id(2);
    second.add_recipient_ids(UINT64_MAX);
    ASSERT_TRUE(stream->Write(second));
    stream->WritesDone();

    std::vector<std::string> batch1;
    std::vector<std::string> batch2;
    v1::StreamGenerateAddressesResponse resp;
    int complete = 0;
    while (stream->Read(&resp)) {
        auto& target = resp.batch_id() == 1 ? batch1 : batch2;
        EXPECT_EQ(resp.offset(), target.size());
        EXPECT_LE(resp.addresses_size(), 10000);
        for (const auto& a : resp.addresses())
            target.push_back(a);
        complete += resp.batch_complete() ? 1 : 0;
    }
    grpc::Status st = stream->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(complete, 2);
    ASSERT_EQ(batch1.size(), 25002u);
    ASSERT_EQ(batch2.size(), 1u);
    const envelope::AccountKeys keys{id, 1, {}};
    auto recipient_of = [&](const std::string& address) {
        auto d = codec_->DecodeLocalPart(address.substr(0, address.find('@')), keys, envelope::Today());
        EXPECT_EQ(d.status, envelope::TokenStatus::kValid) << address;
        EXPECT_EQ(d.token.mailing_id, 77u);
        return d.token.recipient_id;
    };
    EXPECT_EQ(recipient_of(batch1[0]), 5u);
    EXPECT_EQ(recipient_of(batch1[1]), 3u);
    EXPECT_EQ(recipient_of(batch1[2]), 1000u);
    EXPECT_EQ(recipient_of(batch1[25001]), 25999u);
    EXPECT_EQ(recipient_of(batch2[0]), UINT64_MAX);
}

TEST_F(ApiTest, StreamingRejectsOverflowingRanges) {
    auto [id, key] = NewAccount("kappa");
    auto ctx = Ctx(key);
    auto stream = envelope_->StreamGenerateAddresses(ctx.get());
    v1::StreamGenerateAddressesRequest req;
    auto* range = req.add_ranges();
    range->set_first(UINT64_MAX - 1);
    range->set_count(3);
    stream->Write(req);
    stream->WritesDone();
    v1::StreamGenerateAddressesResponse resp;
    while (stream->Read(&resp)) {
    }
    grpc::Status st = stream->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("ranges"), std::string::npos) << st.error_message();
}

TEST(ToGrpcTest, DatabaseTextNeverReachesClients) {
    absl::Status from_database;
    try {
        throw pqxx::foreign_key_violation("ERROR: insert or update violates foreign key", "INSERT ...", "23503");
    } catch (...) {
        from_database = storage::StatusFromException("api_key_insert");
    }
    ASSERT_EQ(from_database.code(), absl::StatusCode::kFailedPrecondition);
    const grpc::Status st = ToGrpc(from_database, "CreateApiKey");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(st.error_message().find("SQLSTATE"), std::string::npos) << st.error_message();
    EXPECT_EQ(st.error_message().find("api_key_insert"), std::string::npos) << st.error_message();
    const grpc::Status unavailable = ToGrpc(absl::UnavailableError("connect: could not connect to server"), "X");
    EXPECT_EQ(unavailable.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(unavailable.error_message().find("connect"), std::string::npos) << unavailable.error_message();
    const grpc::Status mine = ToGrpc(absl::InvalidArgumentError("page_size: at most 1000"), "X");
    EXPECT_EQ(mine.error_message(), "page_size: at most 1000");
}

}  // namespace
}  // namespace rebound::api
