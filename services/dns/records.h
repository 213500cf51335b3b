#pragma once
// What Rebound expects in a customer's DNS for a feedback domain, from configuration, and
// the records it recommends creating.

#include <cstdint>
#include <string>
#include <vector>

#include "services/config/config.h"

namespace rebound::dns {

struct MxHost {
    std::uint16_t preference = 10;
    std::string host;  // lower case, no trailing dot
};

struct Expectation {
    std::vector<MxHost> mx_hosts;  // sorted by preference: the first is the primary
    std::string feedback_host;     // CNAME target that carries Rebound's MX and SPF
    std::string spf_include;       // the include: mechanism that authorises the platform
};

// From a validated configuration (config::Load has checked every entry).
Expectation ExpectationFromConfig(const config::DnsConfig& dns);

struct RecommendedRecord {
    std::string name;  // feedback.example.com
    std::string type;  // MX, TXT, CNAME
    std::uint16_t preference = 0;
    std::string value;  // host, or the TXT text without quotes
    std::string zone_line;
};

struct Recommendation {
    std::vector<RecommendedRecord> mx;
    RecommendedRecord spf;
    // The alternative for providers without MX records: instead of the MX and SPF records.
    RecommendedRecord cname;
    // Zone-file text: the MX and SPF lines, then the alternative as a comment.
    std::string zone_file;
};

inline constexpr std::uint32_t kRecommendedTtl = 3600;

std::string SpfRecordText(const Expectation& expect);
Recommendation Recommend(const Expectation& expect, const std::string& feedback_domain);

}  // namespace rebound::dns
