#pragma once
// Substring search for the bounce parsers. Internal to rebound::bounce.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rebound::bounce {

// Position of `needle` in `text` at or after `from`, npos if absent; as std::string_view::find.
// string_view::find stops at every occurrence of the needle's first byte (a memchr call each, and
// in English text that is often); this compares the first and last bytes of the needle against
// 16 positions at once and looks closer only where both match.
inline std::size_t FindBytes(std::string_view text, std::string_view needle, std::size_t from = 0) {
    const std::size_t n = text.size();
    const std::size_t k = needle.size();
    if (from > n) return std::string_view::npos;
    if (k == 0) return from;
    if (k == 1) return text.find(needle[0], from);
    if (n - from < k) return std::string_view::npos;
    const char* s = text.data();
    const char* nd = needle.data();
    std::size_t i = from;
#if defined(__SSE2__)
    const __m128i first = _mm_set1_epi8(nd[0]);
    const __m128i last_byte = _mm_set1_epi8(nd[k - 1]);
    for (; i + k - 1 + 16 <= n; i += 16) {
        __m128i block_first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        __m128i block_last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + k - 1));
        auto mask = static_cast<unsigned>(_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(block_first, first), _mm_cmpeq_epi8(block_last, last_byte))));
        while (mask != 0) {
            auto bit = static_cast<std::size_t>(__builtin_ctz(mask));
            if (std::memcmp(s + i + bit + 1, nd + 1, k - 2) == 0) return i + bit;
            mask &= mask - 1;
        }
    }
    // The positions left (fewer than 16) in one more block, the last that fits in the text, without
    // those before `i`: a byte loop over them cost more than the search when the needle is long.
    if (n >= k - 1 + 16) {
        const std::size_t last = n - (k - 1) - 16;
        __m128i block_first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + last));
        __m128i block_last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + last + k - 1));
        auto mask = static_cast<unsigned>(_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(block_first, first), _mm_cmpeq_epi8(block_last, last_byte))));
        mask &= ~0u << (i - last);
        while (mask != 0) {
            auto bit = static_cast<std::size_t>(__builtin_ctz(mask));
            if (std::memcmp(s + last + bit + 1, nd + 1, k - 2) == 0) return last + bit;
            mask &= mask - 1;
        }
        return std::string_view::npos;
    }
#endif
    for (; i + k <= n; ++i) {
        if (s[i] == nd[0] && s[i + k - 1] == nd[k - 1] && std::memcmp(s + i + 1, nd + 1, k - 2) == 0) return i;
    }
    return std::string_view::npos;
}

// Position of the first `a` or `b` in `text` at or after `from`, npos if there is neither; sixteen
// bytes at a time.
inline std::size_t FindEitherByte(std::string_view text, char a, char b, std::size_t from = 0) {
    const char* s = text.data();
    const std::size_t n = text.size();
    std::size_t i = from;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    const __m128i vb = _mm_set1_epi8(b);
    for (; i + 16 <= n; i += 16) {
        __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        auto mask = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(block, va), _mm_cmpeq_epi8(block, vb))));
        if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#endif
    for (; i < n; ++i) {
        if (s[i] == a || s[i] == b) return i;
    }
    return std::string_view::npos;
}

// Position of the first CR or LF in `text` at or after `from`, npos if there is none (header values
// are unfolded line by line, and most have one line).
inline std::size_t FindLineBreak(std::string_view text, std::size_t from = 0) {
    return FindEitherByte(text, '\n', '\r', from);
}

