#pragma once
// String helpers that work with std::string_view. Debian's abseil is built with its own
// absl::string_view (not std::string_view), so absl::StrCat and absl::StrSplit do not take
// std::string_view arguments; use these instead. absl::Status/StatusOr take std::string.

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace rebound {

namespace strings_internal {
inline void AppendOne(std::string& out, std::string_view v) {
    out.append(v);
}
#if !defined(ABSL_USES_STD_STRING_VIEW)
// absl::Status::message() returns this type.
template <typename T>
requires std::same_as<T, absl::string_view>
void AppendOne(std::string& out, T v) {
    out.append(v.data(), v.size());
}
#endif
inline void AppendOne(std::string& out, char c) {
    out.push_back(c);
}
// A template, so string literals (array -> pointer -> bool) never pick this overload.
template <typename T>
requires std::same_as<T, bool>
void AppendOne(std::string& out, T b) {
    out.append(b ? "true" : "false");
}
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>) void AppendOne(std::string& out,
                                                                                                       T v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}
void AppendDouble(std::string& out, double v);
template <typename T>
requires std::is_floating_point_v<T>
void AppendOne(std::string& out, T v) {
    AppendDouble(out, static_cast<double>(v));
}
}  // namespace strings_internal

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
    (strings_internal::AppendOne(*out, args), ...);
}

template <typename... Args>
std::string StrCat(const Args&... args) {
    std::string out;
    StrAppend(&out, args...);
    return out;
}

// Splits on `sep`; empty pieces are kept unless skip_empty.
std::vector<std::string_view> Split(std::string_view text, char sep, bool skip_empty = false);

// Joins with `sep`.
std::string Join(const std::vector<std::string>& parts, std::string_view sep);

std::string_view StripWhitespace(std::string_view text);
std::string AsciiLower(std::string_view text);
// Lower-case hexadecimal, two digits per byte.
std::string HexLower(std::string_view bytes);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix);

// Valid UTF-8 without NUL bytes, at most `max_bytes` long (cut on a character boundary):
// ill-formed sequences become U+FFFD, NUL is dropped. For text from peers that goes into
// PostgreSQL `text` columns, which reject both.
std::string SanitizeUtf8(std::string_view text, std::size_t max_bytes = std::string::npos);

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if there is none.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i);

// Whole-string integer parse; false on junk, sign errors or overflow.
template <typename T>
requires std::integral<T>
bool ParseInt(std::string_view text, T* out) {
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace rebound
