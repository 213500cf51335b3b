#pragma once
// Token days: days since 1970-01-01 UTC, as carried in tokens, and their YYYY-MM-DD form.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rebound::envelope {

// Today in UTC.
std::uint32_t Today();

// YYYY-MM-DD for any uint32 day (years past 9999 are written with more digits).
std::string FormatDay(std::uint32_t day);

// Strict YYYY-MM-DD from 1970-01-01 to 9999-12-31; nullopt for anything else
// (including impossible dates such as 2026-02-30).
std::optional<std::uint32_t> ParseDay(std::string_view text);

}  // namespace rebound::envelope
