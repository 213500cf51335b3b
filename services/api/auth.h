#pragma once
// Who is calling: every call carries `authorization: Bearer <key>`. The administrator key
// comes from configuration; account API keys look like rbk_<12 chars><32 chars>, and only
// their SHA-256 is stored. A key's row is cached for a short time so that calls don't cost
// a query each; a revocation through this process takes effect at once.

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

    // UNAUTHENTICATED (missing, malformed, unknown or revoked key) or the caller.
    absl::StatusOr<Caller> Authenticate(const grpc::ServerContext& context);
    // As Authenticate, then PERMISSION_DENIED unless the administrator key was used.
    absl::Status RequireAdmin(const grpc::ServerContext& context);
    // As Authenticate, then PERMISSION_DENIED unless an account key was used.
    absl::StatusOr<std::int64_t> RequireAccount(const grpc::ServerContext& context);

    // Forgets a cached key (after revocation).
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
};

}  // namespace rebound::api
