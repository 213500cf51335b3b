#pragma once
// DNS lookups for the live checks: one question at a time, answered with the records of
// the answer section (TTLs kept) and what kind of answer it was. Transport is c-ares;
// the answer is parsed here, with every length and count from the network bounded.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::dns {

enum class RecordType : std::uint16_t { kA = 1, kNs = 2, kCname = 5, kSoa = 6, kMx = 15, kTxt = 16, kAaaa = 28 };
std::string_view TypeName(RecordType type);
std::string_view TypeName(std::uint16_t type);  // "TYPE99" style for unknown types

struct Record {
    std::string name;  // owner, lower case, no trailing dot
    std::uint16_t type = 0;
    std::uint32_t ttl = 0;
    std::uint16_t preference = 0;  // MX only
    // MX/CNAME/NS: the target (lower case, no trailing dot); A/AAAA: the address as text;
    // TXT: the character-strings concatenated (RFC 7208 §3.3); others: empty.
    std::string data;
};

enum class Rcode {
    kAnswer,    // NOERROR with records in the answer section
    kNoData,    // NOERROR, the name exists but has no record of this type
    kNxDomain,  // the name does not exist
    kServFail,  // SERVFAIL or REFUSED: the server could not answer
    kTimeout,   // no answer in time, or no server reachable
    kError,     // anything else (malformed answer, bad name, out of memory)
};
std::string_view RcodeName(Rcode rcode);
// SERVFAIL, timeouts and other errors say nothing about the name: try again later.
inline bool IsTemporary(Rcode rcode) {
    return rcode == Rcode::kServFail || rcode == Rcode::kTimeout || rcode == Rcode::kError;
}

struct Answer {
    Rcode rcode = Rcode::kError;
    std::vector<Record> records;  // the answer section (may hold a CNAME chain)
    std::string error;            // for kError/kTimeout/kServFail: what happened
};

// Parses a DNS response message (RFC 1035 §4.1). Answers with more records than
// kMaxRecords keep the first ones. The rcode comes from the header.
inline constexpr std::size_t kMaxRecords = 64;
Answer ParseResponse(const unsigned char* data, std::size_t size);

// Where answers come from: the c-ares resolver, or a table in tests.
class Lookup {
  public:
    virtual ~Lookup() = default;
    virtual Answer Query(std::string_view name, RecordType type) = 0;
};

struct ResolverOptions {
    // "address:port" / "[v6]:port"; empty: the system's resolvers (/etc/resolv.conf).
    std::vector<std::string> servers;
    int timeout_ms = 3000;  // per try
    int tries = 2;
    // When set and it becomes true, queries in progress end at once as kTimeout and later
    // ones are not sent (reboundd's shutdown). Must outlive the lookup.
    const std::atomic<bool>* cancel = nullptr;
};

// A c-ares channel used synchronously. Not thread-safe: one per thread or per check.
class AresLookup final : public Lookup {
  public:
    static absl::StatusOr<std::unique_ptr<AresLookup>> Create(const ResolverOptions& options);
    ~AresLookup() override;
    AresLookup(const AresLookup&) = delete;
    AresLookup& operator=(const AresLookup&) = delete;

    Answer Query(std::string_view name, RecordType type) override;

  private:
    AresLookup() = default;
    struct Channel;
    std::unique_ptr<Channel> channel_;
    int deadline_ms_ = 0;
    const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace rebound::dns
