#include "services/dns/records.h"

#include <algorithm>

#include "services/common/dns_name.h"
#include "services/common/strings.h"

namespace rebound::dns {

Expectation ExpectationFromConfig(const config::DnsConfig& dns) {
    Expectation e;
    for (const std::string& entry : dns.mx_hosts) {
        std::int64_t preference = 0;
        std::string host;
        if (config::ParseMxHost(entry, &preference, &host)) {
            e.mx_hosts.push_back({static_cast<std::uint16_t>(preference), std::move(host)});
        }
    }
    std::stable_sort(e.mx_hosts.begin(), e.mx_hosts.end(),
                     [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
    e.feedback_host = NormalizeDnsName(dns.feedback_host);
    e.spf_include = NormalizeDnsName(dns.spf_include);
    return e;
}

std::string SpfRecordText(const Expectation& expect) {
    return StrCat("v=spf1 include:", expect.spf_include, " ~all");
}

Recommendation Recommend(const Expectation& expect, const std::string& feedback_domain) {
    Recommendation r;
    for (const MxHost& mx : expect.mx_hosts) {
        RecommendedRecord rec{feedback_domain, "MX", mx.preference, mx.host, ""};
        rec.zone_line = StrCat(feedback_domain, ". ", kRecommendedTtl, " IN MX ", mx.preference, " ", mx.host, ".");
        r.mx.push_back(std::move(rec));
    }
    r.spf = {feedback_domain, "TXT", 0, SpfRecordText(expect), ""};
    r.spf.zone_line = StrCat(feedback_domain, ". ", kRecommendedTtl, " IN TXT \"", r.spf.value, "\"");
    r.cname = {feedback_domain, "CNAME", 0, expect.feedback_host, ""};
    r.cname.zone_line = StrCat(feedback_domain, ". ", kRecommendedTtl, " IN CNAME ", expect.feedback_host, ".");
    StrAppend(&r.zone_file, "; Rebound feedback domain ", feedback_domain, "\n");
    for (const RecommendedRecord& mx : r.mx)
        StrAppend(&r.zone_file, mx.zone_line, "\n");
    StrAppend(&r.zone_file, r.spf.zone_line, "\n");
    StrAppend(&r.zone_file, "; Or, where the DNS provider does not allow MX records, this one line instead of\n",
              "; the lines above (a CNAME must be the only record at its name):\n; ", r.cname.zone_line, "\n");
    return r;
}

}  // namespace rebound::dns
