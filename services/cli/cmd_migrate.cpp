// rebound migrate: apply the schema migrations to the configured database.

#include <iostream>

#include "services/cli/command.h"
#include "services/common/strings.h"
#include "storage/database.h"
#include "storage/migrations.h"

namespace rebound::cli {
namespace {

std::string JoinVersions(const std::vector<std::int64_t>& versions) {
    std::vector<std::string> parts;
    for (std::int64_t v : versions)
        parts.push_back(std::to_string(v));
    return Join(parts, ", ");
}

int RunMigrate(const Context& context, const std::vector<std::string>& args) {
    std::string dir;
    bool status_only = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--dir" && i + 1 < args.size()) {
            dir = args[++i];
        } else if (args[i] == "--status") {
            status_only = true;
        } else if (args[i] == "-h" || args[i] == "--help") {
            std::cout << "usage: rebound migrate [--status] [--dir DIR]\n\n"
                         "Applies pending migrations (those compiled in, or *.sql from DIR) to the\n"
                         "database of the configuration. --status prints the schema version only.\n";
            return kExitOk;
        } else {
            std::cerr << "rebound migrate: unexpected argument \"" << args[i] << "\"\n";
            return kExitUsage;
        }
    }
    absl::StatusOr<config::Config> cfg = context.LoadConfig();
    if (!cfg.ok()) {
        std::cerr << "rebound migrate: configuration: " << cfg.status().message() << "\n";
        return kExitFailure;
    }
    absl::StatusOr<std::vector<storage::Migration>> migrations =
        dir.empty() ? storage::BuiltinMigrations() : storage::ReadMigrationDirectory(dir);
    if (!migrations.ok()) {
        std::cerr << "rebound migrate: " << migrations.status().message() << "\n";
        return kExitFailure;
    }
    auto conn = storage::Connect(config::DatabaseUrl(*cfg));
    if (!conn.ok()) {
        std::cerr << "rebound migrate: " << conn.status().message() << "\n";
        return kExitFailure;
    }
    if (status_only) {
        auto version = storage::SchemaVersion(**conn);
        if (!version.ok()) {
            std::cerr << "rebound migrate: " << version.status().message() << "\n";
            return kExitFailure;
        }
        const std::int64_t known = migrations->empty() ? 0 : migrations->back().version;
        std::cout << "schema version " << *version << " (this build knows " << known << ")\n";
        return *version >= known ? kExitOk : kExitFailure;
    }
    auto report = storage::Migrate(**conn, *migrations);
    if (!report.ok()) {
        std::cerr << "rebound migrate: " << report.status().message() << "\n";
        return kExitFailure;
    }
    auto partitions = storage::EnsurePartitions(**conn);
    if (!partitions.ok()) {
        std::cerr << "rebound migrate: " << partitions.status().message() << "\n";
        return kExitFailure;
    }
    if (report->applied.empty()) {
        std::cout << "schema is up to date at version " << report->schema_version << "\n";
    } else {
        std::cout << "applied " << Join(report->applied, ", ") << "; schema version " << report->schema_version << "\n";
    }
    if (!report->unknown_versions.empty()) {
        std::cout << "note: the database has versions this build does not know: "
                  << JoinVersions(report->unknown_versions) << "\n";
    }
    return kExitOk;
}

}  // namespace

REBOUND_CLI_COMMAND(migrate, "apply database schema migrations", RunMigrate);

}  // namespace rebound::cli
