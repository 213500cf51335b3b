#pragma once
// The verification state machine of a sender domain (pure; storage applies it):
//   pending  --ok-->  verified  --failing-->  failing  --ok-->  verified
// A domain that has never passed stays pending while it fails. A temporary outcome
// (SERVFAIL, timeout) never changes the state; it and failures back off exponentially.

#include <cstdint>
#include <string>
#include <string_view>

#include "services/config/config.h"
#include "services/dns/checker.h"

namespace rebound::dns {

struct Schedule {
    std::int64_t recheck_seconds = 6 * 3600;  // after an ok check
    std::int64_t retry_min_seconds = 300;     // after the first failing or temporary check
    std::int64_t retry_max_seconds = 6 * 3600;
};
Schedule ScheduleFromConfig(const config::DnsConfig& dns);

struct Transition {
    std::string state;
    int failures = 0;  // consecutive checks that were not ok
    std::int64_t next_check_seconds = 0;
};

Transition NextState(std::string_view state, int failures, Outcome outcome, const Schedule& schedule);

}  // namespace rebound::dns
