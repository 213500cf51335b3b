#pragma once
// The JSON form of a bounce record, shared by `rebound parse` and the golden tests.

#include <string>
#include <string_view>

#include "services/bounce/parser.h"

namespace rebound::bounce {

// One JSON object (no trailing newline) with the fields score.py and the issue name:
// file, index, recipient, status, replycode, reason, hardbounce, feedbacktype, bounce_class,
// disposition, diagnostic, remote_mta, reporting_mta, kind, rule, plus action, text_reason,
// original_recipient, smtp_command, last_attempt_date, rules_version.
std::string RecordJson(std::string_view file, int index, const Record& record, std::string_view rules_version);

// The object printed for a file from which nothing was decoded ("index": 0).
std::string EmptyJson(std::string_view file, std::string_view rules_version);

}  // namespace rebound::bounce
