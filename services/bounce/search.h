#pragma once
// Substring search for the bounce parsers. Internal to rebound::bounce.

#include <cstring>
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

}  // namespace rebound::bounce
