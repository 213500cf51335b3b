// Throughput of the SMTP server with a null Delegate (answers 250 at once), driven by
// Postfix's smtp-source, against Postfix's smtp-sink measured in the same run.
//
//   smtp_bench [--messages-per-session N] [--size BYTES] [--sessions 1,10,50] [--log LEVEL]
//
// Needs /usr/sbin/smtp-source and /usr/sbin/smtp-sink (Debian package `postfix`). Prints one
// row per session count: messages/s for Rebound and for smtp-sink, and their ratio.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/smtp/server.h"

extern char** environ;

namespace {

using namespace rebound;
using Clock = std::chrono::steady_clock;

constexpr const char* kSource = "/usr/sbin/smtp-source";
constexpr const char* kSink = "/usr/sbin/smtp-sink";

// Answers 250 at once (`threaded` false), or hands `done` to a worker thread that answers
// it, as a storage layer with its own writer threads would.
class NullDelegate : public smtp::Delegate {
  public:
    explicit NullDelegate(bool threaded) : threaded_(threaded) {
        if (threaded_) worker_ = std::thread([this] { Work(); });
    }
    ~NullDelegate() override {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (worker_.joinable()) worker_.join();
    }

    smtp::Reply CheckRecipient(const smtp::SessionInfo&, const std::string&) override {
        return smtp::Reply{250, "2.1.5", "OK"};
    }
    void Deliver(const smtp::SessionInfo&, smtp::Envelope, std::string message,
                 std::function<void(smtp::Reply)> done) override {
        bytes_.fetch_add(message.size(), std::memory_order_relaxed);
        messages_.fetch_add(1, std::memory_order_relaxed);
        if (!threaded_) {
            done(smtp::Reply{250, "2.0.0", "OK"});
            return;
        }
        {
            std::lock_guard lock(mu_);
            queue_.push_back(std::move(done));
        }
        cv_.notify_one();
    }
    std::uint64_t messages() const { return messages_.load(); }
    std::uint64_t bytes() const { return bytes_.load(); }

  private:
    void Work() {
        std::vector<std::function<void(smtp::Reply)>> batch;
        for (;;) {
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
                if (queue_.empty()) return;
                batch.swap(queue_);
            }
            for (auto& done : batch)
                done(smtp::Reply{250, "2.0.0", "OK"});
            batch.clear();
        }
    }

    const bool threaded_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::vector<std::function<void(smtp::Reply)>> queue_;
    std::thread worker_;
    std::atomic<std::uint64_t> messages_{0};
    std::atomic<std::uint64_t> bytes_{0};
};

std::uint16_t FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

