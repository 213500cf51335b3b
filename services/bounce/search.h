#pragma once
// Substring search for the bounce parsers. Internal to rebound::bounce.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rebound::bounce {

// Position of `needle` in `text` at or after `from`, npos if absent; as std::string_view::find,
// but long texts go through memmem, which skips ahead by more than one byte (string_view::find
// stops at every occurrence of the needle's first byte, and in English text that is often).
inline std::size_t FindBytes(std::string_view text, std::string_view needle, std::size_t from = 0) {
    if (from > text.size()) return std::string_view::npos;
    if (needle.empty()) return from;
    // memmem sets up a 256-byte shift table per call: short texts are cheaper the simple way.
    if (text.size() - from < 512 || needle.size() < 3) return text.find(needle, from);
    const void* at = memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
    return at == nullptr ? std::string_view::npos : static_cast<std::size_t>(static_cast<const char*>(at) - text.data());
}

// `text` with ASCII A-Z lowered (as rebound::AsciiLower), eight bytes at a time.
inline void LowerAsciiInto(std::string_view text, std::string& out) {
    out.resize(text.size());
    const char* in = text.data();
    char* o = out.data();
    std::size_t n = text.size();
    std::size_t i = 0;
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x;
        std::memcpy(&x, in + i, 8);
        std::uint64_t low7 = x & (0x7F * kOnes);
        // Per byte, bit 7 set when its low 7 bits are >= 'A', and when they are > 'Z'.
        std::uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;
        std::uint64_t gt_z = low7 + (0x7F - 'Z') * kOnes;
        std::uint64_t upper = (ge_a ^ gt_z) & ~x & (0x80 * kOnes);
        x |= upper >> 2;  // 0x80 >> 2 == 0x20
        std::memcpy(o + i, &x, 8);
    }
    for (; i < n; ++i) {
        char c = in[i];
        o[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
}

inline std::string LowerAscii(std::string_view text) {
    std::string out;
    LowerAsciiInto(text, out);
    return out;
}

}  // namespace rebound::bounce
