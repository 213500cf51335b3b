#pragma once
// Sender domains (the customers' feedback domains) and their DNS check state. Every call
// but the re-check ones is scoped to one account.

#include <cstdint>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::storage {

struct SenderDomainRow {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::string domain;           // example.com
    std::string feedback_label;   // feedback
    std::string feedback_domain;  // feedback.example.com
    std::string state;            // pending, verified, failing
    std::int64_t state_since_us = 0;
    std::int64_t last_checked_us = 0;  // 0: never checked
    std::int64_t next_check_us = 0;
    int check_failures = 0;
    std::string last_outcome;     // "", ok, failing, temporary
    std::string last_check_json;  // "" when never checked
    std::int64_t created_us = 0;
};

// ALREADY_EXISTS when the feedback domain is registered already (by any account). A domain
// the same account deleted is registered afresh (state pending).
absl::StatusOr<SenderDomainRow> RegisterDomain(pqxx::connection& conn, std::int64_t account, const std::string& domain,
                                               const std::string& label, const std::string& feedback_domain);
// NOT_FOUND unless the domain is the account's and not deleted.
absl::StatusOr<SenderDomainRow> GetDomain(pqxx::connection& conn, std::int64_t account, std::int64_t id);
// Domains with id > after_id, in id order.
absl::StatusOr<std::vector<SenderDomainRow>> ListDomains(pqxx::connection& conn, std::int64_t account,
                                                         std::int64_t after_id, int limit);
// Soft delete. NOT_FOUND unless the domain is the account's and not deleted.
absl::Status DeleteDomain(pqxx::connection& conn, std::int64_t account, std::int64_t id);

// Claims up to `limit` domains due for a re-check (any account), moving their next check
// `lease_seconds` ahead so that concurrent checkers skip them.
absl::StatusOr<std::vector<SenderDomainRow>> ClaimDueDomains(pqxx::connection& conn, int limit, int lease_seconds);

struct CheckRecord {
    std::string outcome;  // ok, failing, temporary
    std::string json;     // the whole check
    std::string summary;  // error codes, for the state change
};
// The state machine applied to a check, decided by the caller from the domain's current
// state and failure count, which RecordCheck reads under a row lock and passes in.
struct StateDecision {
    std::string state;
    int failures = 0;
    std::int64_t next_check_seconds = 0;
};
using DecideFn = std::function<StateDecision(const std::string& state, int failures)>;

// In one transaction: locks the domain, asks `decide` for the new state, stores the check
// and, when the state changed, a state change. NOT_FOUND if the domain was deleted meanwhile.
absl::StatusOr<SenderDomainRow> RecordCheck(pqxx::connection& conn, std::int64_t account, std::int64_t id,
                                            const CheckRecord& check, const DecideFn& decide);

struct StateChangeRow {
    std::int64_t id = 0;
    std::int64_t domain_id = 0;
    std::string feedback_domain;
    std::string from_state, to_state, outcome, summary;
    std::int64_t changed_us = 0;
};
// The account's state changes after `after_id` (of one domain unless domain_id is 0).
absl::StatusOr<std::vector<StateChangeRow>> ListStateChanges(pqxx::connection& conn, std::int64_t account,
                                                             std::int64_t domain_id, std::int64_t after_id, int limit);

}  // namespace rebound::storage
