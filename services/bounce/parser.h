#pragma once
// rebound::bounce: turns a message that came back to a feedback address into bounce records.
// Pure library: bytes in, records out; no I/O, no global state besides the compiled-in rules.
//
//   absl::StatusOr<Report> report = bounce::Parse(raw_message);
//
// Results: OK with one record per recipient; OK with zero records when the message is not a
// bounce, auto-reply or complaint; INVALID_ARGUMENT when the input is not an email message;
// RESOURCE_EXHAUSTED when it is past one of the Limits.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::bounce {

struct Limits {
    std::size_t max_message_bytes = 32 * 1024 * 1024;
    int max_depth = 8;                          // MIME nesting (multipart + message/rfc822 levels)
    int max_parts = 256;                        // MIME entities in the whole message
    std::size_t max_header_bytes = 256 * 1024;  // top-level header block
    int max_records = 1000;                     // recipients reported per message
};

// One per recipient.
struct Record {
    std::string recipient;           // lower-case address
    std::string original_recipient;  // DSN Original-Recipient, if any
    std::string status;              // enhanced status "5.1.1"; x.0.9xx pseudo-code when none was given
    std::string reply_code;          // "550" or ""
    std::string action;              // DSN Action (failed, delayed, delivered, ...) or ""
    std::string reason;              // Sisimai vocabulary plus "delayed"
    // For delay notices the reason the text gives (e.g. "mailboxfull"); otherwise == reason.
    std::string text_reason;
    bool hard_bounce = false;
    int bounce_class = 1;         // Momentum/SparkPost scale
    std::string disposition;      // hard, soft, block, complaint, auto_reply, delayed, delivered, undetermined
    std::string feedback_type;    // ARF Feedback-Type (complaints only)
    std::string diagnostic;       // diagnostic text, whitespace-collapsed, at most 1000 bytes
    std::string diagnostic_type;  // "smtp", "x-unix", ... or ""
    std::string smtp_command;     // "RCPT", "DATA", ... when known
    std::string remote_mta;
    std::string reporting_mta;
    std::string kind;     // dsn, nonstandard, arf, autoreply
    std::string rule_id;  // the rule that decided the reason
    std::optional<std::string> last_attempt_date;
};

// The message that bounced, when it is attached or quoted.
struct OriginalMessage {
    std::string message_id, to, from, subject, return_path;
    // Addresses from Return-Path, Errors-To, Sender, From, To, Reply-To, List-Unsubscribe
    // mailto: and X-* headers of the original, so the caller can look for an envelope token.
    std::vector<std::string> candidate_addresses;
};

struct Report {
    std::vector<Record> records;
    std::optional<OriginalMessage> original;
    std::string reporting_mta, arrival_date, rules_version;
};

absl::StatusOr<Report> Parse(std::string_view raw_message, const Limits& limits = {});

// Version string of the compiled-in classification rules.
std::string_view RulesVersion();

}  // namespace rebound::bounce
