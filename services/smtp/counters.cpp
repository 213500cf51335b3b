#include "services/smtp/counters.h"

#include "services/common/strings.h"

namespace rebound::smtp {

std::string Counters::Describe() const {
    std::string out;
    auto add = [&out](const char* name, const std::atomic<std::uint64_t>& v) {
        if (!out.empty()) out.push_back(' ');
        StrAppend(&out, name, "=", v.load(std::memory_order_relaxed));
    };
    add("sessions", sessions);
    add("sessions_active", sessions_active);
    add("tls_sessions", tls_sessions);
    add("tls_failures", tls_failures);
    add("messages_accepted", messages_accepted);
    add("messages_deferred", messages_deferred);
    add("messages_rejected", messages_rejected);
    add("bytes_accepted", bytes_accepted);
    add("recipients_accepted", recipients_accepted);
    add("rcpt_unknown", rcpt_unknown);
    add("relay_denied", relay_denied);
    add("rcpt_temporary", rcpt_temporary);
    add("rcpt_other", rcpt_other);
    add("size", size);
    add("too_many_recipients", too_many_recipients);
    add("syntax", syntax);
    add("line_too_long", line_too_long);
    add("bare_lf", bare_lf);
    add("timeout", timeout);
    add("slow_data", slow_data);
    add("session_deadline", session_deadline);
    add("errors_exceeded", errors_exceeded);
    add("too_many_messages", too_many_messages);
    add("early_talker", early_talker);
    add("connections_refused", connections_refused);
    add("shutdown_closed", shutdown_closed);
    return out;
}

}  // namespace rebound::smtp
