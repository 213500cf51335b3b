#pragma once
// Reading bounce events for the API. Every query is scoped to one account.

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::storage {

struct EventRecord {
    std::int64_t id = 0;
    std::int64_t received_us = 0;  // microseconds since the epoch
    std::optional<std::uint64_t> mailing_id, recipient_id;
    std::string envelope_address;
    bool token_stale = false;
    std::string recipient, recipient_domain, kind, status;
    int reply_code = 0;
    std::string reason;
    bool hard_bounce = false;
    int bounce_class = 1;
    std::string disposition, feedback_type, diagnostic, remote_mta, reporting_mta, original_message_id, rule_id,
        rules_version;
    std::int64_t raw_message_id = 0;
    std::string txid;  // inserting transaction (decimal): with id, the feed position
};

struct EventFilter {
    std::optional<std::uint64_t> mailing_id, recipient_id;
    std::optional<std::string> address;  // lower case
    std::optional<std::int64_t> since_us, until_us;
    std::optional<std::string> disposition, reason;
    // Keyset: only events strictly older than (before_us, before_id).
    std::optional<std::int64_t> before_us;
    std::int64_t before_id = 0;
};

absl::StatusOr<std::vector<EventRecord>> ListEvents(pqxx::connection& conn, std::int64_t account_id,
                                                    const EventFilter& filter, int limit);
// NOT_FOUND for an id of another account or none.
absl::StatusOr<EventRecord> GetEvent(pqxx::connection& conn, std::int64_t account_id, std::int64_t id);
// NOT_FOUND once retention removed it.
absl::StatusOr<std::string> GetRawMessage(pqxx::connection& conn, std::int64_t raw_message_id);

// The event feed serves events in (transaction id, event id) order, from transactions that
// have ended and are durable: below the oldest transaction still running and below the
// durability horizon (migrations/0011_flush_horizon.sql).

// The feed position before which every transaction has ended and is durable: "from now on".
// Moves the horizon up first (one synchronous commit), so that "now" is now.
absl::StatusOr<std::string> FeedPosition(pqxx::connection& conn);
// Up to `limit` events after the cursor (txid, id). When fewer are ready and the horizon alone
// has held back an event of the account for 250 ms (longer than a busy ingest flusher takes),
// moves the horizon up (one synchronous commit) and reads on, so a feed never waits on ingest.
absl::StatusOr<std::vector<EventRecord>> FeedAfter(pqxx::connection& conn, std::int64_t account_id,
                                                   const std::string& txid, std::int64_t id, int limit);

// Moves the durability horizon up to the oldest transaction still running and commits
// synchronously: when it returns OK, every transaction that ended before the call is durable.
// Returns the new horizon. With `session_synchronous`, the caller promises the connection runs
// with synchronous_commit = on and it is one statement; otherwise it sets that for its own
// transaction.
absl::StatusOr<std::string> AdvanceFlushHorizon(pqxx::connection& conn, bool session_synchronous = false);
// A transaction that only takes an id, on a connection with synchronous_commit = on: when it
// returns OK, every transaction that committed before the call is durable. Returns the id.
absl::StatusOr<std::string> ConfirmFlush(pqxx::connection& conn);

struct StatsRow {
    std::uint64_t mailing_id = 0;
    std::string disposition, reason;
    int bounce_class = 0;
    std::uint64_t count = 0;
};
struct RecipientsRow {
    std::uint64_t mailing_id = 0;
    std::uint64_t bounced = 0, complained = 0;
};
absl::StatusOr<std::vector<StatsRow>> MailingStats(pqxx::connection& conn, std::int64_t account_id,
                                                   const std::vector<std::uint64_t>& mailing_ids,
                                                   std::vector<RecipientsRow>* recipients);

struct DomainEventCount {
    std::string domain, disposition;
    std::uint64_t count = 0;
};
absl::StatusOr<std::vector<DomainEventCount>> DomainStats(pqxx::connection& conn, std::int64_t account_id,
                                                          std::int64_t since_us, std::int64_t until_us);

}  // namespace rebound::storage
