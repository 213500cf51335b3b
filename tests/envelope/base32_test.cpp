#include "services/envelope/base32.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace rebound::envelope {
namespace {

std::string Encode(const std::vector<std::uint8_t>& data) {
    std::string out(Base32Length(data.size()), '\0');
    EXPECT_EQ(Base32Encode(data.data(), data.size(), out.data()), out.size());
    return out;
}

std::ptrdiff_t Decode(std::string_view text, std::vector<std::uint8_t>* out) {
    out->assign(64, 0);
    const std::ptrdiff_t n = Base32Decode(text, out->data(), out->size());
    if (n >= 0) out->resize(static_cast<std::size_t>(n));
    return n;
}

TEST(Base32, KnownValues) {
    EXPECT_EQ(Encode({}), "");
    EXPECT_EQ(Encode({0x00}), "00");
    EXPECT_EQ(Encode({0xff}), "zw");
    EXPECT_EQ(Encode({0xff, 0xff, 0xff, 0xff, 0xff}), "zzzzzzzz");
    EXPECT_EQ(Encode({0x08, 0x86, 0x42, 0x98, 0xe8}), "12345678");
}

TEST(Base32, RoundTripsRandomBytesOfEveryLength) {
    std::mt19937_64 rng(7);
    for (std::size_t len = 0; len <= 40; ++len) {
        for (int rep = 0; rep < 50; ++rep) {
            std::vector<std::uint8_t> data(len);
            for (auto& b : data)
                b = static_cast<std::uint8_t>(rng());
            const std::string text = Encode(data);
            EXPECT_EQ(text.find_first_not_of(kBase32Alphabet), std::string::npos);
            std::vector<std::uint8_t> back;
            ASSERT_EQ(Decode(text, &back), static_cast<std::ptrdiff_t>(len));
            EXPECT_EQ(back, data);
            std::string upper = text;
            for (char& c : upper)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            ASSERT_EQ(Decode(upper, &back), static_cast<std::ptrdiff_t>(len));
            EXPECT_EQ(back, data);
        }
    }
}

TEST(Base32, RejectsCharactersOutsideTheAlphabet) {
    std::vector<std::uint8_t> out;
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        const bool valid = kBase32Alphabet.find(static_cast<char>(std::tolower(c))) != std::string_view::npos;
        // "0x" is a valid 2-character form when x's low 2 bits are zero; vary the first.
        std::string text = {ch, '0'};
        EXPECT_EQ(Decode(text, &out) >= 0, valid) << "character " << c;
    }
    // Crockford's look-alike letters are not aliased.
    for (const char* text : {"i0", "l0", "o0", "u0", "I0", "L0", "O0", "U0"})
        EXPECT_EQ(Decode(text, &out), -1) << text;
}

TEST(Base32, RejectsLengthsTheEncoderNeverProduces) {
    std::vector<std::uint8_t> out;
    for (std::size_t len = 0; len <= 40; ++len) {
        const std::string text(len, '0');
        const bool producible = Base32Length(len * 5 / 8) == len;
        EXPECT_EQ(Decode(text, &out) >= 0, producible) << len;
    }
}

TEST(Base32, RejectsNonZeroUnusedBits) {
    std::vector<std::uint8_t> out;
    // One byte = 8 bits in two characters; the last 2 bits of the second must be zero.
    EXPECT_EQ(Decode("z0", &out), 1);
    EXPECT_EQ(Decode("z1", &out), -1);
    EXPECT_EQ(Decode("z2", &out), -1);
    EXPECT_EQ(Decode("z4", &out), 1);
}

TEST(Base32, RespectsOutputCapacity) {
    std::uint8_t buf[4];
    EXPECT_EQ(Base32Decode("zzzzzzzz", buf, sizeof buf), -1);
    EXPECT_EQ(Base32Decode("zzzzzzg", buf, sizeof buf), 4);
}

}  // namespace
}  // namespace rebound::envelope
