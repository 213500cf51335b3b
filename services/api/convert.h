#pragma once
// Conversions between protobuf types and the microsecond times storage uses.

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>

namespace rebound::api {

inline std::int64_t ToMicros(const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000000 + t.nanos() / 1000;
}

inline void FromMicros(std::int64_t us, google::protobuf::Timestamp* t) {
    std::int64_t seconds = us / 1000000;
    std::int64_t rem = us % 1000000;
    if (rem < 0) {  // nanos are never negative
        rem += 1000000;
        --seconds;
    }
    t->set_seconds(seconds);
    t->set_nanos(static_cast<std::int32_t>(rem * 1000));
}

}  // namespace rebound::api