// Position of `needle` (lower-case) in `text` at or after `from`, ignoring ASCII case; npos if absent.
// As FindBytes, with both sides' bytes ORed with 0x20 (which folds A-Z onto a-z) for the first and
// last byte, and the candidates compared with EqualsNoCase.
inline bool EqualsNoCase(std::string_view a, std::string_view b);
inline std::size_t FindNoCase(std::string_view text, std::string_view needle, std::size_t from = 0) {
    const std::size_t n = text.size();
    const std::size_t k = needle.size();
    if (from > n) return std::string_view::npos;
    if (k == 0) return from;
    if (n - from < k) return std::string_view::npos;
    const char* s = text.data();
    const char first_byte = static_cast<char>(needle[0] | 0x20);
    const char last_byte = static_cast<char>(needle[k - 1] | 0x20);
    std::size_t i = from;
#if defined(__SSE2__)
    const __m128i fold = _mm_set1_epi8(0x20);
    const __m128i first = _mm_set1_epi8(first_byte);
    const __m128i last = _mm_set1_epi8(last_byte);
    for (; i + k - 1 + 16 <= n; i += 16) {
        __m128i block_first = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)), fold);
        __m128i block_last = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + k - 1)), fold);
        auto mask = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(block_first, first), _mm_cmpeq_epi8(block_last, last))));
        for (; mask != 0; mask &= mask - 1) {
            std::size_t at = i + static_cast<std::size_t>(__builtin_ctz(mask));
            if (EqualsNoCase(text.substr(at, k), needle)) return at;
        }
    }
#endif
    for (; i + k <= n; ++i) {
        if ((s[i] | 0x20) == first_byte && (s[i + k - 1] | 0x20) == last_byte &&
            EqualsNoCase(text.substr(i, k), needle)) {
            return i;
        }
    }
    return std::string_view::npos;
}

// As rebound::StripWhitespace (blank, tab, CR, LF, FF, VT), inline: most callers pass values that
// have no outer blanks, which this tells from two bytes.
inline std::string_view Strip(std::string_view text) {
    auto blank = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (!text.empty() && blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && blank(text.back()))
        text.remove_suffix(1);
    return text;
}

// The eight bytes of `x` with ASCII A-Z lowered.
inline std::uint64_t LowerAsciiWord(std::uint64_t x) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    std::uint64_t low7 = x & (0x7F * kOnes);
    // Per byte, bit 7 set when its low 7 bits are >= 'A', and when they are > 'Z'.
    std::uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;
    std::uint64_t gt_z = low7 + (0x7F - 'Z') * kOnes;
    std::uint64_t upper = (ge_a ^ gt_z) & ~x & (0x80 * kOnes);
    return x | (upper >> 2);  // 0x80 >> 2 == 0x20
}

// in[0, n) with ASCII A-Z lowered into o[0, n) (`o` may be `in`), eight bytes at a time.
inline void LowerAsciiBytes(const char* in, char* o, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x;
        std::memcpy(&x, in + i, 8);
        x = LowerAsciiWord(x);
        std::memcpy(o + i, &x, 8);
    }
    for (; i < n; ++i) {
        char c = in[i];
        o[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
}

// `text` with ASCII A-Z lowered (as rebound::AsciiLower), eight bytes at a time.
inline void LowerAsciiInto(std::string_view text, std::string& out) {
    out.resize(text.size());
    LowerAsciiBytes(text.data(), out.data(), text.size());
}

// As rebound::EqualsIgnoreCase (ASCII A-Z only), inline and eight bytes at a time: header lookups
// compare a name with every field's.
inline bool EqualsNoCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    const std::size_t n = a.size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x;
        std::uint64_t y;
        std::memcpy(&x, a.data() + i, 8);
        std::memcpy(&y, b.data() + i, 8);
        if (x != y && LowerAsciiWord(x) != LowerAsciiWord(y)) return false;
    }
    for (; i < n; ++i) {
        char x = a[i];
        char y = b[i];
        if (x == y) continue;
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

inline bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && EqualsNoCase(text.substr(0, prefix.size()), prefix);
}

// A copy lowered in place: constructing from `text` costs less than resizing an empty string.
inline std::string LowerAscii(std::string_view text) {
    std::string out(text);
    LowerAsciiBytes(out.data(), out.data(), out.size());
    return out;
}

}  // namespace rebound::bounce
