// libFuzzer target over bounce::Parse: any input must return a status, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "services/bounce/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rebound::bounce::Limits limits;
    auto report = rebound::bounce::Parse(std::string_view(reinterpret_cast<const char*>(data), size), limits);
    if (report.ok()) {
        for (const auto& r : report->records) {
            if (r.reason.empty() || r.rule_id.empty()) __builtin_trap();
        }
    }
    return 0;
}
