#pragma once
// Subcommands of the `rebound` tool register themselves from their own cmd_*.cpp file:
//
//   REBOUND_CLI_COMMAND(parse, "parse bounce messages into JSON records", RunParse);
//
// Exit status convention: 0 success, 1 the operation failed or the input was bad,
// 2 usage error (unknown option, missing argument). A command may add 75 (EX_TEMPFAIL) for
// "could not tell now, try again later" (`rebound domain check` when DNS does not answer).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/config/config.h"

namespace rebound::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Context {
    // --config FILE or REBOUND_CONFIG; empty means defaults plus environment.
    std::string config_path;
    // Loads and validates the configuration; prints nothing.
    absl::StatusOr<config::Config> LoadConfig() const { return config::Load(config_path); }
};

using RunFunction = int (*)(const Context& context, const std::vector<std::string>& args);

struct Command {
    std::string_view name;
    std::string_view summary;
    RunFunction run;
};

// All registered commands, sorted by name.
std::vector<Command> Commands();

struct CommandRegistrar {
    explicit CommandRegistrar(Command command);
};

}  // namespace rebound::cli

#define REBOUND_CLI_COMMAND(name, summary, fn) \
    static const ::rebound::cli::CommandRegistrar rebound_cli_registrar_##name({#name, summary, fn})
