#include "services/common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace rebound::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

std::string_view LevelName(Level level) {
    switch (level) {
        case Level::kDebug:
            return "debug";
        case Level::kInfo:
            return "info";
        case Level::kWarn:
            return "warn";
        case Level::kError:
            return "error";
    }
    return "info";
}

std::string Timestamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(now);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(millis));
    return buf;
}

}  // namespace

void SetMinLevel(Level level) {
    g_min_level.store(static_cast<int>(level));
}
Level MinLevel() {
    return static_cast<Level>(g_min_level.load());
}

bool ParseLevel(std::string_view text, Level* level) {
    for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
        if (text == LevelName(l)) {
            *level = l;
            return true;
        }
    }
    return false;
}

std::string Escape(std::string_view value, std::size_t max_bytes) {
    bool truncated = false;
    if (value.size() > max_bytes) {
        value = value.substr(0, max_bytes);
        truncated = true;
    }
    bool quote = value.empty();
    std::string out;
    out.reserve(value.size() + 2);
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(ch);
            quote = true;
        } else if (c < 0x20 || c >= 0x7F) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
            quote = true;
        } else {
            if (c == ' ' || c == '=') quote = true;
            out.push_back(ch);
        }
    }
    if (truncated) out += "...";
    return quote ? "\"" + out + "\"" : out;
}

Line::Line(Level level, std::string_view event)
    : enabled_(static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed)) {
    if (enabled_) rebound::StrAppend(&text_, "ts=", Timestamp(), " level=", LevelName(level), " event=", event);
}

Line::~Line() {
    if (!enabled_) return;
    text_.push_back('\n');
    // One write() per line keeps lines from different threads whole.
    std::size_t off = 0;
    while (off < text_.size()) {
        const ssize_t n = ::write(STDERR_FILENO, text_.data() + off, text_.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
}

Line& Line::Kv(std::string_view key, std::string_view value) {
    if (enabled_) rebound::StrAppend(&text_, " ", key, "=", Escape(value));
    return *this;
}

}  // namespace rebound::log