bool CanConnect(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

pid_t Spawn(const std::vector<std::string>& args, bool quiet) {
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

// Runs smtp-source against `port`; returns the elapsed seconds, or a negative value on failure.
double RunSource(std::uint16_t port, int sessions, int messages, int size) {
    const std::vector<std::string> args = {kSource,
                                           "-d",
                                           "-s",
                                           StrCat(sessions),
                                           "-m",
                                           StrCat(messages),
                                           "-l",
                                           StrCat(size),
                                           "-M",
                                           "source.bench.example",
                                           "-f",
                                           "mailer-daemon@origin.example",
                                           "-t",
                                           "tok@feedback.example",
                                           StrCat("127.0.0.1:", port)};
    const auto start = Clock::now();
    const pid_t pid = Spawn(args, false);
    if (pid < 0) return -1;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (Clock::now() - start > std::chrono::seconds(300)) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return secs;
}

}  // namespace

int main(int argc, char** argv) {
    int per_session = 2000;
    // Warn by default: the figures are for the protocol engine; --log info adds the cost of
    // the per-session and per-message lines (send stderr to /dev/null).
    log::Level log_level = log::Level::kWarn;
    int size = 4096;
    std::vector<int> session_counts = {1, 10, 50};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--messages-per-session") {
            if (!ParseInt(value, &per_session) || per_session < 1) return 2;
        } else if (flag == "--size") {
            if (!ParseInt(value, &size) || size < 1) return 2;
        } else if (flag == "--log") {
            if (!log::ParseLevel(value, &log_level)) return 2;
        } else if (flag == "--sessions") {
            session_counts.clear();
            for (std::string_view s : Split(value, ',', true)) {
                int n = 0;
                if (!ParseInt(s, &n) || n < 1) return 2;
                session_counts.push_back(n);
            }
        } else {
            std::fprintf(
                stderr,
                "usage: smtp_bench [--messages-per-session N] [--size BYTES] [--sessions 1,10,50] [--log LEVEL]\n");
            return 2;
        }
    }
    if (::access(kSource, X_OK) != 0 || ::access(kSink, X_OK) != 0) {
        std::fprintf(stderr, "smtp_bench: needs %s and %s (Debian package postfix)\n", kSource, kSink);
        return 1;
    }
    log::SetMinLevel(log_level);

    NullDelegate delegate(/*threaded=*/false);
    NullDelegate threaded_delegate(/*threaded=*/true);
    smtp::ServerOptions options;
    options.listen = {"127.0.0.1:0"};
    options.hostname = "mx.bench.example";
    options.threads = 0;
    options.limits.max_messages_per_connection = 1'000'000;
    options.limits.max_message_bytes = 10 * 1024 * 1024;
    options.limits.max_connections_per_client = 1000;
    smtp::Server server(options, &delegate);
    if (absl::Status s = server.Start(); !s.ok()) {
        std::fprintf(stderr, "smtp_bench: %s\n", std::string(s.message()).c_str());
        return 1;
    }
    const std::uint16_t rebound_port = server.endpoints()[0].port;
    smtp::Server threaded_server(options, &threaded_delegate);
    if (absl::Status s = threaded_server.Start(); !s.ok()) {
        std::fprintf(stderr, "smtp_bench: %s\n", std::string(s.message()).c_str());
        return 1;
    }
    const std::uint16_t threaded_port = threaded_server.endpoints()[0].port;

    const std::uint16_t sink_port = FreePort();
    std::vector<std::string> sink_args = {kSink};
    if (::geteuid() == 0) {
        sink_args.push_back("-u");
        sink_args.push_back("nobody");
    }
    sink_args.push_back(StrCat("127.0.0.1:", sink_port));
    sink_args.push_back("1024");
    const pid_t sink = Spawn(sink_args, true);
    for (int i = 0; i < 200 && !CanConnect(sink_port); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (sink < 0 || !CanConnect(sink_port)) {
        std::fprintf(stderr, "smtp_bench: smtp-sink did not start\n");
        return 1;
    }

    std::printf("smtp-source -d, %d-byte messages, %d messages per session, %u cores\n", size, per_session,
                std::thread::hardware_concurrency());
    std::printf("rebound: null delegate answering at once; rebound-thr: answered from another thread\n");
    std::printf("%8s %9s %12s %12s %12s %7s %7s\n", "sessions", "messages", "rebound/s", "rebound-thr/s", "smtp-sink/s",
                "ratio", "ratio-thr");
    int failures = 0;
    for (int sessions : session_counts) {
        const int messages = sessions * per_session;
        // Warm-up, then the measured runs; all three servers are measured in the same run.
        RunSource(rebound_port, sessions, std::min(messages, 200), size);
        RunSource(threaded_port, sessions, std::min(messages, 200), size);
        RunSource(sink_port, sessions, std::min(messages, 200), size);
        const std::uint64_t before = delegate.messages();
        const double rebound_secs = RunSource(rebound_port, sessions, messages, size);
        const std::uint64_t delivered = delegate.messages() - before;
        const std::uint64_t before_thr = threaded_delegate.messages();
        const double threaded_secs = RunSource(threaded_port, sessions, messages, size);
        const std::uint64_t delivered_thr = threaded_delegate.messages() - before_thr;
        const double sink_secs = RunSource(sink_port, sessions, messages, size);
        if (rebound_secs < 0 || threaded_secs < 0 || sink_secs < 0 ||
            delivered != static_cast<std::uint64_t>(messages) ||
            delivered_thr != static_cast<std::uint64_t>(messages)) {
            std::printf("%8d  failed (rebound %.2fs %llu/%d, threaded %.2fs %llu/%d, sink %.2fs)\n", sessions,
                        rebound_secs, static_cast<unsigned long long>(delivered), messages, threaded_secs,
                        static_cast<unsigned long long>(delivered_thr), messages, sink_secs);
            ++failures;
            continue;
        }
        const double rebound_rate = messages / rebound_secs;
        const double threaded_rate = messages / threaded_secs;
        const double sink_rate = messages / sink_secs;
        std::printf("%8d %9d %12.0f %12.0f %12.0f %7.2f %7.2f\n", sessions, messages, rebound_rate, threaded_rate,
                    sink_rate, rebound_rate / sink_rate, threaded_rate / sink_rate);
        std::fflush(stdout);
    }
    ::kill(sink, SIGTERM);
    ::waitpid(sink, nullptr, 0);
    server.Shutdown(std::chrono::seconds(5));
    threaded_server.Shutdown(std::chrono::seconds(5));
    std::printf("counters: %s\n", server.counters().Describe().c_str());
    return failures == 0 ? 0 : 1;
}
