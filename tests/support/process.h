#pragma once
// A child process for end-to-end tests: started with arguments and extra environment,
// its stderr read line by line (reboundd logs there), signalled and reaped.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rebound::testing {

class ChildProcess {
  public:
    ChildProcess() = default;
    ~ChildProcess();  // SIGKILLs and reaps a child still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Starts `argv` with the current environment plus `env`. False with errno on failure.
    bool Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});

    // Reads stderr until a line contains `needle`; returns that line, or nullopt on timeout
    // (or when the child has exited without printing it).
    std::optional<std::string> WaitForLine(const std::string& needle, std::chrono::milliseconds timeout);

    // Everything read from stderr so far (including lines WaitForLine consumed).
    const std::string& output() const { return output_; }

    void Signal(int sig) const;
    // Waits for exit; returns the exit status (or 128+signal), nullopt on timeout.
    std::optional<int> Wait(std::chrono::milliseconds timeout);
    pid_t pid() const { return pid_; }

  private:
    bool ReadMore(std::chrono::milliseconds timeout);
    pid_t pid_ = -1;
    int stderr_fd_ = -1;
    std::string output_;
    std::size_t consumed_ = 0;  // bytes of output_ already returned by WaitForLine
    std::optional<int> exit_status_;
};

// A new directory /tmp/PREFIX-XXXXXX for one test's data; "" (with errno) if none could be made.
std::string MakeTempDir(const std::string& prefix);

// Value of key=value in a log line ("address=127.0.0.1:5" -> "127.0.0.1:5"), or "".
std::string LogField(const std::string& line, const std::string& key);

}  // namespace rebound::testing
