#include "services/common/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace rebound::log {
namespace {

TEST(LogEscapeTest, PlainTokensStayUnquoted) {
    EXPECT_EQ(Escape("abc.def"), "abc.def");
}

TEST(LogEscapeTest, SpacesAndControlBytesAreQuotedAndEscaped) {
    EXPECT_EQ(Escape("a b"), "\"a b\"");
    EXPECT_EQ(Escape("x\r\ny"), "\"x\\x0d\\x0ay\"");
    EXPECT_EQ(Escape("say \"hi\""), "\"say \\\"hi\\\"\"");
    EXPECT_EQ(Escape(""), "\"\"");
}

TEST(LogEscapeTest, TruncatesPeerText) {
    const std::string long_text(1000, 'a');
    const std::string escaped = Escape(long_text, 10);
    EXPECT_EQ(escaped, "aaaaaaaaaa...");
}

TEST(LogLevelTest, ParsesNames) {
    Level level = Level::kInfo;
    EXPECT_TRUE(ParseLevel("warn", &level));
    EXPECT_EQ(level, Level::kWarn);
    EXPECT_FALSE(ParseLevel("verbose", &level));
}

// Points stderr at a temporary file for the test's lifetime and reads back what was written.
class StderrCapture {
  public:
    StderrCapture() {
        char path[] = "/tmp/rebound-log-test-XXXXXX";
        fd_ = mkstemp(path);
        unlink(path);
        saved_ = dup(STDERR_FILENO);
        Flush();  // lines of earlier tests go to the real stderr
        dup2(fd_, STDERR_FILENO);
    }
    ~StderrCapture() {
        Flush();
        dup2(saved_, STDERR_FILENO);
        close(saved_);
        close(fd_);
    }
    std::string Written() const {
        std::string out;
        char buf[4096];
        for (off_t off = 0;;) {
            const ssize_t n = pread(fd_, buf, sizeof buf, off);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
            off += n;
        }
        return out;
    }

  private:
    int fd_ = -1;
    int saved_ = -1;
};

TEST(LogSinkTest, AWarningIsWrittenAtOnceAfterTheInfoLinesBeforeIt) {
    StderrCapture capture;
    Info("test.first").Kv("n", 1);
    Warn("test.second").Kv("n", 2);
    const std::string written = capture.Written();
    const auto first = written.find("event=test.first n=1\n");
    const auto second = written.find("level=warn event=test.second n=2\n");
    ASSERT_NE(first, std::string::npos) << written;
    ASSERT_NE(second, std::string::npos) << written;
    EXPECT_LT(first, second);
}

TEST(LogSinkTest, InfoLinesAreWrittenWithoutAFlush) {
    StderrCapture capture;
    Info("test.background").Kv("n", 3);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (capture.Written().find("event=test.background n=3\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_NE(capture.Written().find("event=test.background n=3\n"), std::string::npos);
}

TEST(LogSinkTest, LinesOfManyThreadsStayWholeAndInOrderPerThread) {
    StderrCapture capture;
    constexpr int kThreads = 4;
    constexpr int kLines = 5000;  // more than one buffer's worth (64 KB)
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t] {
            for (int i = 0; i < kLines; ++i)
                Info("test.many").Kv("thread", t).Kv("i", i).Kv("pad", std::string(20, 'x'));
        });
    }
    for (auto& th : threads)
        th.join();
    Flush();
    const std::string written = capture.Written();
    std::vector<int> next(kThreads, 0);
    std::size_t lines = 0;
    for (std::size_t pos = 0; pos < written.size();) {
        const std::size_t end = written.find('\n', pos);
        ASSERT_NE(end, std::string::npos) << "a line without its newline";
        const std::string line = written.substr(pos, end - pos);
        pos = end + 1;
        int t = -1;
        int i = -1;
        const auto at = line.find("event=test.many thread=");
        ASSERT_NE(at, std::string::npos) << line;
        ASSERT_EQ(std::sscanf(line.c_str() + at, "event=test.many thread=%d i=%d pad=xxxxxxxxxxxxxxxxxxxx", &t, &i), 2)
            << line;
        ASSERT_TRUE(t >= 0 && t < kThreads) << line;
        EXPECT_EQ(i, next[t]) << line;
        next[t] = i + 1;
        ++lines;
    }
    EXPECT_EQ(lines, static_cast<std::size_t>(kThreads * kLines));
}

TEST(LogSinkTest, AStderrThatDoesNotDrainHoldsTheLoggerBackInsteadOfFillingMemory) {
    Flush();
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    std::atomic<bool> done{false};
    // About 17 MB of lines: more than the pipe (64 KB), the 4 MB a logger may add to and the
    // 4 MB the writer may hold in its blocked write() take together. The pad stays under
    // Escape's 256-byte cut, so that every line has its full length.
    constexpr int kLines = 64 * 1024;
    std::thread logger([&done] {
        const std::string pad(200, 'y');
        for (int i = 0; i < kLines; ++i)
            Info("test.flood").Kv("i", i).Kv("pad", pad);
        Info("test.end");
        done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_FALSE(done) << "every line was taken while nothing read stderr";

    // Reading lets it finish, with every line.
    std::string tail;
    std::size_t lines = 0;
    std::size_t bytes = 0;
    char buf[65536];
    while (true) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        ASSERT_GT(n, 0);
        bytes += static_cast<std::size_t>(n);
        for (ssize_t k = 0; k < n; ++k)
            lines += buf[k] == '\n';
        tail.append(buf, static_cast<std::size_t>(n));
        if (tail.size() > 200) tail.erase(0, tail.size() - 200);
        if (tail.find("event=test.end\n") != std::string::npos) break;
    }
    logger.join();
    EXPECT_EQ(lines, std::size_t{kLines} + 1);
    EXPECT_GT(bytes, std::size_t{16} << 20) << "the flood must be larger than all the logger may hold";
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[0]);
    close(fds[1]);
}

}  // namespace
}  // namespace rebound::log
