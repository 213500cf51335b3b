#include "services/envelope/day.h"

#include <gtest/gtest.h>

#include <chrono>

namespace rebound::envelope {
namespace {

TEST(Day, FormatsKnownDays) {
    EXPECT_EQ(FormatDay(0), "1970-01-01");
    EXPECT_EQ(FormatDay(59), "1970-03-01");
    EXPECT_EQ(FormatDay(11016), "2000-02-29");
    EXPECT_EQ(FormatDay(20414), "2025-11-22");
    EXPECT_EQ(FormatDay(2932896), "9999-12-31");
    EXPECT_EQ(FormatDay(4294967295u), "11761191-01-20");
}

TEST(Day, ParsesWhatItFormats) {
    for (std::uint32_t day = 0; day < 2932897; day += 97) {
        const auto parsed = ParseDay(FormatDay(day));
        ASSERT_TRUE(parsed.has_value()) << day;
        EXPECT_EQ(*parsed, day);
    }
    EXPECT_EQ(ParseDay("2024-02-29"), 19782u);
}

TEST(Day, RejectsEverythingElse) {
    for (const char* bad :
         {"", "2025-1-1", "2025-01-1", "2025/01/01", "2025-13-01", "2025-00-10", "2025-02-29", "2026-02-30",
          "1969-12-31", "+025-01-01", "2025-01-+1", "20250101xx", "2025-01-01 ", "１９７０-01-01"}) {
        EXPECT_FALSE(ParseDay(bad).has_value()) << bad;
    }
}

TEST(Day, TodayIsTheSystemClockDay) {
    const auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    const auto expected = static_cast<std::uint32_t>(now.time_since_epoch().count());
    const std::uint32_t today = Today();
    EXPECT_TRUE(today == expected || today == expected + 1);  // midnight between the two reads
    EXPECT_GT(today, 20000u);
}

}  // namespace
}  // namespace rebound::envelope
