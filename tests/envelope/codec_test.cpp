#include "services/envelope/codec.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <cctype>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/envelope/base32.h"
#include "services/envelope/hmac.h"
#include "services/envelope/keys.h"

namespace rebound::envelope {
namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t kMax32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kDay = 20414;  // 2025-11-22
const std::string kMasterHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

Codec MakeCodec(std::string prefix = "b-", std::uint32_t stale_after_days = 60, const std::string& key = kMasterHex) {
    absl::StatusOr<Codec> codec = Codec::Create(key, std::move(prefix), stale_after_days);
    EXPECT_TRUE(codec.ok()) << codec.status().message();
    return std::move(*codec);
}

AccountKeys Account(std::uint64_t id, std::uint32_t current = 1, std::vector<std::uint32_t> retired = {}) {
    return AccountKeys{id, current, std::move(retired)};
}

std::string Encode(const Codec& codec, const AccountKeys& keys, std::uint64_t mailing, std::uint64_t recipient,
                   std::uint32_t day = kDay) {
    absl::StatusOr<std::string> local = codec.EncodeLocalPart(keys, mailing, recipient, day);
    EXPECT_TRUE(local.ok()) << local.status().message();
    return local.ok() ? *local : std::string();
}

std::uint64_t RandomId(std::mt19937_64& rng) {
    // Mix magnitudes: ids of every byte length, plus the edges.
    switch (rng() % 4) {
        case 0:
            return rng();
        case 1:
            return rng() >> (rng() % 64);
        case 2:
            return rng() % 1000;
        default: {
            const std::uint64_t edges[] = {0,          1,          255,   256, 65535, 65536, (1ull << 56) - 1,
                                           1ull << 56, kMax64 - 1, kMax64};
            return edges[rng() % std::size(edges)];
        }
    }
}

TEST(CodecCreate, RejectsBadMasterKeysWithoutEchoingThem) {
    const std::string too_long(2 * kMaxMasterKeyBytes + 2, 'a');
    for (const std::string& key : {std::string(), std::string("00"), std::string(62, 'a'), std::string(63, 'a'),
                                   std::string(64, 'g'), std::string(63, 'a') + "Z", too_long}) {
        auto codec = Codec::Create(key, "", 60);
        ASSERT_FALSE(codec.ok()) << key.size();
        EXPECT_EQ(codec.status().code(), absl::StatusCode::kInvalidArgument);
        if (!key.empty()) {
            EXPECT_EQ(std::string(codec.status().message()).find(key), std::string::npos);
        }
    }
    EXPECT_TRUE(Codec::Create(std::string(64, 'A'), "", 60).ok());
    EXPECT_TRUE(Codec::Create(std::string(2 * kMaxMasterKeyBytes, 'f'), "", 60).ok());
}

TEST(CodecCreate, ValidatesThePrefix) {
    EXPECT_TRUE(Codec::Create(kMasterHex, "", 60).ok());
    EXPECT_TRUE(Codec::Create(kMasterHex, "bnc.-_", 60).ok());
    auto upper = Codec::Create(kMasterHex, "B-", 60);
    ASSERT_TRUE(upper.ok());
    EXPECT_EQ(upper->prefix(), "b-");
    for (const char* bad : {"bounce-", "a b", "b+", "b@", "ü"})
        EXPECT_FALSE(Codec::Create(kMasterHex, bad, 60).ok()) << bad;
}

TEST(Codec, RoundTripsRandomIdsIncludingZeroAndMax) {
    const Codec codec = MakeCodec();
    std::mt19937_64 rng(1);
    std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint32_t, std::uint32_t>> cases = {
        {0, 0, 0, 0}, {kMax64, kMax64, kMax32, kMax32}, {0, kMax64, 1, kDay}, {kMax64, 0, kMax32, 0}};
    for (int i = 0; i < 20000; ++i) {
        cases.emplace_back(RandomId(rng), RandomId(rng), static_cast<std::uint32_t>(RandomId(rng)),
                           static_cast<std::uint32_t>(rng() % 3 == 0 ? rng() : kDay + rng() % 10));
    }
    for (const auto& [mailing, recipient, key_id, day] : cases) {
        const AccountKeys keys = Account(rng() % 5, key_id);
        const std::string local = Encode(codec, keys, mailing, recipient, day);
        ASSERT_LE(local.size(), kMaxLocalPartOctets);
        ASSERT_EQ(local.substr(0, 2), "b-");
        // `today` = issue day: never stale.
        const Decoded d = codec.DecodeLocalPart(local, keys, day);
        ASSERT_EQ(d.status, TokenStatus::kValid) << local;
        EXPECT_EQ(d.token, (Token{kTokenVersion, key_id, mailing, recipient, day})) << local;
    }
}

TEST(Codec, EncoderMatchesEncodeLocalPart) {
    const Codec codec = MakeCodec();
    const AccountKeys keys = Account(7, 3, {1});
    absl::StatusOr<Encoder> encoder = codec.ForAccount(keys);
    ASSERT_TRUE(encoder.ok());
    EXPECT_EQ(encoder->key_id(), 3u);
    EXPECT_EQ(encoder->account_id(), 7u);
    std::mt19937_64 rng(2);
    for (int i = 0; i < 1000; ++i) {
        const std::uint64_t m = RandomId(rng);
        const std::uint64_t r = RandomId(rng);
        char buf[kMaxLocalPartOctets];
        const std::size_t n = encoder->EncodeTo(m, r, kDay, buf);
        EXPECT_EQ(std::string(buf, n), Encode(codec, keys, m, r));
        EXPECT_EQ(encoder->Encode(m, r, kDay), std::string(buf, n));
    }
}

TEST(Codec, EncodingIsDeterministicAndDistinct) {
    const Codec codec = MakeCodec();
    const AccountKeys keys = Account(1);
    EXPECT_EQ(Encode(codec, keys, 10, 20), Encode(codec, keys, 10, 20));
    std::set<std::string> seen;
    for (std::uint64_t m = 0; m < 30; ++m)
        for (std::uint64_t r = 0; r < 30; ++r)
            EXPECT_TRUE(seen.insert(Encode(codec, keys, m, r)).second);
}

// An independent construction of the documented layout (OpenSSL's one-shot HMAC, a
// byte-by-byte layout, a bit-by-bit base32) must give the same string: a change of the
// wire format cannot slip through as a consistent change of encoder and decoder.
TEST(Codec, MatchesTheDocumentedLayout) {
    auto master = ParseHexSecret(kMasterHex);
    ASSERT_TRUE(master.ok());
    std::array<std::uint8_t, kDerivedKeyBytes> key;
    ASSERT_TRUE(DeriveTokenKey(*master, 42, 3, &key).ok());
    // key 3 (1 byte), day 20414 = 0x4fbe (2), mailing 0x0186a0 (3), recipient 0x05f5e100 (4).
    std::vector<std::uint8_t> bytes = {
        0x20 | (2 << 2) | 0, (3 << 5) | (1 << 3), 0x03, 0x4f, 0xbe, 0x01, 0x86, 0xa0, 0x05, 0xf5, 0xe1, 0x00};
    std::uint8_t tag[32];
    unsigned int tag_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes.data(), bytes.size(), tag, &tag_len);
    bytes.insert(bytes.end(), tag, tag + kMacBytes);
    std::string bits;
    for (std::uint8_t b : bytes)
        for (int i = 7; i >= 0; --i)
            bits.push_back((b >> i & 1) ? '1' : '0');
    while (bits.size() % 5 != 0)
        bits.push_back('0');
    std::string expected = "b-";
    for (std::size_t i = 0; i < bits.size(); i += 5)
        expected.push_back(kBase32Alphabet[std::stoi(bits.substr(i, 5), nullptr, 2)]);

