#include "services/api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include "services/common/strings.h"
#include "storage/account_store.h"

namespace rebound::api {
namespace {

constexpr std::string_view kKeyStart = "rbk_";
constexpr std::size_t kPrefixChars = 12;  // after rbk_
constexpr std::size_t kSecretChars = 32;
constexpr auto kCacheTtl = std::chrono::seconds(30);
constexpr std::size_t kMaxCached = 100000;
constexpr std::size_t kMaxUnknown = 10000;

std::array<unsigned char, 32> Sha256(std::string_view data) {
    std::array<unsigned char, 32> out{};
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
}

std::string RandomBase32(std::size_t n) {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    std::string bytes(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n));
    std::string out;
    for (char b : bytes)
        out.push_back(kAlphabet[static_cast<unsigned char>(b) % 32]);
    return out;
}

absl::StatusOr<std::string> BearerToken(const grpc::ServerContext& context) {
    const auto& md = context.client_metadata();
    auto it = md.find("authorization");
    if (it == md.end()) return absl::UnauthenticatedError("missing authorization: Bearer <api key>");
    std::string_view value(it->second.data(), it->second.size());
    if (!StartsWithIgnoreCase(value, "bearer ")) {
        return absl::UnauthenticatedError("authorization must be \"Bearer <api key>\"");
    }
    value = StripWhitespace(value.substr(7));
    if (value.empty() || value.size() > 256) return absl::UnauthenticatedError("invalid API key");
    return std::string(value);
}

}  // namespace

NewApiKey GenerateApiKey() {
    NewApiKey k;
    k.prefix = StrCat(kKeyStart, RandomBase32(kPrefixChars));
    k.key = StrCat(k.prefix, RandomBase32(kSecretChars));
    k.sha256 = Sha256(k.key);
    return k;
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContext& context) {
    absl::StatusOr<std::string> token = BearerToken(context);
    if (!token.ok()) return token.status();
    if (!admin_key_.empty() && token->size() == admin_key_.size() &&
        CRYPTO_memcmp(token->data(), admin_key_.data(), admin_key_.size()) == 0) {
        return Caller{true, 0};
    }
    if (!token->starts_with(kKeyStart) || token->size() != kKeyStart.size() + kPrefixChars + kSecretChars) {
        return absl::UnauthenticatedError("invalid API key");
    }
    const std::string prefix = token->substr(0, kKeyStart.size() + kPrefixChars);
    const std::array<unsigned char, 32> hash = Sha256(*token);
    const auto now = std::chrono::steady_clock::now();
    Cached entry;
    bool found = false;
    {
        std::lock_guard lock(mu_);
        auto it = cache_.find(prefix);
        if (it != cache_.end() && it->second.expires > now) {
            entry = it->second;
            found = true;
        } else {
            auto unknown = unknown_.find(prefix);
            if (unknown != unknown_.end() && unknown->second > now) {
                return absl::UnauthenticatedError("invalid API key");
            }
            lookup_tokens_ = std::min(
                kLookupBurst,
                lookup_tokens_ + kLookupsPerSecond * std::chrono::duration<double>(now - lookup_refill_).count());
            lookup_refill_ = now;
            if (lookup_tokens_ < 1) {
                return absl::ResourceExhaustedError("too many calls with API keys not seen recently; retry shortly");
            }
            lookup_tokens_ -= 1;
        }
    }
    if (!found) {
        auto conn = pool_->Acquire();
        if (!conn.ok()) return conn.status();
        absl::StatusOr<storage::ApiKeyRow> row = storage::LookupApiKey(**conn, prefix);
        if (row.status().code() == absl::StatusCode::kNotFound) {
            std::lock_guard lock(mu_);
            if (unknown_.size() >= kMaxUnknown) unknown_.clear();
            unknown_[prefix] = now + kCacheTtl;
            return absl::UnauthenticatedError("invalid API key");
        }
        if (!row.ok()) return row.status();
        entry = Cached{row->account_id, row->secret_sha256, row->revoked, now + kCacheTtl};
        std::lock_guard lock(mu_);
        if (cache_.size() >= kMaxCached) cache_.clear();
        cache_[prefix] = entry;
    }
    if (CRYPTO_memcmp(hash.data(), entry.sha256.data(), hash.size()) != 0 || entry.revoked) {
        return absl::UnauthenticatedError("invalid API key");
    }
    return Caller{false, entry.account_id};
}

absl::Status Authenticator::RequireAdmin(const grpc::ServerContext& context) {
    if (admin_key_.empty()) {
        return absl::PermissionDeniedError("administration is disabled: no grpc.admin_key is configured");
    }
    absl::StatusOr<Caller> caller = Authenticate(context);
    if (!caller.ok()) return caller.status();
    if (!caller->admin) return absl::PermissionDeniedError("this call needs the administrator key");
    return absl::OkStatus();
}

absl::StatusOr<std::int64_t> Authenticator::RequireAccount(const grpc::ServerContext& context) {
    absl::StatusOr<Caller> caller = Authenticate(context);
    if (!caller.ok()) return caller.status();
    if (caller->admin)
        return absl::PermissionDeniedError("this call needs an account API key, not the administrator key");
    return caller->account_id;
}

void Authenticator::Forget(const std::string& prefix) {
    std::lock_guard lock(mu_);
    cache_.erase(prefix);
    unknown_.erase(prefix);
}

}  // namespace rebound::api
