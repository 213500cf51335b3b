#include "services/smtp/counters.h"

#include "services/common/strings.h"

namespace rebound::smtp {

std::string Counters::Describe() const {
    std::string out;
    Visit([&out](const char* name, std::uint64_t value) {
        if (!out.empty()) out.push_back(' ');
        StrAppend(&out, name, "=", value);
    });
    return out;
}

}  // namespace rebound::smtp
