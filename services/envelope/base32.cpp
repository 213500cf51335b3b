#include "services/envelope/base32.h"

#include <array>

namespace rebound::envelope {
namespace {

constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> MakeDecodeTable() {
    std::array<std::uint8_t, 256> table{};
    for (auto& v : table)
        v = kInvalid;
    for (std::size_t i = 0; i < kBase32Alphabet.size(); ++i) {
        const auto c = static_cast<unsigned char>(kBase32Alphabet[i]);
        table[c] = static_cast<std::uint8_t>(i);
        if (c >= 'a' && c <= 'z') table[c - 'a' + 'A'] = static_cast<std::uint8_t>(i);
    }
    return table;
}

constexpr std::array<std::uint8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

std::size_t Base32Encode(const std::uint8_t* data, std::size_t size, char* out) {
    std::size_t n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[n++] = kBase32Alphabet[(acc >> bits) & 31];
        }
    }
    if (bits > 0) out[n++] = kBase32Alphabet[(acc << (5 - bits)) & 31];
    return n;
}

std::ptrdiff_t Base32Decode(std::string_view text, std::uint8_t* out, std::size_t out_capacity) {
    const std::size_t bytes = text.size() * 5 / 8;
    const std::size_t spare_bits = text.size() * 5 - bytes * 8;
    // Base32Encode never leaves a whole character (5 bits) unused.
    if (spare_bits >= 5 || bytes > out_capacity) return -1;
    std::size_t n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : text) {
        const std::uint8_t v = kDecode[static_cast<unsigned char>(ch)];
        if (v == kInvalid) return -1;
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = static_cast<std::uint8_t>(acc >> bits);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0) return -1;
    return static_cast<std::ptrdiff_t>(n);
}

}  // namespace rebound::envelope
