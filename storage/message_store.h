#pragma once
// Writes received messages and their bounce events. A batch is one transaction: either
// every message of it is stored, or none is (then the caller answers 451 to all of them).

#include <array>
#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::storage {

struct EventRow {
    std::int64_t account_id = 0;
    std::optional<std::int64_t> sender_domain_id;
    // uint64 platform ids, stored bit-for-bit in bigint.
    std::optional<std::uint64_t> mailing_id;
    std::optional<std::uint64_t> recipient_id;
    std::string envelope_address;
    bool token_stale = false;
    std::optional<std::string> token_issued_on;  // YYYY-MM-DD
    std::string recipient, recipient_domain, kind, status;
    std::optional<int> reply_code;
    std::string reason;
    bool hard_bounce = false;
    int bounce_class = 1;
    std::string disposition, feedback_type, diagnostic, remote_mta, reporting_mta, original_message_id, rule_id,
        rules_version;
};

struct MessageRow {
    std::array<unsigned char, 32> digest{};  // identity for deduplication (envelope + content)
    std::string mail_from;
    std::vector<std::string> rcpt_to;
    std::string client_address;  // IP literal, or "" when unknown
    std::string helo;
    std::string parse_state;  // parsed, unparsed, empty
    std::string parse_error;
    std::string rules_version;
    std::string content;  // raw bytes as received
    std::vector<EventRow> events;
};

struct StoredMessage {
    std::int64_t raw_message_id = 0;
    bool duplicate = false;  // stored before; nothing written this time
    int events = 0;
    int suppressed = 0;  // recipients newly suppressed by these events
};

// A connection for StoreMessages: Connect(), with generic plans for the statements of
// rebound_store_batch (their shape does not depend on the batch; planning each call cost more
// than running it for small batches), nested loops rather than hash joins for a batch's few
// rows, and commits that wait for the WAL flush or not (synchronous_commit on or off; off
// only where a later synchronous commit is awaited).
absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectForIngest(const std::string& url, bool synchronous);

// Stores the batch atomically with one statement in autocommit, all or nothing:
// ingest_store_raw when no message has events and no digest occurs twice in the batch (then a
// duplicate's earlier message is looked up afterwards), rebound_store_batch otherwise.
// Text fields must already be valid UTF-8 without NUL.
absl::StatusOr<std::vector<StoredMessage>> StoreMessages(pqxx::connection& conn, const std::vector<MessageRow>& batch);

// A stored raw message, read back for reprocessing.
struct RawMessage {
    std::int64_t id = 0;
    std::int64_t received_us = 0;
    std::string mail_from;
    std::vector<std::string> rcpt_to;
    std::string client_address, helo, content;
};

// Raw messages received in [since_us, until_us) after (after_us, after_id), oldest first.
absl::StatusOr<std::vector<RawMessage>> RawMessagesForReprocess(pqxx::connection& conn, std::int64_t since_us,
                                                                std::int64_t until_us, std::int64_t after_us,
                                                                std::int64_t after_id, int limit);

struct Replaced {
    int deleted = 0;
    int inserted = 0;
    int suppressed = 0;
};

// Replaces the events of one raw message and its parse outcome (from `row`, whose content
// and digest are ignored), in one transaction; the suppression policy applies to the new
// events as at ingest.
absl::StatusOr<Replaced> ReplaceEvents(pqxx::connection& conn, const RawMessage& raw, const MessageRow& row);

struct DomainRow {
    std::int64_t sender_domain_id = 0;
    std::string feedback_domain;
    std::int64_t account_id = 0;
    std::uint32_t current_key_id = 0;
    std::vector<std::uint32_t> retired_key_ids;
};

absl::StatusOr<std::vector<DomainRow>> LoadDomains(pqxx::connection& conn);
// One feedback domain (lower case); NOT_FOUND if it is not registered.
absl::StatusOr<DomainRow> FindFeedbackDomain(pqxx::connection& conn, const std::string& feedback_domain);

}  // namespace rebound::storage
