#pragma once
// Accounts, their envelope key state, feedback domains and API keys.

#include <array>
#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::storage {

struct AccountRow {
    std::int64_t id = 0;
    std::string name;
    std::uint32_t envelope_key_id = 1;
    std::vector<std::uint32_t> retired_key_ids;
    std::int64_t created_at = 0;  // unix seconds
};

// ALREADY_EXISTS when the name is taken.
absl::StatusOr<AccountRow> CreateAccount(pqxx::connection& conn, const std::string& name);
// NOT_FOUND when there is no such (enabled) account.
absl::StatusOr<AccountRow> GetAccount(pqxx::connection& conn, std::int64_t id);
absl::StatusOr<std::vector<AccountRow>> ListAccounts(pqxx::connection& conn, std::int64_t after_id, int limit);
// Makes envelope_key_id + 1 the key for new tokens. NOT_FOUND for no such account.
absl::StatusOr<AccountRow> RotateEnvelopeKey(pqxx::connection& conn, std::int64_t id);
// FAILED_PRECONDITION unless 1 <= key_id < current key id.
absl::StatusOr<AccountRow> RetireEnvelopeKey(pqxx::connection& conn, std::int64_t id, std::uint32_t key_id);
absl::StatusOr<std::vector<std::string>> AccountFeedbackDomains(pqxx::connection& conn, std::int64_t id);

struct ApiKeyRow {
    std::int64_t account_id = 0;
    std::array<unsigned char, 32> secret_sha256{};
    bool revoked = false;
};
absl::Status InsertApiKey(pqxx::connection& conn, std::int64_t account_id, const std::string& prefix,
                          const std::array<unsigned char, 32>& secret_sha256, const std::string& label);
// NOT_FOUND when no key has this prefix.
absl::StatusOr<ApiKeyRow> LookupApiKey(pqxx::connection& conn, const std::string& prefix);
// Returns the key's account; NOT_FOUND when no key has this prefix.
absl::StatusOr<std::int64_t> RevokeApiKey(pqxx::connection& conn, const std::string& prefix);

}  // namespace rebound::storage
