#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace rebound::testing {

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !exit_status_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (stderr_fd_ >= 0) ::close(stderr_fd_);
}

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
    // stderr goes to a file, not a pipe: a child that logs a lot must never block on it.
    char path[] = "/tmp/rebound-child-stderr-XXXXXX";
    const int log_fd = ::mkostemp(path, O_CLOEXEC);
    if (log_fd < 0) return false;
    ::unlink(path);
    std::map<std::string, std::string> merged;
    for (char** e = environ; *e != nullptr; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq != nullptr) merged[std::string(*e, static_cast<std::size_t>(eq - *e))] = eq + 1;
    }
    for (const auto& [k, v] : env)
        merged[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : merged)
        env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& s : args)
        argp.push_back(s.data());
    argp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // The child gets default signal dispositions and an empty mask.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    const int rc = ::posix_spawn(&pid_, argp[0], &actions, &attr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        ::close(log_fd);
        errno = rc;
        pid_ = -1;
        return false;
    }
    stderr_fd_ = log_fd;
    return true;
}

bool ChildProcess::ReadMore(std::chrono::milliseconds timeout) {
    if (stderr_fd_ < 0) return false;
    char buf[65536];
    const ssize_t n = ::pread(stderr_fd_, buf, sizeof buf, static_cast<off_t>(output_.size()));
    if (n > 0) {
        output_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
    // Nothing new: wait a little (the file cannot be polled).
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(20)));
    return false;
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        std::size_t nl;
        while ((nl = output_.find('\n', consumed_)) != std::string::npos) {
            std::string line = output_.substr(consumed_, nl - consumed_);
            consumed_ = nl + 1;
            if (line.find(needle) != std::string::npos) return line;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (!ReadMore(left) && exit_status_) return std::nullopt;
    }
}

void ChildProcess::Signal(int sig) const {
    if (pid_ > 0 && !exit_status_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
    if (exit_status_) return exit_status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            while (ReadMore(std::chrono::milliseconds(0))) {
            }
            return exit_status_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        ReadMore(std::chrono::milliseconds(20));
    }
}

std::string MakeTempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    return ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

std::string LogField(const std::string& line, const std::string& key) {
    const std::string pattern = " " + key + "=";
    const std::size_t pos = line.find(pattern);
    if (pos == std::string::npos) return "";
    const std::size_t start = pos + pattern.size();
    const std::size_t end = line.find(' ', start);
    return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace rebound::testing