    const Codec codec = MakeCodec();
    EXPECT_EQ(Encode(codec, Account(42, 3), 100000, 100000000), expected);
    EXPECT_EQ(expected.size(), 2 + 36u);  // the "typical" size documented in codec.h
}

TEST(Codec, LongestLocalPartFitsIn64OctetsWithTheLongestPrefix) {
    const Codec codec = MakeCodec(std::string(kMaxPrefixLength, 'x'));
    const AccountKeys keys = Account(kMax64, kMax32);
    const std::string local = Encode(codec, keys, kMax64, kMax64, kMax32);
    EXPECT_EQ(local.size(), kMaxLocalPartOctets);
    EXPECT_EQ(codec.DecodeLocalPart(local, keys, kMax32).status, TokenStatus::kValid);
    // Every field length combination stays within the bound.
    std::mt19937_64 rng(3);
    for (int i = 0; i < 2000; ++i) {
        const AccountKeys k = Account(1, static_cast<std::uint32_t>(RandomId(rng)));
        EXPECT_LE(Encode(codec, k, RandomId(rng), RandomId(rng), static_cast<std::uint32_t>(RandomId(rng))).size(),
                  kMaxLocalPartOctets);
    }
    EXPECT_FALSE(Codec::Create(kMasterHex, std::string(kMaxPrefixLength + 1, 'x'), 60).ok());
}

