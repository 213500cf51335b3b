// The fast HMAC and the key derivation against OpenSSL's own one-shot functions and the
// RFC test vectors.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>
#include <string>
#include <vector>

#include "services/envelope/hmac.h"
#include "services/envelope/keys.h"

namespace rebound::envelope {
namespace {

std::vector<std::uint8_t> Bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

std::string Hex(const std::uint8_t* p, std::size_t n) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(kDigits[p[i] >> 4]);
        out.push_back(kDigits[p[i] & 15]);
    }
    return out;
}

std::vector<std::uint8_t> OpenSslHmac(const std::vector<std::uint8_t>& key, const std::vector<std::uint8_t>& msg) {
    std::vector<std::uint8_t> out(32);
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), out.data(), &len);
    EXPECT_EQ(len, 32u);
    return out;
}

TEST(HmacSha256, Rfc4231TestCase2) {
    const HmacSha256 mac(Bytes("Jefe"));
    std::uint8_t out[kSha256Bytes];
    const auto msg = Bytes("what do ya want for nothing?");
    mac.Compute(msg, out);
    EXPECT_EQ(Hex(out, sizeof out), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, Rfc4231TestCase6KeyLongerThanABlock) {
    const std::vector<std::uint8_t> key(131, 0xaa);
    const HmacSha256 mac(key);
    std::uint8_t out[kSha256Bytes];
    mac.Compute(Bytes("Test Using Larger Than Block-Size Key - Hash Key First"), out);
    EXPECT_EQ(Hex(out, sizeof out), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, MatchesOpenSslHmacForRandomKeysAndMessages) {
    std::mt19937_64 rng(42);
    for (int rep = 0; rep < 400; ++rep) {
        std::vector<std::uint8_t> key(rng() % 140);
        std::vector<std::uint8_t> msg(rng() % 200);
        for (auto& b : key)
            b = static_cast<std::uint8_t>(rng());
        for (auto& b : msg)
            b = static_cast<std::uint8_t>(rng());
        const HmacSha256 mac(key);
        std::uint8_t out[kSha256Bytes];
        mac.Compute(msg, out);
        EXPECT_EQ(std::vector<std::uint8_t>(out, out + 32), OpenSslHmac(key, msg)) << rep;
        // Reusable, and copies (construction and assignment) carry the precomputed state.
        HmacSha256 copy = mac;
        std::uint8_t again[kSha256Bytes];
        copy.Compute(msg, again);
        EXPECT_EQ(Hex(out, 32), Hex(again, 32));
        copy = HmacSha256(std::vector<std::uint8_t>(1, 0x42));
        copy = mac;
        copy.Compute(msg, again);
        EXPECT_EQ(Hex(out, 32), Hex(again, 32));
    }
}

// RFC 5869 HKDF written out with HMAC(): extract, then one expand block (32 bytes).
std::vector<std::uint8_t> ReferenceHkdf(const std::vector<std::uint8_t>& ikm, std::uint64_t account,
                                        std::uint32_t key_id) {
    const std::vector<std::uint8_t> prk = OpenSslHmac(Bytes(kKdfSalt), ikm);
    std::vector<std::uint8_t> info = Bytes(kKdfInfoLabel);
    for (int shift = 56; shift >= 0; shift -= 8)
        info.push_back(static_cast<std::uint8_t>(account >> shift));
    for (int shift = 24; shift >= 0; shift -= 8)
        info.push_back(static_cast<std::uint8_t>(key_id >> shift));
    info.push_back(0x01);
    return OpenSslHmac(prk, info);
}

TEST(DeriveTokenKey, IsHkdfSha256WithAccountAndKeyIdInTheInfo) {
    std::vector<std::uint8_t> master(32);
    for (std::size_t i = 0; i < master.size(); ++i)
        master[i] = static_cast<std::uint8_t>(i * 7 + 1);
    for (std::uint64_t account : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{123456789}, ~std::uint64_t{0}}) {
        for (std::uint32_t key_id : {0u, 1u, 2u, 0xffffffffu}) {
            std::array<std::uint8_t, kDerivedKeyBytes> key;
            ASSERT_TRUE(DeriveTokenKey(master, account, key_id, &key).ok());
            EXPECT_EQ(std::vector<std::uint8_t>(key.begin(), key.end()), ReferenceHkdf(master, account, key_id))
                << account << "/" << key_id;
        }
    }
}

TEST(DeriveTokenKey, DistinctInputsGiveDistinctKeys) {
    const std::vector<std::uint8_t> master(32, 0x11);
    std::vector<std::uint8_t> other = master;
    other[31] ^= 1;
    std::array<std::uint8_t, kDerivedKeyBytes> a;
    std::array<std::uint8_t, kDerivedKeyBytes> b;
    std::array<std::uint8_t, kDerivedKeyBytes> c;
    std::array<std::uint8_t, kDerivedKeyBytes> d;
    ASSERT_TRUE(DeriveTokenKey(master, 1, 1, &a).ok());
    ASSERT_TRUE(DeriveTokenKey(master, 2, 1, &b).ok());
    ASSERT_TRUE(DeriveTokenKey(master, 1, 2, &c).ok());
    ASSERT_TRUE(DeriveTokenKey(other, 1, 1, &d).ok());
    EXPECT_NE(a, b);
    EXPECT_NE(a, c);
    EXPECT_NE(a, d);
    // Account and key id are fixed-width: (1, 256) and (256, 1) cannot collide by layout.
    ASSERT_TRUE(DeriveTokenKey(master, 1, 256, &b).ok());
    ASSERT_TRUE(DeriveTokenKey(master, 256, 1, &c).ok());
    EXPECT_NE(b, c);
}

TEST(DeriveTokenKey, RejectsEmptyMaster) {
    std::array<std::uint8_t, kDerivedKeyBytes> key;
    EXPECT_FALSE(DeriveTokenKey({}, 1, 1, &key).ok());
}

TEST(GenerateMasterKeyHex, GivesDistinctHexKeysOfTheAskedLength) {
    auto a = GenerateMasterKeyHex();
    auto b = GenerateMasterKeyHex();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->size(), 64u);
    EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(*a, *b);
    auto parsed = ParseHexSecret(*a);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->size(), 32u);
    auto big = GenerateMasterKeyHex(1024);
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(big->size(), 2048u);
    EXPECT_FALSE(GenerateMasterKeyHex(31).ok());
    EXPECT_FALSE(GenerateMasterKeyHex(1025).ok());
}

TEST(ParseHexSecret, AcceptsBothCasesAndRejectsJunkWithoutEchoingIt) {
    auto ok = ParseHexSecret("00ffAbcD");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, (std::vector<std::uint8_t>{0x00, 0xff, 0xab, 0xcd}));
    for (std::string_view bad : {"0", "abc", "zz", "00 1", "0x00", "secretXY"}) {
        auto r = ParseHexSecret(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(std::string(r.status().message()).find(bad), std::string::npos) << bad;
    }
}

}  // namespace
}  // namespace rebound::envelope
