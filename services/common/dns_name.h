#pragma once
// Host and domain names as Rebound accepts them from customers and configuration.

#include <string>
#include <string_view>

namespace rebound {

// Lower case, without a trailing dot, surrounding whitespace removed. Does not validate.
std::string NormalizeDnsName(std::string_view name);

// A host name in the preferred syntax (RFC 1123 §2.1) after NormalizeDnsName: labels of
// a-z, 0-9 and '-' (not first or last), 1 to 63 octets each, 253 in all, at least
// `min_labels` labels, and a last label that is not all digits (so "192.0.2.1" is not a
// host name). Underscores are refused: they never name a mail host.
bool IsHostName(std::string_view name, int min_labels = 1);

// A single label of the same syntax ("feedback").
bool IsHostLabel(std::string_view label);

}  // namespace rebound
