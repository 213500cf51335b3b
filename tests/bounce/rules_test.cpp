#include "services/bounce/rules.h"

#include <gtest/gtest.h>

#include "services/bounce/parser.h"

namespace rebound::bounce {
namespace {

TEST(BounceRules, BuiltinRulesParse) {
    const RuleSet& rules = RuleSet::Builtin();
    EXPECT_FALSE(rules.version().empty());
    EXPECT_EQ(RulesVersion(), rules.version());
    ASSERT_NE(rules.FindOutcome("userunknown"), nullptr);
    EXPECT_EQ(rules.FindOutcome("userunknown")->bounce_class, 10);
    EXPECT_EQ(rules.FindOutcome("vacation")->disposition, "auto_reply");
    EXPECT_EQ(rules.FindOutcome("feedback")->disposition, "complaint");
    EXPECT_EQ(rules.FindOutcome("delayed")->disposition, "delayed");
}

TEST(BounceRules, PiecesMatchInOrder) {
    EXPECT_TRUE(PiecesMatch("mailbox for kijitora is full", {"mailbox", "full"}));
    EXPECT_FALSE(PiecesMatch("full mailbox", {"mailbox", "full"}));
    EXPECT_TRUE(PiecesMatch("anything", {}));
}

TEST(BounceRules, RejectsMalformedRules) {
    EXPECT_FALSE(RuleSet::Parse("text a.1 userunknown x\n").ok());  // no version
    EXPECT_FALSE(RuleSet::Parse("version 1\ntext a.1 nosuchreason x\n").ok());
    EXPECT_FALSE(RuleSet::Parse("version 1\nbogus line\n").ok());
    auto dup = RuleSet::Parse("version 1\ntext a.1 userunknown x\ntext a.1 userunknown y\n");
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(std::string(dup.status().message()).find("duplicate"), std::string::npos);
}

struct ClassifyCase {
    const char* status;
    const char* reply;
    const char* diagnostic;
    const char* command;
    const char* want;
};

class ClassifyTest : public ::testing::TestWithParam<ClassifyCase> {};

TEST_P(ClassifyTest, Decides) {
    const ClassifyCase& c = GetParam();
    ClassifyInput in;
    in.status = c.status;
    in.reply_code = c.reply;
    in.diagnostic = c.diagnostic;
    in.smtp_command = c.command;
    Decision d = RuleSet::Builtin().Classify(in);
    EXPECT_EQ(d.reason, c.want) << c.diagnostic;
    EXPECT_FALSE(d.rule_id.empty());
    EXPECT_NE(d.outcome, nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ClassifyTest,
    ::testing::Values(ClassifyCase{"5.1.1", "550", "550 5.1.1 <a@example.org>: User unknown", "RCPT", "userunknown"},
                      ClassifyCase{"5.0.0", "550", "550 User unknown", "RCPT", "userunknown"},
                      ClassifyCase{"5.0.0", "550", "550 User unknown", "DATA", "filtered"},
                      ClassifyCase{"5.2.2", "552", "552 5.2.2 Mailbox full", "", "mailboxfull"},
                      ClassifyCase{"", "", "mailbox is full", "", "mailboxfull"},
                      ClassifyCase{"5.1.2", "550", "Host or domain name not found", "", "hostunknown"},
                      ClassifyCase{"5.7.26", "550", "550 5.7.26 Unauthenticated email is not accepted due to DMARC",
                                   "DATA", "authfailure"},
                      ClassifyCase{"5.7.1", "554", "554 5.7.1 Relay access denied", "RCPT", "norelaying"},
                      ClassifyCase{"4.4.7", "", "", "", "expired"},
                      ClassifyCase{"2.1.5", "250", "250 ok", "", "delivered"},
                      ClassifyCase{"", "", "", "", "undefined"},
                      ClassifyCase{"", "", "something odd happened", "", "onhold"}));

}  // namespace
}  // namespace rebound::bounce
