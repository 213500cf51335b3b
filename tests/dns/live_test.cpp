// The live check against a real authoritative DNS server (Knot on 127.0.0.1) serving a zone
// with a case per mistake, through c-ares; and `rebound domain check` as a process.

#include <gtest/gtest.h>

#include <cstdlib>

#include "services/dns/checker.h"
#include "services/dns/records.h"
#include "services/dns/resolver.h"
#include "tests/support/knot_server.h"
#include "tests/support/process.h"

namespace rebound::dns {
namespace {

using namespace std::chrono_literals;

class LiveTest : public ::testing::Test {
  public:
    static void SetUpTestSuite() {
        if (!testing::KnotServer::Available()) return;
        knot_ = new testing::KnotServer();
        if (!knot_->Start(testing::ScenarioZones(), &error_)) {
            delete knot_;
            knot_ = nullptr;
        }
    }
    static void TearDownTestSuite() {
        delete knot_;
        knot_ = nullptr;
    }

  protected:
    void SetUp() override {
        if (knot_ != nullptr) return;
        const char* ci = std::getenv("CI");
        if (error_.empty() && (ci == nullptr || std::string(ci) != "true")) {
            GTEST_SKIP() << "knotd not installed (tools/install-deps installs Debian's knot)";
        }
        FAIL() << (error_.empty() ? "knotd not installed" : error_);
    }

    static ResolverOptions Options(const std::string& server) {
        ResolverOptions o;
        o.servers = {server};
        o.timeout_ms = 300;
        o.tries = 1;
        return o;
    }

    static CheckResult CheckCase(const std::string& name) {
        auto lookup = AresLookup::Create(Options(knot_->address()));
        EXPECT_TRUE(lookup.ok()) << lookup.status();
        const Expectation expect = ExpectationFromConfig(testing::ScenarioDnsConfig(knot_->address()));
        return Check(**lookup, expect, name + ".customer.test", "feedback");
    }

