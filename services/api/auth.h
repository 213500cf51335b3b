#pragma once
// Who is calling: every call carries `authorization: Bearer <key>`. The administrator key
// comes from configuration; account API keys look like rbk_<12 chars><32 chars>, and only
// their SHA-256 is stored. A key's row is cached for a short time so that calls don't cost
// a query each; a revocation through this process takes effect at once. Prefixes that are
// not in the database are remembered apart (junk cannot evict real keys), and lookups of
// prefixes not cached at all are rationed, so a flood of made-up keys costs the database a
// bounded number of queries per second.

#include <grpcpp/grpcpp.h>

#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "storage/pool.h"

namespace rebound::api {

struct Caller {
    bool admin = false;
    std::int64_t account_id = 0;  // set when !admin
};

struct NewApiKey {
    std::string key;     // the whole secret, shown once
    std::string prefix;  // rbk_ + 12 characters: stored, identifies the key
    std::array<unsigned char, 32> sha256{};
};

// A fresh random key.
NewApiKey GenerateApiKey();

class Authenticator {
  public:
    Authenticator(storage::Pool* pool, std::string admin_key) : pool_(pool), admin_key_(std::move(admin_key)) {}

    // Lookups of uncached prefixes: kLookupBurst at once, then kLookupsPerSecond.
    static constexpr double kLookupsPerSecond = 200;
    static constexpr double kLookupBurst = 400;

    // UNAUTHENTICATED (missing, malformed, unknown or revoked key), RESOURCE_EXHAUSTED (too
    // many lookups of uncached keys just now; retry), or the caller.
    absl::StatusOr<Caller> Authenticate(const grpc::ServerContext& context);
    // As Authenticate, then PERMISSION_DENIED unless the administrator key was used.
    absl::Status RequireAdmin(const grpc::ServerContext& context);
    // As Authenticate, then PERMISSION_DENIED unless an account key was used.
    absl::StatusOr<std::int64_t> RequireAccount(const grpc::ServerContext& context);

    // Forgets what is cached about a key prefix (after creation or revocation).
    void Forget(const std::string& prefix);

  private:
    struct Cached {
        std::int64_t account_id = 0;
        std::array<unsigned char, 32> sha256{};
        bool revoked = false;
        std::chrono::steady_clock::time_point expires;
    };
    storage::Pool* pool_;
    const std::string admin_key_;
    std::mutex mu_;
    std::unordered_map<std::string, Cached> cache_;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> unknown_;  // prefix -> until
    double lookup_tokens_ = kLookupBurst;
    std::chrono::steady_clock::time_point lookup_refill_ = std::chrono::steady_clock::now();
};

}  // namespace rebound::api
