#pragma once
// The live check of a feedback domain, as a pure function of DNS answers: it asks `Lookup`
// (c-ares, or a table in tests) and turns the answers into verdicts with plain-language
// diagnostics. No network, clock or database here.
//
// Outcome: ok when mail for the feedback domain reaches Rebound (warnings allowed: SPF,
// backup order); failing when a definite answer shows it does not; temporary when a lookup
// that mattered got SERVFAIL, a timeout or another error: never "failing" on such evidence.

#include <string>
#include <string_view>
#include <vector>

#include "services/dns/records.h"
#include "services/dns/resolver.h"

namespace rebound::dns {

enum class Severity { kOk, kWarning, kError, kTemporary };
std::string_view SeverityName(Severity severity);

enum class Outcome { kOk, kFailing, kTemporary };
std::string_view OutcomeName(Outcome outcome);

struct Verdict {
    std::string code;  // stable identifier, e.g. "mx_target_cname"
    Severity severity = Severity::kOk;
    std::string message;  // for people
};

struct CheckResult {
    std::string feedback_domain;
    Outcome outcome = Outcome::kTemporary;
    std::string mode;           // "mx", "cname" or "none": how the feedback domain is set up
    std::vector<Record> found;  // records seen, with TTLs
    std::vector<Verdict> verdicts;
    bool Has(std::string_view code) const;
    // The codes of error verdicts, comma-separated (or of temporary ones when none).
    std::string Summary() const;
};

// Checks `label`.`domain` (both normalised and valid) against `expect`.
CheckResult Check(Lookup& dns, const Expectation& expect, std::string_view domain, std::string_view label);

// The result as JSON (stored as the domain's last check).
std::string ToJson(const CheckResult& result);

// One line per record found and per verdict, for the CLI.
std::string ToText(const CheckResult& result);

}  // namespace rebound::dns
