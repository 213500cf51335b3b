#include "services/bounce/record_json.h"

#include "services/common/json.h"

namespace rebound::bounce {

std::string RecordJson(std::string_view file, int index, const Record& r, std::string_view rules_version) {
    common::JsonWriter w;
    w.BeginObject();
    w.Field("file", file);
    w.Field("index", index);
    w.Field("recipient", r.recipient);
    w.Field("status", r.status);
    w.Field("replycode", r.reply_code);
    w.Field("reason", r.reason);
    w.Field("hardbounce", r.hard_bounce);
    if (r.feedback_type.empty()) {
        w.Key("feedbacktype").Null();
    } else {
        w.Field("feedbacktype", r.feedback_type);
    }
    w.Field("bounce_class", r.bounce_class);
    w.Field("disposition", r.disposition);
    w.Field("diagnostic", r.diagnostic);
    w.Field("remote_mta", r.remote_mta);
    w.Field("reporting_mta", r.reporting_mta);
    w.Field("kind", r.kind);
    w.Field("rule", r.rule_id);
    w.Field("action", r.action);
    w.Field("text_reason", r.text_reason);
    w.Field("original_recipient", r.original_recipient);
    w.Field("smtp_command", r.smtp_command);
    w.Field("last_attempt_date", r.last_attempt_date);
    w.Field("rules_version", rules_version);
    w.EndObject();
    return w.Take();
}

std::string EmptyJson(std::string_view file, std::string_view rules_version) {
    common::JsonWriter w;
    w.BeginObject();
    w.Field("file", file);
    w.Field("index", 0);
    w.Field("rules_version", rules_version);
    w.EndObject();
    return w.Take();
}

}  // namespace rebound::bounce
