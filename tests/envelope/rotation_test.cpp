#include "services/envelope/rotation.h"

#include <gtest/gtest.h>

#include <limits>

namespace rebound::envelope {
namespace {

constexpr std::uint32_t kDay = 20414;
const std::string kMasterHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(Rotation, StateOfKey) {
    const AccountKeys keys{1, 5, {2}};
    EXPECT_EQ(StateOfKey(keys, 5), KeyState::kCurrent);
    EXPECT_EQ(StateOfKey(keys, 4), KeyState::kVerifies);
    EXPECT_EQ(StateOfKey(keys, 0), KeyState::kVerifies);
    EXPECT_EQ(StateOfKey(keys, 2), KeyState::kRetired);
    EXPECT_EQ(StateOfKey(keys, 6), KeyState::kUnknown);
}

TEST(Rotation, ValidateRejectsInconsistentState) {
    EXPECT_TRUE(ValidateAccountKeys({1, 5, {1, 2}}).ok());
    EXPECT_FALSE(ValidateAccountKeys({1, 5, {5}}).ok());
    EXPECT_FALSE(ValidateAccountKeys({1, 5, {7}}).ok());
    EXPECT_FALSE(ValidateAccountKeys({1, 5, {2, 2}}).ok());
    AccountKeys many{1, 100000, {}};
    for (std::uint32_t i = 0; i <= kMaxRetiredKeyIds; ++i)
        many.retired_key_ids.push_back(i);
    EXPECT_FALSE(ValidateAccountKeys(many).ok());
}

TEST(Rotation, RotateThenRetireDrivesTheCodec) {
    auto codec = Codec::Create(kMasterHex, "", 60);
    ASSERT_TRUE(codec.ok());
    AccountKeys keys{3, 1, {}};
    const std::string first = *codec->EncodeLocalPart(keys, 10, 20, kDay);

    auto rotated = RotateKey(keys);
    ASSERT_TRUE(rotated.ok());
    EXPECT_EQ(rotated->current_key_id, 2u);
    const std::string second = *codec->EncodeLocalPart(*rotated, 10, 20, kDay);
    EXPECT_EQ(codec->DecodeLocalPart(second, *rotated, kDay).token.key_id, 2u);
    EXPECT_EQ(codec->DecodeLocalPart(first, *rotated, kDay).status, TokenStatus::kValid);

    EXPECT_EQ(RetireKey(*rotated, 2).status().code(), absl::StatusCode::kFailedPrecondition);  // current
    EXPECT_EQ(RetireKey(*rotated, 3).status().code(), absl::StatusCode::kFailedPrecondition);  // unknown
    auto retired = RetireKey(*rotated, 1);
    ASSERT_TRUE(retired.ok());
    EXPECT_EQ(retired->retired_key_ids, std::vector<std::uint32_t>{1});
    EXPECT_EQ(codec->DecodeLocalPart(first, *retired, kDay).status, TokenStatus::kRetiredKey);
    EXPECT_EQ(codec->DecodeLocalPart(second, *retired, kDay).status, TokenStatus::kValid);
    // Idempotent.
    auto again = RetireKey(*retired, 1);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->retired_key_ids, std::vector<std::uint32_t>{1});
}

TEST(Rotation, RetiredIdsStaySortedAndBounded) {
    AccountKeys keys{1, 10, {}};
    for (std::uint32_t id : {7u, 3u, 9u, 0u}) {
        auto next = RetireKey(keys, id);
        ASSERT_TRUE(next.ok());
        keys = *next;
    }
    EXPECT_EQ(keys.retired_key_ids, (std::vector<std::uint32_t>{0, 3, 7, 9}));
    AccountKeys full{1, 100000, {}};
    for (std::uint32_t i = 0; i < kMaxRetiredKeyIds; ++i)
        full.retired_key_ids.push_back(i);
    EXPECT_EQ(RetireKey(full, 99999).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Rotation, TheLastKeyIdCannotRotate) {
    const AccountKeys last{1, std::numeric_limits<std::uint32_t>::max(), {}};
    EXPECT_EQ(RotateKey(last).status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_FALSE(RotateKey({1, 5, {5}}).ok());
}

}  // namespace
}  // namespace rebound::envelope
