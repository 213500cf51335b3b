#pragma once
// Suppressions and the per-account suppression policy. Scoped to one account.

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::storage {

struct SuppressionRow {
    std::string address;
    std::uint64_t recipient_id = 0;  // 0: none
    std::string cause, reason;
    std::int64_t event_id = 0;
    std::int64_t created_us = 0;
};

// Addresses after `after` (exclusive), ordered.
absl::StatusOr<std::vector<SuppressionRow>> ListSuppressions(pqxx::connection& conn, std::int64_t account,
                                                             const std::string& after,
                                                             const std::optional<std::string>& cause, int limit);
// Addresses must be lower case and contain no newline.
absl::StatusOr<std::vector<std::string>> SuppressedAddresses(pqxx::connection& conn, std::int64_t account,
                                                             const std::vector<std::string>& addresses);
absl::StatusOr<std::vector<std::uint64_t>> SuppressedRecipientIds(pqxx::connection& conn, std::int64_t account,
                                                                  const std::vector<std::uint64_t>& ids);
// ALREADY_EXISTS if the address is suppressed already.
absl::StatusOr<SuppressionRow> AddSuppression(pqxx::connection& conn, std::int64_t account, const std::string& address,
                                              std::uint64_t recipient_id, const std::string& reason);
// NOT_FOUND if the address is not suppressed.
absl::StatusOr<SuppressionRow> RemoveSuppression(pqxx::connection& conn, std::int64_t account,
                                                 const std::string& address, const std::string& reason);

struct PolicyRow {
    int soft_bounce_threshold = 3;
    int soft_bounce_window_days = 30;
    bool suppress_complaints = true;
};
absl::StatusOr<PolicyRow> GetPolicy(pqxx::connection& conn, std::int64_t account);
absl::Status SetPolicy(pqxx::connection& conn, std::int64_t account, const PolicyRow& policy);

}  // namespace rebound::storage
