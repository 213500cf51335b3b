#include "services/envelope/day.h"

#include <chrono>

#include "services/common/strings.h"

namespace rebound::envelope {

std::uint32_t Today() {
    const auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    return static_cast<std::uint32_t>(now.time_since_epoch().count());
}

std::string FormatDay(std::uint32_t day) {
    // H. Hinnant's civil_from_days in 64-bit arithmetic: std::chrono::year stops at 32767,
    // a uint32 day reaches year 11,761,191.
    const std::int64_t z = static_cast<std::int64_t>(day) + 719468;
    const std::int64_t era = z / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    std::string out = StrCat(y, "-");
    if (m < 10) out += '0';
    StrAppend(&out, m, "-");
    if (d < 10) out += '0';
    StrAppend(&out, d);
    return out;
}

std::optional<std::uint32_t> ParseDay(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9')) return std::nullopt;
    }
    int y = 0;
    unsigned m = 0;
    unsigned d = 0;
    if (!ParseInt(text.substr(0, 4), &y) || !ParseInt(text.substr(5, 2), &m) || !ParseInt(text.substr(8, 2), &d)) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (y < 1970 || !ymd.ok()) return std::nullopt;
    return static_cast<std::uint32_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}

}  // namespace rebound::envelope
