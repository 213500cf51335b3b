#pragma once
// Base32 with Crockford's alphabet in lower case ("0123456789abcdefghjkmnpqrstvwxyz"): no
// i, l, o or u, so a token read aloud or retyped from a support ticket has no look-alike
// letters. No padding. Decoding accepts either case but, unlike Crockford's spec, does not
// map i/l/o to 1/0: every token has exactly one spelling per case, so a changed character
// is always a different token.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rebound::envelope {

inline constexpr std::string_view kBase32Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

// Characters needed for `bytes` bytes.
constexpr std::size_t Base32Length(std::size_t bytes) {
    return (bytes * 8 + 4) / 5;
}

// Writes Base32Length(size) characters to `out` and returns that count. Unused low bits of
// the last character are zero.
std::size_t Base32Encode(const std::uint8_t* data, std::size_t size, char* out);

// Decodes `text` into `out` (capacity `out_capacity`). Returns the number of bytes, or -1
// when a character is outside the alphabet, the length is not one Base32Encode produces,
// the unused bits of the last character are not zero (so there is only one spelling), or
// the result would exceed `out_capacity`.
std::ptrdiff_t Base32Decode(std::string_view text, std::uint8_t* out, std::size_t out_capacity);

}  // namespace rebound::envelope
