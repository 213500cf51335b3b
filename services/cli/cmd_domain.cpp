// rebound domain: the live DNS check of a feedback domain (services/dns), without the
// database: what a customer's DNS says now, and whether mail would reach Rebound.

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "services/cli/command.h"
#include "services/common/dns_name.h"
#include "services/common/strings.h"
#include "services/dns/checker.h"
#include "services/dns/records.h"
#include "services/dns/resolver.h"

namespace rebound::cli {
namespace {

// EX_TEMPFAIL (sysexits.h): DNS did not answer; the same check may pass later.
constexpr int kExitTemporary = 75;

constexpr std::string_view kUsage =
    "usage: rebound domain check DOMAIN [--label LABEL] [--resolver ADDR[:PORT]]... [--json]\n"
    "\n"
    "Looks up the records of LABEL.DOMAIN (LABEL defaults to \"feedback\") live and prints the\n"
    "records found (with TTLs) and the verdicts: MX records naming Rebound's hosts with Rebound's\n"
    "primary preferred, or a CNAME to Rebound's feedback host; SPF authorising the platform.\n"
    "Rebound's hosts come from the [dns] section of the configuration; --resolver replaces\n"
    "dns.resolvers (repeat it for several; IPv6 as [addr]:port). --json prints the check as JSON.\n"
    "\n"
    "Exit status: 0 when mail for the feedback domain reaches Rebound (warnings allowed),\n"
    "1 when it does not, 75 when DNS could not answer (SERVFAIL, timeout: try again later),\n"
    "2 on a usage error.\n";

int UsageError(std::string_view message) {
    std::cerr << "rebound domain: " << message << "\n(see rebound domain --help)\n";
    return kExitUsage;
}

int RunCheck(const Context& context, const std::vector<std::string>& args) {
    std::vector<std::string> positional, resolvers;
    std::string label = "feedback";
    bool label_given = false, json = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "-h" || arg == "--help") {
            std::cout << kUsage;
            return kExitOk;
        }
        if (arg == "--json") {
            json = true;
            continue;
        }
        if (!arg.starts_with("--")) {
            positional.push_back(arg);
            continue;
        }
        const std::size_t eq = arg.find('=');
        const std::string name = arg.substr(0, eq);
        std::string value;
        if (name != "--resolver" && name != "--label") return UsageError(StrCat("unknown option ", name));
        if (eq != std::string::npos) {
            value = arg.substr(eq + 1);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return UsageError(StrCat(name, " needs a value"));
        }
        if (name == "--resolver") {
            if (StripWhitespace(value).empty() || value.find(',') != std::string::npos) {
                return UsageError(StrCat("--resolver: \"", value, "\" is not an address"));
            }
            resolvers.push_back(std::string(StripWhitespace(value)));
        } else {
            if (label_given) return UsageError("--label given twice");
            label_given = true;
            label = NormalizeDnsName(value);
            if (!IsHostLabel(label)) return UsageError(StrCat("--label: \"", value, "\" is not a DNS label"));
        }
    }
    if (positional.size() != 1) return UsageError("check needs exactly one DOMAIN");
    const std::string domain = NormalizeDnsName(positional[0]);
    if (!IsHostName(domain, 2)) return UsageError(StrCat("\"", positional[0], "\" is not a domain name"));

    auto cfg = context.LoadConfig();
    if (!cfg.ok()) {
        std::cerr << "rebound domain: configuration: " << cfg.status().message() << "\n";
        return kExitFailure;
    }
    dns::ResolverOptions options;
    options.servers = resolvers.empty() ? cfg->dns.resolvers : resolvers;
    options.timeout_ms = static_cast<int>(cfg->dns.timeout_ms);
    options.tries = static_cast<int>(cfg->dns.tries);
    auto lookup = dns::AresLookup::Create(options);
    if (!lookup.ok()) {
        if (lookup.status().code() == absl::StatusCode::kInvalidArgument) {
            return UsageError(StrCat("--resolver: ", lookup.status().message()));
        }
        std::cerr << "rebound domain: " << lookup.status().message() << "\n";
        return kExitFailure;
    }
    const dns::CheckResult result = dns::Check(**lookup, dns::ExpectationFromConfig(cfg->dns), domain, label);
    std::cout << (json ? dns::ToJson(result) + "\n" : dns::ToText(result));
    switch (result.outcome) {
        case dns::Outcome::kOk:
            return kExitOk;
        case dns::Outcome::kTemporary:
            return kExitTemporary;
        case dns::Outcome::kFailing:
            return kExitFailure;
    }
    return kExitFailure;
}

int RunDomain(const Context& context, const std::vector<std::string>& args) {
    if (args.empty()) return UsageError("a subcommand is needed: check");
    if (args[0] == "-h" || args[0] == "--help") {
        std::cout << kUsage;
        return kExitOk;
    }
    if (args[0] == "check") return RunCheck(context, std::vector<std::string>(args.begin() + 1, args.end()));
    return UsageError(StrCat("unknown subcommand \"", args[0], "\""));
}

}  // namespace

REBOUND_CLI_COMMAND(domain, "check a feedback domain's DNS records live", RunDomain);

}  // namespace rebound::cli