    static testing::KnotServer* knot_;
    static std::string error_;
};
testing::KnotServer* LiveTest::knot_ = nullptr;
std::string LiveTest::error_;

TEST_F(LiveTest, ResolverDistinguishesAnswerNodataNxdomainServfail) {
    auto lookup = AresLookup::Create(Options(knot_->address()));
    ASSERT_TRUE(lookup.ok()) << lookup.status();
    Answer mx = (*lookup)->Query("feedback.good.customer.test", RecordType::kMx);
    ASSERT_EQ(mx.rcode, Rcode::kAnswer) << mx.error;
    ASSERT_EQ(mx.records.size(), 2u);
    EXPECT_EQ(mx.records[0].ttl, 1800u);
    EXPECT_EQ((*lookup)->Query("feedback.good.customer.test", RecordType::kA).rcode, Rcode::kNoData);
    EXPECT_EQ((*lookup)->Query("nothing.customer.test", RecordType::kMx).rcode, Rcode::kNxDomain);
    Answer txt = (*lookup)->Query("feedback.good.customer.test", RecordType::kTxt);
    ASSERT_EQ(txt.records.size(), 1u);
    EXPECT_EQ(txt.records[0].data, "v=spf1 include:_spf.rebound.test ~all");
    EXPECT_EQ(txt.records[0].ttl, 600u);
    Answer broken = (*lookup)->Query("feedback.broken.test", RecordType::kMx);
    EXPECT_EQ(broken.rcode, Rcode::kServFail) << RcodeName(broken.rcode) << " " << broken.error;
    Answer a = (*lookup)->Query("feedback.addr.customer.test", RecordType::kA);
    ASSERT_EQ(a.records.size(), 1u);
    EXPECT_EQ(a.records[0].data, "192.0.2.5");
}

TEST_F(LiveTest, UnreachableResolverIsATimeout) {
    auto lookup = AresLookup::Create(Options(testing::DeadResolverAddress()));
    ASSERT_TRUE(lookup.ok());
    const auto start = std::chrono::steady_clock::now();
    Answer a = (*lookup)->Query("feedback.good.customer.test", RecordType::kMx);
    EXPECT_EQ(a.rcode, Rcode::kTimeout) << RcodeName(a.rcode) << " " << a.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

struct Case {
    const char* name;
    Outcome outcome;
    std::vector<const char*> codes;
    const char* mode;
};

TEST_F(LiveTest, EveryScenario) {
    const std::vector<Case> cases = {
        {"good", Outcome::kOk, {"mx_ok", "spf_ok"}, "mx"},
        {"backup", Outcome::kOk, {"mx_backup_preferred", "spf_ok"}, "mx"},
        {"foreignfirst", Outcome::kFailing, {"mx_foreign_host", "mx_foreign_preferred", "spf_missing"}, "mx"},
        {"mxcname", Outcome::kFailing, {"mx_target_cname"}, "mx"},
        {"mxip", Outcome::kFailing, {"mx_target_ip"}, "mx"},
        {"missing", Outcome::kFailing, {"mx_missing", "spf_ok"}, "none"},
        {"addr", Outcome::kFailing, {"address_without_mx"}, "none"},
        {"nxdomain", Outcome::kFailing, {"nxdomain"}, "none"},
        {"cname", Outcome::kOk, {"cname_ok", "spf_ok"}, "cname"},
        {"cnamechain", Outcome::kOk, {"cname_ok", "spf_ok"}, "cname"},
        {"cnamewrong", Outcome::kFailing, {"cname_wrong_target"}, "cname"},
        // Knot (like BIND and NSD, which refuse such a zone) answers every query at a name
        // with a CNAME with the CNAME alone: the MX beside it is invisible and mail follows
        // the alias. The verdict cname_with_other_data is for servers that answer both (see
        // Checker.CnameBesideOtherRecordsFails in dns_unit_test).
        {"cnameplus", Outcome::kOk, {"cname_ok"}, "cname"},
        {"bare", Outcome::kFailing, {"nxdomain", "wrong_name_bare_domain"}, "none"},
        {"doubled", Outcome::kFailing, {"nxdomain", "wrong_name_doubled"}, "none"},
        {"backwards", Outcome::kFailing, {"nxdomain", "wrong_name_backwards"}, "none"},
        {"spfbad", Outcome::kOk, {"mx_ok", "spf_not_authorising"}, "mx"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        CheckResult r = CheckCase(c.name);
        EXPECT_EQ(OutcomeName(r.outcome), OutcomeName(c.outcome)) << ToText(r);
        EXPECT_EQ(r.mode, c.mode) << ToText(r);
        for (const char* code : c.codes)
            EXPECT_TRUE(r.Has(code)) << code << "\n" << ToText(r);
        EXPECT_FALSE(r.Has("temporary")) << ToText(r);
    }
}

TEST_F(LiveTest, ServfailZoneAndDeadResolverAreTemporary) {
    auto lookup = AresLookup::Create(Options(knot_->address()));
    const Expectation expect = ExpectationFromConfig(testing::ScenarioDnsConfig(knot_->address()));
    CheckResult r = Check(**lookup, expect, "broken.test", "feedback");
    EXPECT_EQ(r.outcome, Outcome::kTemporary) << ToText(r);
    EXPECT_TRUE(r.Has("temporary"));

    auto dead = AresLookup::Create(Options(testing::DeadResolverAddress()));
    r = Check(**dead, expect, "good.customer.test", "feedback");
    EXPECT_EQ(r.outcome, Outcome::kTemporary) << ToText(r);
    EXPECT_EQ(r.verdicts.size(), 1u);
}

// `rebound domain check` as a process: its output and exit status.
class CliTest : public LiveTest {
  protected:
    // Runs the CLI with the scenario configuration; returns {exit status, stdout}.
    std::pair<int, std::string> Cli(std::vector<std::string> args) {
        const config::DnsConfig dns = testing::ScenarioDnsConfig(knot_->address());
        std::map<std::string, std::string> env = {
            {"REBOUND_DNS_MX_HOSTS", "10 mx1.rebound.test, 20 mx2.rebound.test"},
            {"REBOUND_DNS_FEEDBACK_HOST", dns.feedback_host},
            {"REBOUND_DNS_SPF_INCLUDE", dns.spf_include},
            {"REBOUND_DNS_TIMEOUT_MS", "300"},
            {"REBOUND_DNS_TRIES", "1"},
            {"REBOUND_DNS_RESOLVERS", knot_->address()},
        };
        std::string cmd = REBOUND_CLI_PATH;
        for (const auto& a : args)
            cmd += " '" + a + "'";
        testing::ChildProcess child;
        // stdout into stderr, which ChildProcess reads.
        EXPECT_TRUE(child.Start({"/bin/sh", "-c", cmd + " 1>&2"}, env));
        auto status = child.Wait(30s);
        EXPECT_TRUE(status.has_value());
        child.WaitForLine("\x01", 100ms);
        return {status.value_or(-1), child.output()};
    }
};

TEST_F(CliTest, ExitStatusZeroOnlyWhenMailReachesRebound) {
    auto [ok, out] = Cli({"domain", "check", "good.customer.test"});
    EXPECT_EQ(ok, 0) << out;
    EXPECT_NE(out.find("feedback.good.customer.test 1800 MX 10 mx1.rebound.test"), std::string::npos) << out;
    EXPECT_NE(out.find("[ok] mx_ok"), std::string::npos) << out;
    EXPECT_NE(out.find("Outcome: ok"), std::string::npos) << out;

    auto [cname, cname_out] = Cli({"domain", "check", "cname.customer.test"});
    EXPECT_EQ(cname, 0) << cname_out;

    auto [bad, bad_out] = Cli({"domain", "check", "mxcname.customer.test"});
    EXPECT_EQ(bad, 1) << bad_out;
    EXPECT_NE(bad_out.find("RFC 2181"), std::string::npos) << bad_out;

    auto [nx, nx_out] = Cli({"domain", "check", "nxdomain.customer.test", "--json"});
    EXPECT_EQ(nx, 1) << nx_out;
    EXPECT_NE(nx_out.find("\"code\":\"nxdomain\""), std::string::npos) << nx_out;

    // --label and --resolver (here one where nothing listens: temporary).
    auto [temp, temp_out] = Cli(
        {"domain", "check", "good.customer.test", "--label", "feedback", "--resolver", testing::DeadResolverAddress()});
    EXPECT_EQ(temp, 75) << temp_out;
    EXPECT_NE(temp_out.find("Outcome: temporary"), std::string::npos) << temp_out;

    auto [other_label, other_out] = Cli({"domain", "check", "customer.test", "--label=good"});
    EXPECT_EQ(other_label, 1) << "good.customer.test has no MX records itself\n" << other_out;
}

TEST_F(CliTest, UsageErrors) {
    EXPECT_EQ(Cli({"domain"}).first, 2);
    EXPECT_EQ(Cli({"domain", "frobnicate"}).first, 2);
    EXPECT_EQ(Cli({"domain", "check"}).first, 2);
    EXPECT_EQ(Cli({"domain", "check", "a.test", "b.test"}).first, 2);
    EXPECT_EQ(Cli({"domain", "check", "not a domain"}).first, 2);
    EXPECT_EQ(Cli({"domain", "check", "good.customer.test", "--label", "bad label"}).first, 2);
    EXPECT_EQ(Cli({"domain", "check", "good.customer.test", "--resolver"}).first, 2);
    EXPECT_EQ(Cli({"domain", "check", "good.customer.test", "--bogus"}).first, 2);
    auto [help, text] = Cli({"domain", "check", "--help"});
    EXPECT_EQ(help, 0);
    EXPECT_NE(text.find("usage: rebound domain check"), std::string::npos);
}

}  // namespace
}  // namespace rebound::dns