TEST(Codec, SmallIdsGiveShortTokens) {
    const Codec codec = MakeCodec("");
    EXPECT_EQ(Encode(codec, Account(1), 1, 1, kDay).size(), 28u);  // 17 bytes
    EXPECT_LT(Encode(codec, Account(1), 1, 1).size(), Encode(codec, Account(1), 1ull << 40, 1ull << 40).size());
}

TEST(Codec, AnyCaseChangeStillDecodes) {
    const Codec codec = MakeCodec("b-");
    const AccountKeys keys = Account(9, 2);
    std::mt19937_64 rng(4);
    for (int i = 0; i < 500; ++i) {
        const std::uint64_t m = RandomId(rng);
        const std::uint64_t r = RandomId(rng);
        std::string local = Encode(codec, keys, m, r);
        std::string upper = local;
        for (char& c : upper)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        for (const std::string& variant :
             {upper, [&] {
                  std::string mixed = local;
                  for (char& c : mixed)
                      if (rng() % 2) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                  return mixed;
              }()}) {
            const Decoded d = codec.DecodeLocalPart(variant, keys, kDay);
            ASSERT_EQ(d.status, TokenStatus::kValid) << variant;
            EXPECT_EQ(d.token.mailing_id, m);
            EXPECT_EQ(d.token.recipient_id, r);
        }
    }
}

// Every character that could be put anywhere: the alphabet, upper case, and some others.
std::string Candidates() {
    std::string c(kBase32Alphabet);
    for (char ch : kBase32Alphabet)
        if (std::isalpha(static_cast<unsigned char>(ch))) c.push_back(static_cast<char>(std::toupper(ch)));
    c += "iloILOuU-_.+@= \x01\x7f\xff";
    return c;
}

