#pragma once
// The names of a process's threads (Linux, /proc/PID/task/*/comm), for tests that check
// which threads a component runs.

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace rebound::testing {

inline std::vector<std::string> ThreadNames(pid_t pid = ::getpid()) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (std::getline(comm, name)) names.push_back(name);
    }
    return names;
}

inline long CountThreadsNamed(const std::string& name, pid_t pid = ::getpid()) {
    const std::vector<std::string> names = ThreadNames(pid);
    return std::count(names.begin(), names.end(), name);
}

}  // namespace rebound::testing
