#include "services/common/log.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <system_error>
#include <thread>

#include "services/common/thread_name.h"

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

// Info and debug lines wait in memory for at most this long (or until this many bytes are
// pending), so that a busy server makes one write() per interval rather than one per line
// (a system call and, on a file, a trip through the file system for every stored message).
constexpr auto kFlushInterval = std::chrono::milliseconds(10);
constexpr std::size_t kFlushBytes = 64 * 1024;
constexpr std::size_t kMaxPendingBytes = 4 * 1024 * 1024;

// Collects whole lines and writes them to stderr in order. Created once and never destroyed,
// so its thread can outlive main() without touching a destroyed object.
class Sink {
  public:
    static Sink& Get() {
        static Sink* sink = new Sink();
        return *sink;
    }

    // Queues `line`; writes it at once (with what is before it) when there is no background
    // thread. Waits while kMaxPendingBytes are pending: a stderr that does not drain holds the
    // loggers back, as a blocking write() would, instead of filling the memory.
    void Append(const std::string& line, bool urgent) {
        std::call_once(started_, [this] { StartThread(); });
        bool wake = false;
        {
            std::unique_lock lock(mu_);
            space_cv_.wait(lock, [this] { return pending_.size() < kMaxPendingBytes; });
            wake = pending_.empty() || (pending_.size() < kFlushBytes && pending_.size() + line.size() >= kFlushBytes);
            pending_ += line;
        }
        if (urgent || !threaded_) {
            Flush();
        } else if (wake) {
            cv_.notify_one();
        }
    }

    // Writes everything appended so far. Writers take turns, so lines stay in order.
    void Flush() {
        std::lock_guard write_lock(write_mu_);
        {
            std::lock_guard lock(mu_);
            pending_.swap(writing_);
        }
        space_cv_.notify_all();
        std::size_t off = 0;
        while (off < writing_.size()) {
            const ssize_t n = ::write(STDERR_FILENO, writing_.data() + off, writing_.size() - off);
            if (n < 0 && errno == EINTR) continue;  // a signal before anything was written
            if (n <= 0) break;                      // stderr is gone: the lines with it
            off += static_cast<std::size_t>(n);
        }
        writing_.clear();
    }

  private:
    void StartThread() {
        // The thread takes no signals (reboundd waits for SIGTERM in sigwait()), and what is
        // pending when the process exits is written by the exit handler.
        sigset_t all;
        sigset_t old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        try {
            std::thread writer([this] { Run(); });
            common::NameThread(writer, "log-writer");
            writer.detach();
            threaded_ = true;
        } catch (const std::system_error&) {
            // No thread to be had: every line is written at once, as it comes.
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        std::atexit([] { Get().Flush(); });
    }

    void Run() {
        for (;;) {
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return !pending_.empty(); });
                cv_.wait_for(lock, kFlushInterval, [this] { return pending_.size() >= kFlushBytes; });
            }
            Flush();
        }
    }

    std::once_flag started_;
    bool threaded_ = false;  // set once, under started_
    std::mutex mu_;
    std::condition_variable cv_;        // lines to write
    std::condition_variable space_cv_;  // room for more
    std::string pending_;
    std::mutex write_mu_;
    std::string writing_;  // under write_mu_
};

}  // namespace

void Flush() {
    Sink::Get().Flush();
}

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
    : enabled_(static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed)), urgent_(level >= Level::kWarn) {
    if (enabled_) rebound::StrAppend(&text_, "ts=", Timestamp(), " level=", LevelName(level), " event=", event);
}

Line::~Line() {
    if (!enabled_) return;
    text_.push_back('\n');
    Sink::Get().Append(text_, urgent_);
}

Line& Line::Kv(std::string_view key, std::string_view value) {
    if (enabled_) rebound::StrAppend(&text_, " ", key, "=", Escape(value));
    return *this;
}

}  // namespace rebound::log
