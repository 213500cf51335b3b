#include "services/common/dns_name.h"

#include "services/common/strings.h"

namespace rebound {

std::string NormalizeDnsName(std::string_view name) {
    std::string out = AsciiLower(StripWhitespace(name));
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

bool IsHostLabel(std::string_view label) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool IsHostName(std::string_view name, int min_labels) {
    if (name.empty() || name.size() > 253) return false;
    int labels = 0;
    std::string_view last;
    for (std::string_view label : Split(name, '.')) {
        if (!IsHostLabel(label)) return false;
        ++labels;
        last = label;
    }
    if (labels < min_labels) return false;
    return last.find_first_not_of("0123456789") != std::string_view::npos;
}

}  // namespace rebound