bool SameIgnoringCase(char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

TEST(Codec, EverySingleCharacterChangeIsRejected) {
    const Codec codec = MakeCodec("b-");
    const AccountKeys keys = Account(5, 4);
    const std::string candidates = Candidates();
    std::mt19937_64 rng(5);
    std::vector<std::string> locals = {Encode(codec, keys, 0, 0), Encode(codec, keys, kMax64, kMax64, kMax32),
                                       Encode(codec, keys, 123456, 987654321)};
    for (int i = 0; i < 5; ++i)
        locals.push_back(Encode(codec, keys, RandomId(rng), RandomId(rng)));
    std::size_t checked = 0;
    for (const std::string& local : locals) {
        for (std::size_t pos = 0; pos < local.size(); ++pos) {
            for (char c : candidates) {
                if (SameIgnoringCase(c, local[pos])) continue;
                std::string changed = local;
                changed[pos] = c;
                const Decoded d = codec.DecodeLocalPart(changed, keys, kDay);
                ASSERT_FALSE(IsAttributed(d.status)) << local << " -> " << changed;
                EXPECT_EQ(d.token, Token{}) << changed;
                ++checked;
            }
        }
    }
    EXPECT_GT(checked, 10000u);
}

TEST(Codec, EveryInsertionDeletionAndTruncationIsRejected) {
    const Codec codec = MakeCodec("b-");
    const AccountKeys keys = Account(5, 4);
    const std::string candidates = Candidates();
    std::mt19937_64 rng(6);
    std::vector<std::string> locals = {Encode(codec, keys, 0, 0), Encode(codec, keys, kMax64, kMax64, kMax32)};
    for (int i = 0; i < 6; ++i)
        locals.push_back(Encode(codec, keys, RandomId(rng), RandomId(rng)));
    for (const std::string& local : locals) {
        for (std::size_t pos = 0; pos <= local.size(); ++pos) {
            for (char c : candidates) {
                std::string inserted = local;
                inserted.insert(pos, 1, c);
                ASSERT_FALSE(IsAttributed(codec.DecodeLocalPart(inserted, keys, kDay).status)) << inserted;
            }
        }
        for (std::size_t pos = 0; pos < local.size(); ++pos) {
            std::string deleted = local;
            deleted.erase(pos, 1);
            ASSERT_FALSE(IsAttributed(codec.DecodeLocalPart(deleted, keys, kDay).status)) << deleted;
        }
        for (std::size_t len = 0; len < local.size(); ++len) {
            ASSERT_FALSE(IsAttributed(codec.DecodeLocalPart(local.substr(0, len), keys, kDay).status)) << len;
            // Losing characters from the front (e.g. a mangled prefix) as well.
            ASSERT_FALSE(IsAttributed(codec.DecodeLocalPart(local.substr(len + 1), keys, kDay).status)) << len;
        }
    }
}

TEST(Codec, RotationUsesTheNewKeyAndOldKeysKeepVerifying) {
    const Codec codec = MakeCodec();
    AccountKeys keys = Account(11, 1);
    const std::string old_token = Encode(codec, keys, 100, 200);

    keys.current_key_id = 2;
    const std::string new_token = Encode(codec, keys, 100, 200);
    EXPECT_NE(old_token, new_token);
    Decoded d = codec.DecodeLocalPart(new_token, keys, kDay);
    ASSERT_EQ(d.status, TokenStatus::kValid);
    EXPECT_EQ(d.token.key_id, 2u);
    d = codec.DecodeLocalPart(old_token, keys, kDay);
    ASSERT_EQ(d.status, TokenStatus::kValid);
    EXPECT_EQ(d.token.key_id, 1u);

    // A token from a key newer than the account knows (e.g. a database restored from backup).
    const AccountKeys behind = Account(11, 1);
    EXPECT_EQ(codec.DecodeLocalPart(new_token, behind, kDay).status, TokenStatus::kUnknownKey);
    EXPECT_EQ(codec.DecodeLocalPart(new_token, behind, kDay).token, Token{});
}

TEST(Codec, RetiredKeysNoLongerVerify) {
    const Codec codec = MakeCodec();
    AccountKeys keys = Account(12, 1);
    const std::string token1 = Encode(codec, keys, 1, 2);
    keys.current_key_id = 2;
    const std::string token2 = Encode(codec, keys, 1, 2);
    keys.retired_key_ids = {1};
    Decoded d = codec.DecodeLocalPart(token1, keys, kDay);
    EXPECT_EQ(d.status, TokenStatus::kRetiredKey);
    EXPECT_EQ(d.token, Token{});
    EXPECT_EQ(codec.DecodeLocalPart(token2, keys, kDay).status, TokenStatus::kValid);
    // Minting with a retired current key is refused rather than producing dead addresses.
    keys.retired_key_ids = {2};
    EXPECT_EQ(codec.EncodeLocalPart(keys, 1, 2, kDay).status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_FALSE(codec.ForAccount(keys).ok());
    // An absurd retired list is a caller bug: refused when encoding, never verified when decoding.
    AccountKeys absurd = Account(12, 2);
    absurd.retired_key_ids.assign(kMaxRetiredKeyIds + 1, 1000);
    EXPECT_EQ(codec.EncodeLocalPart(absurd, 1, 2, kDay).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(IsAttributed(codec.DecodeLocalPart(token2, absurd, kDay).status));
}

TEST(Codec, StalenessIsFlaggedButStillAttributed) {
    const Codec codec = MakeCodec("", 60);
    const AccountKeys keys = Account(13);
    const std::string local = Encode(codec, keys, 77, 88, kDay);
    EXPECT_EQ(codec.DecodeLocalPart(local, keys, kDay).status, TokenStatus::kValid);
    EXPECT_EQ(codec.DecodeLocalPart(local, keys, kDay + 60).status, TokenStatus::kValid);
    const Decoded d = codec.DecodeLocalPart(local, keys, kDay + 61);
    EXPECT_EQ(d.status, TokenStatus::kStale);
    EXPECT_TRUE(IsAttributed(d.status));
    EXPECT_EQ(d.token, (Token{kTokenVersion, 1, 77, 88, kDay}));
    EXPECT_EQ(codec.DecodeLocalPart(local, keys, kMax32).status, TokenStatus::kStale);
    // Issued "in the future" (fast sender clock, pre-generated addresses): not stale.
    EXPECT_EQ(codec.DecodeLocalPart(local, keys, kDay - 5).status, TokenStatus::kValid);
    EXPECT_EQ(codec.DecodeLocalPart(local, keys, 0).status, TokenStatus::kValid);
    // 0 disables staleness.
    const Codec never = MakeCodec("", 0);
    EXPECT_EQ(never.DecodeLocalPart(Encode(never, keys, 77, 88, 0), keys, kMax32).status, TokenStatus::kValid);
}

TEST(Codec, TokensDoNotVerifyUnderAnotherAccountOrMasterKey) {
    const Codec codec = MakeCodec();
    std::mt19937_64 rng(8);
    for (int i = 0; i < 200; ++i) {
        const std::uint64_t a = RandomId(rng);
        std::uint64_t b = RandomId(rng);
        if (b == a) b = a + 1;
        const std::string local = Encode(codec, Account(a, 3), RandomId(rng), RandomId(rng));
        EXPECT_EQ(codec.DecodeLocalPart(local, Account(b, 3), kDay).status, TokenStatus::kForged);
        EXPECT_EQ(codec.DecodeLocalPart(local, Account(a, 3), kDay).status, TokenStatus::kValid);
    }
    std::string other_key = kMasterHex;
    other_key[0] = '1';
    const Codec other = MakeCodec("b-", 60, other_key);
    const std::string local = Encode(codec, Account(1), 5, 6);
    EXPECT_EQ(other.DecodeLocalPart(local, Account(1), kDay).status, TokenStatus::kForged);
}

TEST(Codec, PrefixIsRequiredAndMatchedIgnoringCase) {
    const Codec codec = MakeCodec("b-");
    const AccountKeys keys = Account(1);
    const std::string local = Encode(codec, keys, 5, 6);
    EXPECT_EQ(codec.DecodeLocalPart("B-" + local.substr(2), keys, kDay).status, TokenStatus::kValid);
    EXPECT_EQ(codec.DecodeLocalPart("c-" + local.substr(2), keys, kDay).status, TokenStatus::kMalformed);
    EXPECT_EQ(codec.DecodeLocalPart(local.substr(2), keys, kDay).status, TokenStatus::kMalformed);
    // The same token under a codec without prefix is a different string.
    const Codec bare = MakeCodec("");
    EXPECT_EQ(bare.DecodeLocalPart(local.substr(2), keys, kDay).status, TokenStatus::kValid);
}

TEST(Codec, MalformedInputs) {
    const Codec codec = MakeCodec("");
    const AccountKeys keys = Account(1);
    const std::string valid = Encode(codec, keys, 5, 6);
    for (const std::string& bad :
         {std::string(), std::string("0"), std::string("00"), std::string("hello world"), std::string("@@@@"),
          std::string("postmaster"), std::string(valid.size(), 'i'), std::string(valid.size(), 'z'),
          std::string(valid.size(), '0'), valid + valid, std::string(65, '0'), std::string(1000, 'a'),
          std::string(100000, '\0'), valid.substr(0, 10) + '\0' + valid.substr(11), "\"" + valid + "\""}) {
        EXPECT_EQ(codec.DecodeLocalPart(bad, keys, kDay).status, TokenStatus::kMalformed) << bad.size();
    }
}

// Builds a token from raw bytes with a correct MAC: only the decoder's layout checks stand
// between such bytes and acceptance.
std::string SignedToken(std::vector<std::uint8_t> body, std::uint64_t account, std::uint32_t key_id) {
    auto master = ParseHexSecret(kMasterHex);
    std::array<std::uint8_t, kDerivedKeyBytes> key;
    EXPECT_TRUE(DeriveTokenKey(*master, account, key_id, &key).ok());
    std::uint8_t tag[kSha256Bytes];
    HmacSha256(key).Compute(body, tag);
    body.insert(body.end(), tag, tag + kMacBytes);
    std::string out(Base32Length(body.size()), '\0');
    Base32Encode(body.data(), body.size(), out.data());
    return out;
}

TEST(Codec, LayoutChecksHoldEvenWithACorrectMac) {
    const Codec codec = MakeCodec("");
    const AccountKeys keys = Account(1, 1);
    // Sanity: the canonical form of (key 1, day 1, mailing 1, recipient 1) is accepted.
    EXPECT_EQ(codec.DecodeLocalPart(SignedToken({0x20, 0x00, 1, 1, 1, 1}, 1, 1), keys, 1).status, TokenStatus::kValid);
    // Non-minimal mailing id (2 bytes with a leading zero): one token, one spelling.
    EXPECT_EQ(codec.DecodeLocalPart(SignedToken({0x20 | 1 << 2, 0x00, 1, 1, 0, 1, 1}, 1, 1), keys, 1).status,
              TokenStatus::kMalformed);
    // Reserved bits set.
    EXPECT_EQ(codec.DecodeLocalPart(SignedToken({0x20, 0x01, 1, 1, 1, 1}, 1, 1), keys, 1).status,
              TokenStatus::kMalformed);
    // Other versions.
    for (std::uint8_t version : {0, 2, 7}) {
        const auto b0 = static_cast<std::uint8_t>(version << 5);
        EXPECT_EQ(codec.DecodeLocalPart(SignedToken({b0, 0x00, 1, 1, 1, 1}, 1, 1), keys, 1).status,
                  TokenStatus::kMalformed);
    }
    // Lengths that disagree with the header (one byte of body missing / extra).
    EXPECT_EQ(codec.DecodeLocalPart(SignedToken({0x20, 0x00, 1, 1, 1}, 1, 1), keys, 1).status, TokenStatus::kMalformed);
    EXPECT_EQ(codec.DecodeLocalPart(SignedToken({0x20, 0x00, 1, 1, 1, 1, 1}, 1, 1), keys, 1).status,
              TokenStatus::kMalformed);
}

TEST(Codec, ManyAccountsBeyondTheKeyCacheStillVerify) {
    const Codec codec = MakeCodec("");
    // More (account, key) pairs than the cache holds: the overflow is derived per call.
    std::vector<std::string> locals;
    const std::uint64_t accounts = kMaxCachedKeys + 50;
    for (std::uint64_t a = 0; a < accounts; ++a) {
        auto local = codec.EncodeLocalPart(Account(a), a, a, kDay);
        ASSERT_TRUE(local.ok());
        if (a % 1000 == 0 || a + 50 >= accounts) locals.push_back(*local);
    }
    std::size_t i = 0;
    for (std::uint64_t a = 0; a < accounts; ++a) {
        if (!(a % 1000 == 0 || a + 50 >= accounts)) continue;
        const Decoded d = codec.DecodeLocalPart(locals[i++], Account(a), kDay);
        ASSERT_EQ(d.status, TokenStatus::kValid) << a;
        EXPECT_EQ(d.token.mailing_id, a);
    }
}

TEST(Codec, ConcurrentUseFromManyThreads) {
    const Codec codec = MakeCodec("b-");
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937_64 rng(100 + t);
            for (int i = 0; i < 5000; ++i) {
                // Overlapping accounts, so threads race to derive the same keys.
                const AccountKeys keys = Account(rng() % 300, 1 + rng() % 3);
                const std::uint64_t m = RandomId(rng);
                const std::uint64_t r = RandomId(rng);
                auto local = codec.EncodeLocalPart(keys, m, r, kDay);
                if (!local.ok()) {
                    ++failures;
                    continue;
                }
                const Decoded d = codec.DecodeLocalPart(*local, keys, kDay);
                if (d.status != TokenStatus::kValid || d.token.mailing_id != m || d.token.recipient_id != r) ++failures;
            }
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(Codec, MovedCodecKeepsWorking) {
    Codec a = MakeCodec("b-");
    const std::string local = Encode(a, Account(1), 1, 2);
    Codec b = std::move(a);
    EXPECT_EQ(b.DecodeLocalPart(local, Account(1), kDay).status, TokenStatus::kValid);
    EXPECT_EQ(b.prefix(), "b-");
}

TEST(TokenStatusName, NamesEveryStatus) {
    EXPECT_EQ(TokenStatusName(TokenStatus::kValid), "valid");
    EXPECT_EQ(TokenStatusName(TokenStatus::kStale), "stale");
    EXPECT_EQ(TokenStatusName(TokenStatus::kForged), "forged");
    EXPECT_EQ(TokenStatusName(TokenStatus::kMalformed), "malformed");
    EXPECT_EQ(TokenStatusName(TokenStatus::kUnknownKey), "unknown_key");
    EXPECT_EQ(TokenStatusName(TokenStatus::kRetiredKey), "retired_key");
}

TEST(SplitAddress, SplitsAtTheLastAt) {
    std::string_view local;
    std::string_view domain;
    ASSERT_TRUE(SplitAddress("b-abc@feedback.example.com", &local, &domain));
    EXPECT_EQ(local, "b-abc");
    EXPECT_EQ(domain, "feedback.example.com");
    ASSERT_TRUE(SplitAddress("\"a@b\"@example.com", &local, &domain));
    EXPECT_EQ(local, "\"a@b\"");
    for (std::string_view bad : {"", "@", "abc", "@example.com", "abc@"})
        EXPECT_FALSE(SplitAddress(bad, &local, &domain)) << bad;
}

}  // namespace
}  // namespace rebound::envelope
