#pragma once
// Classification rules: data compiled into the binary from services/bounce/rules.txt.
// The engine follows the order the file gives; see the header of rules.txt for the format.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::bounce {

struct Outcome {
    std::string reason;
    int bounce_class = 1;
    std::string disposition = "undetermined";
    // "yes": always hard; "permanent": hard when the failure is permanent (5xx); "no".
    std::string hard = "no";
    std::string pseudo_status;  // Detail code used when the message gave no status, e.g. "911".
};

// What the classifier looks at for one recipient.
struct ClassifyInput {
    std::string_view status;           // "5.1.1" or ""
    std::string_view reply_code;       // "550" or ""
    std::string_view diagnostic;       // free text, any case
    std::string_view action;           // lower-case DSN action or ""
    std::string_view diagnostic_type;  // lower-case "smtp", "x-unix", ... or ""
    std::string_view smtp_command;     // upper-case "RCPT", "DATA", "EHLO", ... or ""
    std::string_view remote_host;      // remote MTA host name or ""
    std::string_view recipient;        // the recipient address (host rules "rcpt:DOMAIN")
    std::string_view reporting_host;   // the reporting MTA's host name (host rules "reporting:HOST")
    std::string_view format_reason;    // a reason the message format itself states, or ""
    std::string_view format_rule;      // id for format_reason
};

struct Decision {
    std::string reason;
    std::string rule_id;
    const Outcome* outcome = nullptr;
};

class RuleSet {
  public:
    RuleSet() = default;
    // The plan points into the rule tables.
    RuleSet(const RuleSet&) = delete;
    RuleSet& operator=(const RuleSet&) = delete;

    // Parses the rules text; INVALID_ARGUMENT with the line number on a malformed line.
    static absl::StatusOr<std::unique_ptr<RuleSet>> Parse(std::string_view text);
    // The rules compiled into the binary (parsed once; aborts if they are malformed, which a
    // unit test rules out).
    static const RuleSet& Builtin();

    Decision Classify(const ClassifyInput& input) const;
    // Reason for free text alone (used for format-level hints), "" if nothing matches.
    std::string MatchText(std::string_view reason, std::string_view lower_text) const;
    const Outcome* FindOutcome(std::string_view reason) const;
    std::string_view version() const { return version_; }
    // The reason the exact status code maps to, "" if none.
    std::string_view StatusReason(std::string_view status, std::string* rule_id = nullptr) const;

    struct TextRule {
        std::string id;
        std::string reason;
        std::string host;  // only for host rules: a substring of the remote host
        std::vector<std::string> pieces;
        std::uint32_t gram = 0;   // hash of a 3-byte substring every matching text contains (0: none)
        std::uint32_t gram2 = 0;  // a second one (the end of the same piece)
        std::string command;      // format rules only: applies only after this SMTP command
        // Host rules only: what `host` is matched against.
        enum class HostKind : std::uint8_t { kRemote, kRecipient, kReporting } host_kind = HostKind::kRemote;
    };
    // A text as the rules see it (lower-cased, runs of whitespace collapsed to one space) with its
    // 3-grams as a bitset, to skip rules that cannot match.
    struct TextIndex {
        std::string_view text;  // the normalized text, in `normalized`
        // Bit h is set when the text has a 3-gram whose hash is h. Bit 0 is always set: hash 0 means
        // "no filter", so testing it needs no branch.
        std::array<std::uint64_t, (1 << 15) / 64> grams;
        std::string normalized;
        explicit TextIndex(std::string_view raw);
        // Normalizes and indexes `raw` (an index is 4 KiB: reused rather than allocated per text).
        void Reset(std::string_view raw);
        bool MayContain(std::uint32_t gram) const { return ((grams[gram >> 6] >> (gram & 63)) & 1) != 0; }
        bool MayMatch(const TextRule& r) const { return MayContain(r.gram) && MayContain(r.gram2); }
    };
    struct StatusRule {
        std::string id;
        std::string code;
        std::string reason;
    };

  private:
    // Text rules of one reason: text_rules_[begin, end), in file order.
    struct Range {
        std::size_t begin = 0;
        std::size_t end = 0;
    };
    struct Guard;
    // One reason of the primary order with the guards that apply to it, looked up once.
    struct Step {
        std::string reason;
        Range rules;
        const Guard* status_yield = nullptr;
        const Guard* yield = nullptr;
        const Guard* text_command = nullptr;
        const Guard* borrow = nullptr;
        Range borrowed;  // the rules of borrow->other
    };

    bool TextMatches(Range rules, const TextIndex& index, std::string* rule_id) const;
    Range RulesFor(std::string_view reason) const;
    // Groups text_rules_ by reason (file order kept within a reason) and builds the steps.
    void Plan();

    std::string version_;
    std::vector<Outcome> outcomes_;
    std::vector<StatusRule> status_rules_;
    // Indexes into status_rules_ sorted by code, file order kept among equal codes (a lookup per record).
    std::vector<std::uint32_t> status_by_code_;
    std::vector<TextRule> text_rules_;  // grouped by reason (see Plan)
    // {gram, gram2} of each text rule, side by side for the scan over a reason's rules.
    std::vector<std::pair<std::uint16_t, std::uint16_t>> text_grams_;
    // Every other 3-gram of the rule's pieces: text_more_grams_[text_more_begin_[i], text_more_begin_[i + 1]).
    // A text that lacks one cannot match, which a bit test tells before a substring search.
    std::vector<std::uint16_t> text_more_grams_;
    std::vector<std::uint32_t> text_more_begin_;
    std::vector<TextRule> host_rules_;
    std::vector<TextRule> format_rules_;
    std::vector<std::pair<std::string, Range>> by_reason_;
    std::vector<std::string> primary_order_;
    std::vector<std::string> secondary_order_;
    std::vector<std::string> retry_reasons_;
    std::vector<Step> primary_steps_;
    std::vector<std::pair<std::string, Range>> secondary_steps_;
    struct Guard {
        std::string kind;  // textcommand, borrow, yield, statusyield
        std::string reason;
        std::string other;  // borrow only
        std::vector<std::string> values;
    };
    std::vector<Guard> guards_;
    const Guard* FindGuard(std::string_view kind, std::string_view reason) const;
};

// True if every piece occurs in `text` in order (pieces are lower-case literals).
bool PiecesMatch(std::string_view text, const std::vector<std::string>& pieces);

}  // namespace rebound::bounce
