#include "services/dns/state.h"

#include <algorithm>

namespace rebound::dns {

Schedule ScheduleFromConfig(const config::DnsConfig& dns) {
    return {dns.recheck_seconds, dns.retry_min_seconds, dns.retry_max_seconds};
}

Transition NextState(std::string_view state, int failures, Outcome outcome, const Schedule& schedule) {
    Transition t;
    if (outcome == Outcome::kOk) {
        t.state = "verified";
        t.failures = 0;
        t.next_check_seconds = schedule.recheck_seconds;
        return t;
    }
    t.failures = std::min(failures, 1000) + 1;
    std::int64_t delay = schedule.retry_min_seconds;
    for (int i = 1; i < t.failures && delay < schedule.retry_max_seconds; ++i)
        delay *= 2;
    t.next_check_seconds = std::min(delay, schedule.retry_max_seconds);
    if (outcome == Outcome::kTemporary) {
        t.state = std::string(state);
    } else {
        t.state = state == "pending" ? "pending" : "failing";
    }
    return t;
}

}  // namespace rebound::dns
