#pragma once
// One line per event on stderr: `ts=... level=info event=smtp.accept session=3f2a key=value`.
// Values are escaped and truncated, so text a peer sent can be logged safely. Never log
// message bodies or key material.
//
// Lines are whole and in order. Debug and info lines are written by a background thread within
// 10 ms (one write() for all of them); a warning or an error is written at once, after every
// line before it; whatever is pending at exit() is written then. So only the info lines of the
// last few milliseconds before a crash or a SIGKILL can be lost.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "services/common/strings.h"

namespace rebound::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Process-wide minimum level; lines below it are dropped. Thread-safe.
void SetMinLevel(Level level);
Level MinLevel();
// Parses "debug", "info", "warn", "error".
bool ParseLevel(std::string_view text, Level* level);
// Writes the lines still waiting in memory, now.
void Flush();

// Quotes `value` if it needs quoting, escapes quotes, backslashes and non-printable bytes,
// and truncates it to `max_bytes` (marked with "..."). Safe for peer-controlled text.
std::string Escape(std::string_view value, std::size_t max_bytes = 256);

class Line {
  public:
    Line(Level level, std::string_view event);
    ~Line();
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

    Line& Kv(std::string_view key, std::string_view value);
    Line& Kv(std::string_view key, const char* value) { return Kv(key, std::string_view(value)); }
    Line& Kv(std::string_view key, const std::string& value) { return Kv(key, std::string_view(value)); }
    Line& Kv(std::string_view key, bool value) { return Kv(key, std::string_view(value ? "true" : "false")); }
    template <typename T>
    requires std::is_arithmetic_v<T> Line& Kv(std::string_view key, T value) {
        if (enabled_) rebound::StrAppend(&text_, " ", key, "=", value);
        return *this;
    }

  private:
    bool enabled_;
    bool urgent_;  // warning or error: written at once
    std::string text_;
};

inline Line Debug(std::string_view event) {
    return Line(Level::kDebug, event);
}
inline Line Info(std::string_view event) {
    return Line(Level::kInfo, event);
}
inline Line Warn(std::string_view event) {
    return Line(Level::kWarn, event);
}
inline Line Error(std::string_view event) {
    return Line(Level::kError, event);
}

}  // namespace rebound::log
