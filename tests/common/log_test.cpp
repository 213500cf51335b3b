#include "services/common/log.h"

#include <gtest/gtest.h>

namespace rebound::log {
namespace {

TEST(LogEscapeTest, PlainTokensStayUnquoted) {
    EXPECT_EQ(Escape("abc.def"), "abc.def");
}

TEST(LogEscapeTest, SpacesAndControlBytesAreQuotedAndEscaped) {
    EXPECT_EQ(Escape("a b"), "\"a b\"");
    EXPECT_EQ(Escape("x\r\ny"), "\"x\\x0d\\x0ay\"");
    EXPECT_EQ(Escape("say \"hi\""), "\"say \\\"hi\\\"\"");
    EXPECT_EQ(Escape(""), "\"\"");
}

TEST(LogEscapeTest, TruncatesPeerText) {
    const std::string long_text(1000, 'a');
    const std::string escaped = Escape(long_text, 10);
    EXPECT_EQ(escaped, "aaaaaaaaaa...");
}

TEST(LogLevelTest, ParsesNames) {
    Level level = Level::kInfo;
    EXPECT_TRUE(ParseLevel("warn", &level));
    EXPECT_EQ(level, Level::kWarn);
    EXPECT_FALSE(ParseLevel("verbose", &level));
}

}  // namespace
}  // namespace rebound::log
