#pragma once
// Forward-only schema migrations: migrations/NNNN_name.sql, applied in version order,
// each in its own transaction, recorded in schema_migrations with a SHA-256 checksum.
// Concurrent runners serialize on an advisory lock; re-running is a no-op; a file that was
// edited after it was applied is refused.

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/embedded.h"

namespace rebound::storage {

struct Migration {
    std::int64_t version = 0;
    std::string name;  // file name, e.g. "0001_core.sql"
    std::string sql;
    std::string checksum;  // lowercase hex SHA-256 of `sql`
};

// Validates names (NNNN_word.sql), order and uniqueness of versions.
absl::StatusOr<std::vector<Migration>> ParseMigrations(const std::vector<EmbeddedFile>& files);

// The migrations compiled into this build from migrations/.
absl::StatusOr<std::vector<Migration>> BuiltinMigrations();

// Reads *.sql from a folder (for operators who ship migrations beside the binary).
absl::StatusOr<std::vector<Migration>> ReadMigrationDirectory(const std::string& dir);

struct MigrationReport {
    std::vector<std::string> applied;  // names applied by this run, in order
    std::int64_t schema_version = 0;   // highest applied version after the run
    // Versions recorded in the database that this build does not know (a newer binary ran).
    std::vector<std::int64_t> unknown_versions;
};

// Applies the pending migrations over `conn`. Holds a session advisory lock while it runs;
// a second runner waits for it and then finds nothing to do.
absl::StatusOr<MigrationReport> Migrate(pqxx::connection& conn, const std::vector<Migration>& migrations);

// Highest applied version; 0 for an empty database.
absl::StatusOr<std::int64_t> SchemaVersion(pqxx::connection& conn);

// Creates the monthly partitions of the partitioned tables from last month to
// `months_ahead` months from now. Returns how many were created.
absl::StatusOr<int> EnsurePartitions(pqxx::connection& conn, int months_ahead = 3);

struct RetentionReport {
    std::vector<std::string> dropped;  // partition tables dropped
    std::int64_t digests_deleted = 0;
};

// Drops raw-message partitions that ended more than raw_days ago and event partitions that
// ended more than event_days ago.
absl::StatusOr<RetentionReport> ApplyRetention(pqxx::connection& conn, int raw_days, int event_days);

// Folds the per-statement delta rows of the mailing statistics (migration 0008) of every
// mailing that has more than `min_rows` of them; returns how many rows went away.
absl::StatusOr<std::int64_t> CompactMailingRollups(pqxx::connection& conn, int min_rows);

}  // namespace rebound::storage
