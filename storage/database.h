#pragma once
// PostgreSQL access. libpqxx throws; every exception is caught inside storage and turned
// into an absl::Status, so none crosses into the rest of Rebound.

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/embedded.h"

namespace rebound::storage {

// The SQL files under storage/sql/, compiled in. Each is prepared under its file name
// without ".sql" (e.g. "schema_version"), which is what logs and errors show.
std::vector<EmbeddedFile> Queries();

// The text of one query of storage/sql/, by name without ".sql"; empty when there is none.
// For statements that are better planned with each call's values than prepared once.
std::string_view QueryText(std::string_view name);

// Opens a connection and prepares every query of storage/sql/ on it.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url);

// Call only inside a catch block: maps the exception in flight to a status.
// Connection failures become UNAVAILABLE, serialization failures ABORTED, unique
// violations ALREADY_EXISTS, statement timeouts DEADLINE_EXCEEDED, the rest INTERNAL.
// `what` names the operation (usually the query's file name).
absl::Status StatusFromException(std::string_view what);

// True for a status made by StatusFromException: its message holds database text (SQL
// errors, server messages), which belongs in logs and never in a reply to a client.
bool IsDatabaseError(const absl::Status& status);

// Runs `fn` (which may throw libpqxx exceptions) and returns its status.
template <typename Fn>
absl::Status Guard(std::string_view what, Fn&& fn) {
    try {
        fn();
        return absl::OkStatus();
    } catch (...) {
        return StatusFromException(what);
    }
}

}  // namespace rebound::storage
