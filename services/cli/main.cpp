// `rebound`: the command-line tool. Subcommands live in cmd_*.cpp and register themselves.

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "services/cli/command.h"

namespace rebound::cli {
namespace {

std::vector<Command>& Registry() {
    static std::vector<Command> commands;
    return commands;
}

void PrintUsage(std::ostream& out) {
    out << "usage: rebound [--config FILE] COMMAND [ARGS...]\n\ncommands:\n";
    for (const Command& c : Commands())
        out << "  " << c.name << std::string(12 - std::min<std::size_t>(c.name.size(), 11), ' ') << c.summary << "\n";
    out << "\nThe configuration file may also be named by REBOUND_CONFIG.\n"
           "Run `rebound COMMAND --help` for a command's own options.\n";
}

}  // namespace

CommandRegistrar::CommandRegistrar(Command command) {
    Registry().push_back(command);
}

std::vector<Command> Commands() {
    std::vector<Command> sorted = Registry();
    std::sort(sorted.begin(), sorted.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
    return sorted;
}

}  // namespace rebound::cli

int main(int argc, char** argv) {
    using namespace rebound::cli;
    Context context;
    if (const char* env = std::getenv("REBOUND_CONFIG")) context.config_path = env;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--config") {
            if (i + 1 >= argc) {
                std::cerr << "rebound: --config needs a file name\n";
                return kExitUsage;
            }
            context.config_path = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            context.config_path = arg.substr(9);
        } else if (arg == "-h" || arg == "--help" || arg == "help") {
            PrintUsage(std::cout);
            return kExitOk;
        } else {
            break;
        }
    }
    if (i >= argc) {
        PrintUsage(std::cerr);
        return kExitUsage;
    }
    const std::string name = argv[i];
    for (const Command& c : Commands()) {
        if (c.name == name) {
            std::vector<std::string> args(argv + i + 1, argv + argc);
            return c.run(context, args);
        }
    }
    std::cerr << "rebound: unknown command \"" << name << "\"\n";
    PrintUsage(std::cerr);
    return kExitUsage;
}
