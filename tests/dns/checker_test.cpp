// The checker without a network: DNS answers from a table in, verdicts out. Also the
// answer parser (bounds), record recommendations and the state machine.

#include "services/dns/checker.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "services/dns/records.h"
#include "services/dns/state.h"

namespace rebound::dns {
namespace {

constexpr std::uint16_t kMx = 15, kCname = 5, kTxt = 16, kA = 1;

// Answers from a table; unknown questions are NXDOMAIN, or `fallback` when set.
class TableLookup : public Lookup {
  public:
    Answer Query(std::string_view name, RecordType type) override {
        ++queries;
        auto it = table.find({std::string(name), static_cast<std::uint16_t>(type)});
        if (it != table.end()) return it->second;
        Answer a;
        a.rcode = names.count(std::string(name)) ? Rcode::kNoData : fallback;
        return a;
    }
    void Add(const std::string& name, std::uint16_t type, std::uint32_t ttl, const std::string& data,
             std::uint16_t preference = 0) {
        Answer& a = table[{name, type}];
        a.rcode = Rcode::kAnswer;
        a.records.push_back({name, type, ttl, preference, data});
        names.insert(name);
    }
    void Fail(const std::string& name, RecordType type, Rcode rcode) {
        Answer& a = table[{name, static_cast<std::uint16_t>(type)}];
        a.rcode = rcode;
        a.error = "test";
    }
    std::map<std::pair<std::string, std::uint16_t>, Answer> table;
    std::set<std::string> names;
    Rcode fallback = Rcode::kNxDomain;
    int queries = 0;
};

Expectation Expect() {
    config::DnsConfig c;
    c.mx_hosts = {"20 mx2.rebound.test", "10 mx1.rebound.test"};  // sorted by preference
    c.feedback_host = "feedback.rebound.test";
    c.spf_include = "_spf.rebound.test";
    return ExpectationFromConfig(c);
}

const std::string kF = "feedback.acme.test";
const std::string kSpf = "v=spf1 include:_spf.rebound.test ~all";

CheckResult CheckAcme(TableLookup& t) {
    return Check(t, Expect(), "acme.test", "feedback");
}

void Good(TableLookup& t) {
    t.Add(kF, kMx, 1800, "mx1.rebound.test", 10);
    t.Add(kF, kMx, 1800, "mx2.rebound.test", 20);
    t.Add(kF, kTxt, 300, kSpf);
}

TEST(Checker, CorrectMxAndSpfIsOkWithTtls) {
    TableLookup t;
    Good(t);
    CheckResult r = CheckAcme(t);
    EXPECT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(r.mode, "mx");
    EXPECT_TRUE(r.Has("mx_ok"));
    EXPECT_TRUE(r.Has("spf_ok"));
    EXPECT_EQ(r.verdicts.size(), 2u);
    ASSERT_EQ(r.found.size(), 3u);
    EXPECT_EQ(r.found[0].ttl, 1800u);
    EXPECT_NE(ToText(r).find("feedback.acme.test 1800 MX 10 mx1.rebound.test"), std::string::npos) << ToText(r);
    EXPECT_NE(ToJson(r).find("\"outcome\":\"ok\""), std::string::npos);
}

TEST(Checker, BackupPreferredIsAWarningNotAFailure) {
    TableLookup t;
    t.Add(kF, kMx, 300, "mx1.rebound.test", 20);
    t.Add(kF, kMx, 300, "mx2.rebound.test", 10);
    t.Add(kF, kTxt, 300, kSpf);
    CheckResult r = CheckAcme(t);
    EXPECT_EQ(r.outcome, Outcome::kOk);
    EXPECT_TRUE(r.Has("mx_backup_preferred"));
}

TEST(Checker, ForeignHostPreferredFails) {
    TableLookup t;
    t.Add(kF, kMx, 300, "mx1.rebound.test", 10);
    t.Add(kF, kMx, 300, "mail.acme.test", 5);
    t.Add("mail.acme.test", kA, 300, "192.0.2.1");
    CheckResult r = CheckAcme(t);
    EXPECT_EQ(r.outcome, Outcome::kFailing);
    EXPECT_TRUE(r.Has("mx_foreign_host"));
    EXPECT_TRUE(r.Has("mx_foreign_preferred"));
    EXPECT_TRUE(r.Has("mx_host_missing"));
}

TEST(Checker, MxTargetAliasAndIpLiteralFail) {
    TableLookup t;
    t.Add(kF, kMx, 300, "mx.acme.test", 10);
    t.Add("mx.acme.test", kCname, 300, "mx1.rebound.test");
    EXPECT_TRUE(CheckAcme(t).Has("mx_target_cname"));
    EXPECT_EQ(CheckAcme(t).outcome, Outcome::kFailing);
    TableLookup ip;
    ip.Add(kF, kMx, 300, "192.0.2.10", 10);
    CheckResult r = CheckAcme(ip);
    EXPECT_TRUE(r.Has("mx_target_ip"));
    EXPECT_FALSE(r.Has("mx_foreign_host"));
    EXPECT_EQ(r.outcome, Outcome::kFailing);
}

TEST(Checker, NoMxButAddressMeansMailGoesThere) {
    TableLookup t;
    t.Add(kF, kA, 300, "192.0.2.5");
    CheckResult r = CheckAcme(t);
    EXPECT_EQ(r.outcome, Outcome::kFailing);
    EXPECT_TRUE(r.Has("address_without_mx"));
    EXPECT_NE(r.verdicts.front().message.find("192.0.2.5"), std::string::npos);
}

TEST(Checker, NxdomainAndRecordsAtWrongNames) {
    TableLookup t;
    t.Add("acme.test", kMx, 300, "mx1.rebound.test", 10);
    t.Add("feedback.acme.test.acme.test", kMx, 300, "mx1.rebound.test", 10);
    t.Add("mx1.rebound.test.acme.test", kMx, 300, kF, 10);
    CheckResult r = CheckAcme(t);
    EXPECT_EQ(r.outcome, Outcome::kFailing);
    EXPECT_TRUE(r.Has("nxdomain"));
    EXPECT_TRUE(r.Has("wrong_name_bare_domain"));
    EXPECT_TRUE(r.Has("wrong_name_doubled"));
    EXPECT_TRUE(r.Has("wrong_name_backwards"));
}

TEST(Checker, CnameModeFollowsTheChainToReboundsHost) {
    TableLookup t;
    t.Add(kF, kCname, 300, "alias.acme.test");
    t.Add("alias.acme.test", kCname, 300, "feedback.rebound.test");
    t.Add("feedback.rebound.test", kTxt, 300, kSpf);
    CheckResult r = CheckAcme(t);
    EXPECT_EQ(r.mode, "cname");
    EXPECT_EQ(r.outcome, Outcome::kOk) << ToText(r);
    EXPECT_TRUE(r.Has("cname_ok"));
    EXPECT_TRUE(r.Has("spf_ok"));

    TableLookup wrong;
    wrong.Add(kF, kCname, 300, "elsewhere.example");
    EXPECT_TRUE(CheckAcme(wrong).Has("cname_wrong_target"));
    EXPECT_EQ(CheckAcme(wrong).outcome, Outcome::kFailing);
}

TEST(Checker, CnameBesideOtherRecordsFails) {
    TableLookup t;
    t.Add(kF, kCname, 300, "feedback.rebound.test");
    t.Add(kF, kMx, 300, "mx1.rebound.test", 10);
    CheckResult r = CheckAcme(t);
    EXPECT_TRUE(r.Has("cname_with_other_data"));
    EXPECT_EQ(r.outcome, Outcome::kFailing);
}

TEST(Checker, SpfMissingMultipleOrNotAuthorisingAreWarnings) {
    TableLookup none;
    none.Add(kF, kMx, 300, "mx1.rebound.test", 10);
    none.Add(kF, kMx, 300, "mx2.rebound.test", 20);
    EXPECT_TRUE(CheckAcme(none).Has("spf_missing"));
    EXPECT_EQ(CheckAcme(none).outcome, Outcome::kOk);
    TableLookup bad = none;
    bad.Add(kF, kTxt, 300, "v=spf1 mx -all");
    EXPECT_TRUE(CheckAcme(bad).Has("spf_not_authorising"));
    TableLookup two = bad;
    two.Add(kF, kTxt, 300, kSpf);
    EXPECT_TRUE(CheckAcme(two).Has("spf_multiple"));
    TableLookup other = none;
    other.Add(kF, kTxt, 300, "google-site-verification=abc");
    EXPECT_TRUE(CheckAcme(other).Has("spf_missing"));
}

TEST(Checker, ServfailAndTimeoutAreTemporaryNeverFailing) {
    for (Rcode rcode : {Rcode::kServFail, Rcode::kTimeout, Rcode::kError}) {
        TableLookup t;
        t.Fail(kF, RecordType::kMx, rcode);
        CheckResult r = CheckAcme(t);
        EXPECT_EQ(r.outcome, Outcome::kTemporary) << RcodeName(rcode);
        EXPECT_TRUE(r.Has("temporary"));
        EXPECT_EQ(t.queries, 1);
    }
    // MX fine, but whether a CNAME sits beside it could not be learnt: not ok yet.
    TableLookup t;
    Good(t);
    t.Fail(kF, RecordType::kCname, Rcode::kTimeout);
    EXPECT_EQ(CheckAcme(t).outcome, Outcome::kTemporary);
}

TEST(Recommend, RecordsAndZoneLines) {
    Recommendation r = Recommend(Expect(), "feedback.acme.test");
    ASSERT_EQ(r.mx.size(), 2u);
    EXPECT_EQ(r.mx[0].value, "mx1.rebound.test");
    EXPECT_EQ(r.mx[0].preference, 10);
    EXPECT_EQ(r.mx[0].zone_line, "feedback.acme.test. 3600 IN MX 10 mx1.rebound.test.");
    EXPECT_EQ(r.spf.zone_line, "feedback.acme.test. 3600 IN TXT \"v=spf1 include:_spf.rebound.test ~all\"");
    EXPECT_EQ(r.cname.zone_line, "feedback.acme.test. 3600 IN CNAME feedback.rebound.test.");
    EXPECT_NE(r.zone_file.find("; feedback.acme.test. 3600 IN CNAME"), std::string::npos);
}

TEST(State, PendingVerifiedFailingWithBackoff) {
    Schedule s{3600, 60, 400};
    Transition t = NextState("pending", 0, Outcome::kFailing, s);
    EXPECT_EQ(t.state, "pending");
    EXPECT_EQ(t.failures, 1);
    EXPECT_EQ(t.next_check_seconds, 60);
    t = NextState("pending", 1, Outcome::kOk, s);
    EXPECT_EQ(t.state, "verified");
    EXPECT_EQ(t.failures, 0);
    EXPECT_EQ(t.next_check_seconds, 3600);
    t = NextState("verified", 0, Outcome::kTemporary, s);
    EXPECT_EQ(t.state, "verified") << "a temporary failure never changes the state";
    EXPECT_EQ(t.next_check_seconds, 60);
    t = NextState("verified", 1, Outcome::kFailing, s);
    EXPECT_EQ(t.state, "failing");
    EXPECT_EQ(t.next_check_seconds, 120);
    t = NextState("failing", 3, Outcome::kTemporary, s);
    EXPECT_EQ(t.state, "failing");
    EXPECT_EQ(t.next_check_seconds, 400) << "capped";
    EXPECT_EQ(NextState("failing", 1000000, Outcome::kFailing, s).next_check_seconds, 400);
    EXPECT_EQ(NextState("failing", 4, Outcome::kOk, s).state, "verified");
}

// ---- the answer parser ----

std::vector<unsigned char> Header(std::uint16_t rcode, std::uint16_t qd, std::uint16_t an) {
    return {0,    1,
            0x81, static_cast<unsigned char>(0x80 | rcode),
            0,    static_cast<unsigned char>(qd),
            0,    static_cast<unsigned char>(an),
            0,    0,
            0,    0};
}
void Name(std::vector<unsigned char>& m, const std::string& dotted) {
    std::size_t start = 0;
    while (start < dotted.size()) {
        std::size_t dot = dotted.find('.', start);
        if (dot == std::string::npos) dot = dotted.size();
        m.push_back(static_cast<unsigned char>(dot - start));
        m.insert(m.end(), dotted.begin() + static_cast<long>(start), dotted.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    m.push_back(0);
}

TEST(Parse, MxWithCompressionAndTtl) {
    std::vector<unsigned char> m = Header(0, 1, 1);
    Name(m, "feedback.Acme.test");
    m.insert(m.end(), {0, 15, 0, 1});
    m.insert(m.end(), {0xC0, 12, 0, 15, 0, 1, 0, 0, 0x0E, 0x10});  // pointer to the question, TTL 3600
    std::vector<unsigned char> rdata = {0, 10};
    Name(rdata, "mx1.rebound.test");
    m.push_back(0);
    m.push_back(static_cast<unsigned char>(rdata.size()));
    m.insert(m.end(), rdata.begin(), rdata.end());
    Answer a = ParseResponse(m.data(), m.size());
    ASSERT_EQ(a.rcode, Rcode::kAnswer) << a.error;
    ASSERT_EQ(a.records.size(), 1u);
    EXPECT_EQ(a.records[0].name, "feedback.acme.test");
    EXPECT_EQ(a.records[0].ttl, 3600u);
    EXPECT_EQ(a.records[0].preference, 10);
    EXPECT_EQ(a.records[0].data, "mx1.rebound.test");
}

TEST(Parse, RcodesAndMalformedInputsAreBounded) {
    std::vector<unsigned char> nx = Header(3, 0, 0);
    EXPECT_EQ(ParseResponse(nx.data(), nx.size()).rcode, Rcode::kNxDomain);
    std::vector<unsigned char> sf = Header(2, 0, 0);
    EXPECT_EQ(ParseResponse(sf.data(), sf.size()).rcode, Rcode::kServFail);
    std::vector<unsigned char> nodata = Header(0, 0, 0);
    EXPECT_EQ(ParseResponse(nodata.data(), nodata.size()).rcode, Rcode::kNoData);
    EXPECT_EQ(ParseResponse(nodata.data(), 5).rcode, Rcode::kError);
    // A compression pointer to itself: a loop, refused.
    std::vector<unsigned char> loop = Header(0, 1, 0);
    loop.insert(loop.end(), {0xC0, 12, 0, 15, 0, 1});
    EXPECT_EQ(ParseResponse(loop.data(), loop.size()).rcode, Rcode::kError);
    // An answer count larger than the message.
    std::vector<unsigned char> many = Header(0, 0, 200);
    EXPECT_EQ(ParseResponse(many.data(), many.size()).rcode, Rcode::kError);
    // Record data running past the end.
    std::vector<unsigned char> past = Header(0, 0, 1);
    past.insert(past.end(), {0, 0, 16, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 3, 'a', 'b'});
    EXPECT_EQ(ParseResponse(past.data(), past.size()).rcode, Rcode::kError);
    // Every truncation of a valid message is handled.
    std::vector<unsigned char> m = Header(0, 1, 1);
    Name(m, "a.test");
    m.insert(m.end(), {0, 16, 0, 1, 0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 5, 0, 4, 3, 'a', 'b', 'c'});
    EXPECT_EQ(ParseResponse(m.data(), m.size()).records.at(0).data, "abc");
    for (std::size_t n = 0; n < m.size(); ++n)
        EXPECT_NE(ParseResponse(m.data(), n).rcode, Rcode::kAnswer) << n;
}

}  // namespace
}  // namespace rebound::dns
