#include "services/dns/checker.h"

#include <arpa/inet.h>

#include <algorithm>

#include "services/common/json.h"
#include "services/common/strings.h"

namespace rebound::dns {

std::string_view SeverityName(Severity severity) {
    switch (severity) {
        case Severity::kOk:
            return "ok";
        case Severity::kWarning:
            return "warning";
        case Severity::kError:
            return "error";
        case Severity::kTemporary:
            return "temporary";
    }
    return "error";
}

std::string_view OutcomeName(Outcome outcome) {
    switch (outcome) {
        case Outcome::kOk:
            return "ok";
        case Outcome::kFailing:
            return "failing";
        case Outcome::kTemporary:
            return "temporary";
    }
    return "failing";
}

bool CheckResult::Has(std::string_view code) const {
    return std::any_of(verdicts.begin(), verdicts.end(), [&](const Verdict& v) { return v.code == code; });
}

std::string CheckResult::Summary() const {
    std::vector<std::string> codes;
    for (Severity wanted : {Severity::kError, Severity::kTemporary}) {
        for (const Verdict& v : verdicts)
            if (v.severity == wanted) codes.push_back(v.code);
        if (!codes.empty()) break;
    }
    return Join(codes, ",");
}

namespace {

constexpr int kMaxChain = 8;  // CNAME links followed

bool IsIpLiteral(std::string_view name) {
    std::string s(name);
    if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

class Checker {
  public:
    Checker(Lookup& dns, const Expectation& expect, std::string_view domain, std::string_view label)
        : dns_(dns), expect_(expect), domain_(domain), label_(label) {
        result_.feedback_domain = StrCat(label, ".", domain);
    }

    CheckResult Run();

  private:
    // Queries and remembers the records seen (once each).
    Answer Ask(const std::string& name, RecordType type) {
        Answer a = dns_.Query(name, type);
        for (const Record& r : a.records) {
            const bool seen = std::any_of(result_.found.begin(), result_.found.end(), [&](const Record& f) {
                return f.name == r.name && f.type == r.type && f.data == r.data && f.preference == r.preference;
            });
            if (!seen && result_.found.size() < kMaxRecords * 2) result_.found.push_back(r);
        }
        return a;
    }
    void Add(std::string code, Severity severity, std::string message) {
        result_.verdicts.push_back({std::move(code), severity, std::move(message)});
    }
    void Temporary(const std::string& name, RecordType type, const Answer& a) {
        Add("temporary", Severity::kTemporary,
            StrCat("The ", TypeName(type), " lookup of ", name, " failed (", RcodeName(a.rcode),
                   a.error.empty() ? "" : ": ", a.error,
                   "). This says nothing about the records; the check is repeated later."));
    }
    static std::vector<Record> Owned(const Answer& a, const std::string& owner, RecordType type) {
        std::vector<Record> out;
        for (const Record& r : a.records)
            if (r.name == owner && r.type == static_cast<std::uint16_t>(type)) out.push_back(r);
        return out;
    }
    const MxHost* ReboundHost(const std::string& host) const {
        for (const MxHost& h : expect_.mx_hosts)
            if (h.host == host) return &h;
        return nullptr;
    }
    std::string ExpectedMxText() const {
        std::vector<std::string> parts;
        for (const MxHost& h : expect_.mx_hosts)
            parts.push_back(StrCat(h.preference, " ", h.host));
        return Join(parts, ", ");
    }

    // Returns the end of the alias chain ("" when a lookup failed).
    std::string CheckCname(const Record& cname, bool other_data);
    void CheckMx(const std::vector<Record>& mx);
    void CheckNothing(const Answer& mx_answer);
    void CheckWrongNames();
    void CheckSpf(const Answer& txt, bool via_alias);

    Lookup& dns_;
    const Expectation& expect_;
    const std::string domain_, label_;
    CheckResult result_;
};

CheckResult Checker::Run() {
    const std::string& f = result_.feedback_domain;
    const Answer mx = Ask(f, RecordType::kMx);
    if (IsTemporary(mx.rcode)) {
        Temporary(f, RecordType::kMx, mx);
        result_.mode = "none";
        result_.outcome = Outcome::kTemporary;
        return std::move(result_);
    }
    const Answer cname = mx.rcode == Rcode::kNxDomain ? mx : Ask(f, RecordType::kCname);
    if (IsTemporary(cname.rcode)) Temporary(f, RecordType::kCname, cname);
    const Answer txt = mx.rcode == Rcode::kNxDomain ? mx : Ask(f, RecordType::kTxt);

    const std::vector<Record> cnames = Owned(cname, f, RecordType::kCname);
    // Also a CNAME that came back in the MX answer (a server following the alias).
    std::vector<Record> alias = cnames.empty() ? Owned(mx, f, RecordType::kCname) : cnames;
    const std::vector<Record> mx_at_f = Owned(mx, f, RecordType::kMx);
    const bool txt_at_f = !Owned(txt, f, RecordType::kTxt).empty();

    if (!alias.empty()) {
        result_.mode = "cname";
        const std::string end = CheckCname(alias.front(), !mx_at_f.empty() || txt_at_f);
        if (!mx_at_f.empty()) CheckMx(mx_at_f);
        // An authoritative server does not follow an alias into another zone: ask its end.
        const bool txt_via_alias = std::any_of(txt.records.begin(), txt.records.end(), [](const Record& r) {
            return r.type == static_cast<std::uint16_t>(RecordType::kTxt);
        });
        if (txt_at_f || txt_via_alias || end.empty()) {
            CheckSpf(txt, !txt_at_f);
        } else {
            CheckSpf(Ask(end, RecordType::kTxt), true);
        }
    } else if (!mx_at_f.empty()) {
        result_.mode = "mx";
        CheckMx(mx_at_f);
        CheckSpf(txt, false);
    } else {
        result_.mode = "none";
        CheckNothing(mx);
        if (mx.rcode != Rcode::kNxDomain) CheckSpf(txt, false);
    }

    bool error = false, temporary = false;
    for (const Verdict& v : result_.verdicts) {
        error = error || v.severity == Severity::kError;
        temporary = temporary || v.severity == Severity::kTemporary;
    }
    result_.outcome = error ? Outcome::kFailing : temporary ? Outcome::kTemporary : Outcome::kOk;
    return std::move(result_);
}

std::string Checker::CheckCname(const Record& cname, bool other_data) {
    const std::string& f = result_.feedback_domain;
    if (other_data) {
        Add("cname_with_other_data", Severity::kError,
            StrCat(f,
                   " has a CNAME record and other records (MX or TXT) at the same name. A CNAME must be the only "
                   "record at its name (RFC 1034 §3.6.2, RFC 2181 §10.1): resolvers may return either, so mail "
                   "may not reach Rebound. Keep either the CNAME or the MX and TXT records, not both."));
    }
    std::string target = cname.data;
    std::vector<std::string> chain = {target};
    for (int i = 0; i < kMaxChain && target != expect_.feedback_host; ++i) {
        const Answer next = Ask(target, RecordType::kCname);
        if (IsTemporary(next.rcode)) {
            Temporary(target, RecordType::kCname, next);
            return "";
        }
        const std::vector<Record> hop = Owned(next, target, RecordType::kCname);
        if (hop.empty()) break;
        target = hop.front().data;
        chain.push_back(target);
    }
    if (target == expect_.feedback_host) {
        Add("cname_ok", Severity::kOk,
            StrCat(f, " is an alias (CNAME, TTL ", cname.ttl, ") of ", Join(chain, " -> "),
                   ", Rebound's feedback host: mail and SPF follow Rebound's own records."));
    } else {
        Add("cname_wrong_target", Severity::kError,
            StrCat(f, " is an alias (CNAME) of ", Join(chain, " -> "), ", not of Rebound's feedback host ",
                   expect_.feedback_host, ": mail for ", f,
                   " goes wherever that name points, not to Rebound. "
                   "Point the CNAME at ",
                   expect_.feedback_host, "."));
    }
    return target;
}

void Checker::CheckMx(const std::vector<Record>& mx) {
    const std::string& f = result_.feedback_domain;
    int lowest_rebound = 70000;
    int rebound_count = 0;
    bool bad = false;
    std::vector<const Record*> foreign;
    for (const Record& r : mx) {
        if (IsIpLiteral(r.data)) {
            bad = true;
            Add("mx_target_ip", Severity::kError,
                StrCat("The MX record ", f, " -> ", r.data,
                       " names an IP address. An MX must name a host "
                       "(RFC 5321 §5.1, RFC 1035 §3.3.9); senders look ",
                       r.data, " up as a host name and fail. Use ", ExpectedMxText(), "."));
            continue;
        }
        if (ReboundHost(r.data) != nullptr) {
            ++rebound_count;
            lowest_rebound = std::min<int>(lowest_rebound, r.preference);
            continue;
        }
        // Not one of Rebound's names: an alias of one is still wrong (RFC 2181 §10.3).
        const Answer c = Ask(r.data, RecordType::kCname);
        const std::vector<Record> hop = Owned(c, r.data, RecordType::kCname);
        if (!hop.empty()) {
            bad = true;
            Add("mx_target_cname", Severity::kError,
                StrCat("The MX record ", f, " -> ", r.data, " points at an alias (", r.data, " is a CNAME of ",
                       hop.front().data,
                       "). MX targets must not be aliases (RFC 2181 §10.3); many senders refuse "
                       "them. Point the MX directly at ",
                       ExpectedMxText(), "."));
            continue;
        }
        if (IsTemporary(c.rcode)) Temporary(r.data, RecordType::kCname, c);
        foreign.push_back(&r);
    }
    for (const Record* r : foreign) {
        bad = true;
        Add("mx_foreign_host", Severity::kError,
            StrCat("The MX record ", f, " -> ", r->data, " (preference ", r->preference, ", TTL ", r->ttl,
                   ") is not Rebound's: mail sent to it does not reach Rebound. Every MX of ", f, " must be one of ",
                   ExpectedMxText(), "."));
        if (rebound_count > 0 && r->preference <= lowest_rebound) {
            Add("mx_foreign_preferred", Severity::kError,
                StrCat(r->data, " has preference ", r->preference, ", not above Rebound's lowest (", lowest_rebound,
                       "): senders try it first, so bounces go there instead of to Rebound."));
        }
    }
    if (rebound_count == 0) {
        if (!bad) Add("mx_missing", Severity::kError, StrCat("No MX record of ", f, " names Rebound's hosts."));
        return;
    }
    // Rebound's own hosts in the configured order: the primary must have the lowest preference.
    auto preference_of = [&](const std::string& host) {
        int best = -1;
        for (const Record& r : mx)
            if (r.data == host && (best < 0 || r.preference < best)) best = r.preference;
        return best;  // -1: not listed
    };
    const MxHost& primary = expect_.mx_hosts.front();
    const int primary_preference = preference_of(primary.host);
    std::vector<std::string> missing;
    for (const MxHost& want : expect_.mx_hosts) {
        const int preference = preference_of(want.host);
        if (preference < 0) {
            missing.push_back(want.host);
        } else if (&want != &primary && primary_preference >= 0 && preference < primary_preference) {
            Add("mx_backup_preferred", Severity::kWarning,
                StrCat("Rebound's backup host ", want.host, " has preference ", preference, ", lower than the primary ",
                       primary.host, " (", primary_preference,
                       "): senders use the backup first. Mail still reaches Rebound; swap the preferences (",
                       ExpectedMxText(), ")."));
        }
    }
    if (!missing.empty()) {
        Add("mx_host_missing", Severity::kWarning,
            StrCat("Rebound's host", missing.size() > 1 ? "s " : " ", Join(missing, ", "),
                   missing.size() > 1 ? " are" : " is", " not among the MX records of ", f,
                   ": mail still reaches Rebound, with less redundancy."));
    }
    if (!bad) {
        std::uint32_t ttl = mx.front().ttl;
        for (const Record& r : mx)
            ttl = std::min(ttl, r.ttl);
        Add("mx_ok", Severity::kOk,
            StrCat("Every MX record of ", f, " names Rebound's hosts (TTL ", ttl, "); the lowest preference, ",
                   lowest_rebound, ", is Rebound's: bounces reach Rebound."));
    }
}

void Checker::CheckNothing(const Answer& mx_answer) {
    const std::string& f = result_.feedback_domain;
    if (mx_answer.rcode == Rcode::kNxDomain) {
        Add("nxdomain", Severity::kError,
            StrCat(f,
                   " does not exist in DNS (NXDOMAIN): no records were created at that name yet. Create "
                   "the MX records (",
                   ExpectedMxText(), ") or the CNAME to ", expect_.feedback_host, "."));
    } else {
        std::vector<std::string> addresses;
        for (RecordType type : {RecordType::kA, RecordType::kAaaa}) {
            const Answer a = Ask(f, type);
            for (const Record& r : Owned(a, f, type))
                addresses.push_back(StrCat(TypeName(type), " ", r.data, " (TTL ", r.ttl, ")"));
        }
        if (!addresses.empty()) {
            Add("address_without_mx", Severity::kError,
                StrCat(f, " has no MX record but an address record (", Join(addresses, ", "),
                       "): senders deliver bounces to that host (RFC 5321 §5.1), not to Rebound. Add the MX "
                       "records (",
                       ExpectedMxText(), ")."));
        } else {
            Add("mx_missing", Severity::kError,
                StrCat(f,
                       " exists but has no MX record and no CNAME: mail for it cannot be delivered. Create the "
                       "MX records (",
                       ExpectedMxText(), ") or the CNAME to ", expect_.feedback_host, "."));
        }
    }
    CheckWrongNames();
}

// Common mistakes when the records are missing: created on the bare domain, with the zone
// appended twice by the provider's form, or with name and value swapped.
void Checker::CheckWrongNames() {
    const std::string& f = result_.feedback_domain;
    auto points_at_rebound = [&](const Answer& a, const std::string& owner) {
        for (const Record& r : a.records) {
            if (r.name != owner) continue;
            if (r.type == static_cast<std::uint16_t>(RecordType::kMx) && ReboundHost(r.data) != nullptr) return true;
            if (r.type == static_cast<std::uint16_t>(RecordType::kCname) && r.data == expect_.feedback_host)
                return true;
        }
        return false;
    };
    auto found_at = [&](const std::string& name) {
        return points_at_rebound(Ask(name, RecordType::kMx), name) ||
               points_at_rebound(Ask(name, RecordType::kCname), name);
    };
    if (found_at(domain_)) {
        Add("wrong_name_bare_domain", Severity::kError,
            StrCat("Rebound's record was created on ", domain_, " itself instead of on ", f,
                   ". That sends the mail of ", domain_, " to Rebound and not the bounces of ", f,
                   ". Move it to the name \"", label_, "\"."));
    }
    for (const std::string& doubled : {StrCat(f, ".", domain_), StrCat(label_, ".", f)}) {
        if (found_at(doubled)) {
            Add("wrong_name_doubled", Severity::kError,
                StrCat("Rebound's record exists at ", doubled, " instead of ", f,
                       ": the DNS provider adds the zone name to what is typed. Enter only \"", label_,
                       "\" as the record's name."));
        }
    }
    // Backwards: a record named after Rebound's host (inside the customer's zone) whose value
    // is the feedback domain.
    std::vector<std::string> ours = {expect_.feedback_host};
    for (const MxHost& h : expect_.mx_hosts)
        ours.push_back(h.host);
    for (const std::string& host : ours) {
        const std::string name = StrCat(host, ".", domain_);
        for (RecordType type : {RecordType::kMx, RecordType::kCname}) {
            const Answer a = Ask(name, type);
            for (const Record& r : Owned(a, name, type)) {
                if (r.data == f || r.data == domain_) {
                    Add("wrong_name_backwards", Severity::kError,
                        StrCat("A record ", name, " ", TypeName(type), " ", r.data,
                               " has name and value swapped: the name must be \"", label_, "\" (", f,
                               ") and the value Rebound's host ", host, "."));
                }
            }
        }
    }
}

void Checker::CheckSpf(const Answer& txt, bool via_alias) {
    const std::string& f = result_.feedback_domain;
    if (IsTemporary(txt.rcode)) {
        Add("spf_unchecked", Severity::kWarning,
            StrCat("The TXT lookup of ", f, " failed (", RcodeName(txt.rcode), "): SPF was not checked."));
        return;
    }
    std::vector<const Record*> spf;
    for (const Record& r : txt.records) {
        if (r.type != static_cast<std::uint16_t>(RecordType::kTxt)) continue;
        const std::string lower = AsciiLower(r.data);
        if (lower == "v=spf1" || lower.starts_with("v=spf1 ")) spf.push_back(&r);
    }
    const std::string want = SpfRecordText(expect_);
    if (spf.empty()) {
        Add("spf_missing", Severity::kWarning,
            StrCat("No SPF record at ", f,
                   ". It is the envelope (bounce) domain of your mail, so receivers check "
                   "SPF against it; add TXT \"",
                   want, "\"."));
        return;
    }
    if (spf.size() > 1) {
        Add("spf_multiple", Severity::kWarning,
            StrCat(f, " has ", spf.size(),
                   " SPF records; receivers treat that as an error (RFC 7208 §4.5). "
                   "Keep one: \"",
                   want, "\"."));
        return;
    }
    const std::string lower = AsciiLower(spf.front()->data);
    bool authorised = false;
    for (std::string_view term : Split(lower, ' ', true)) {
        if (!term.empty() && (term.front() == '+')) term.remove_prefix(1);
        if (term == StrCat("include:", expect_.spf_include) || term == StrCat("redirect=", expect_.spf_include))
            authorised = true;
    }
    if (authorised) {
        Add("spf_ok", Severity::kOk,
            StrCat("SPF of ", f, via_alias ? " (through the alias)" : "", " authorises the platform: \"",
                   spf.front()->data, "\" (TTL ", spf.front()->ttl, ")."));
    } else {
        Add("spf_not_authorising", Severity::kWarning,
            StrCat("The SPF record of ", f, ", \"", spf.front()->data, "\", does not include ", expect_.spf_include,
                   ": receivers will not accept the platform as a sender for this domain. Use \"", want, "\"."));
    }
}

}  // namespace

CheckResult Check(Lookup& dns, const Expectation& expect, std::string_view domain, std::string_view label) {
    return Checker(dns, expect, domain, label).Run();
}

std::string ToJson(const CheckResult& result) {
    common::JsonWriter w;
    w.BeginObject();
    w.Field("feedback_domain", result.feedback_domain);
    w.Field("outcome", std::string(OutcomeName(result.outcome)));
    w.Field("mode", result.mode);
    w.Key("found").BeginArray();
    for (const Record& r : result.found) {
        w.BeginObject().Field("name", r.name).Field("type", std::string(TypeName(r.type)));
        w.Key("ttl").Uint(r.ttl);
        if (r.type == static_cast<std::uint16_t>(RecordType::kMx)) w.Key("preference").Uint(r.preference);
        w.Field("value", r.data).EndObject();
    }
    w.EndArray();
    w.Key("verdicts").BeginArray();
    for (const Verdict& v : result.verdicts) {
        w.BeginObject().Field("code", v.code).Field("severity", std::string(SeverityName(v.severity)));
        w.Field("message", v.message).EndObject();
    }
    w.EndArray();
    w.EndObject();
    return w.Take();
}

std::string ToText(const CheckResult& result) {
    std::string out = StrCat("Records found for ", result.feedback_domain, ":\n");
    if (result.found.empty()) out += "  (none)\n";
    for (const Record& r : result.found) {
        StrAppend(&out, "  ", r.name, " ", r.ttl, " ", TypeName(r.type), " ");
        if (r.type == static_cast<std::uint16_t>(RecordType::kMx)) StrAppend(&out, r.preference, " ");
        if (r.type == static_cast<std::uint16_t>(RecordType::kTxt)) {
            StrAppend(&out, "\"", r.data, "\"\n");
        } else {
            StrAppend(&out, r.data, "\n");
        }
    }
    out += "Verdicts:\n";
    for (const Verdict& v : result.verdicts)
        StrAppend(&out, "  [", SeverityName(v.severity), "] ", v.code, ": ", v.message, "\n");
    StrAppend(&out, "Outcome: ", OutcomeName(result.outcome),
              result.outcome == Outcome::kOk          ? " (mail reaches Rebound)\n"
              : result.outcome == Outcome::kTemporary ? " (DNS could not answer; try again later)\n"
                                                      : " (mail does not reach Rebound)\n");
    return out;
}

}  // namespace rebound::dns
