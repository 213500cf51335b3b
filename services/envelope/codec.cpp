#include "services/envelope/codec.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/envelope/base32.h"
#include "services/envelope/keys.h"

namespace rebound::envelope {
namespace {

constexpr std::string_view kPrefixChars = "abcdefghijklmnopqrstuvwxyz0123456789-_.";

// Bytes of the minimal big-endian form (at least one).
template <typename T>
int ByteLength(T v) {
    const int bits = static_cast<int>(sizeof(T) * 8) - std::countl_zero(v);
    return bits == 0 ? 1 : (bits + 7) / 8;
}

template <typename T>
std::uint8_t* PutBigEndian(T v, int len, std::uint8_t* p) {
    for (int i = len - 1; i >= 0; --i)
        *p++ = static_cast<std::uint8_t>(v >> (8 * i));
    return p;
}

// Reads `len` bytes big-endian; false if the form is not minimal (a leading zero byte).
template <typename T>
bool GetBigEndian(const std::uint8_t*& p, int len, T* v) {
    if (len > 1 && p[0] == 0) return false;
    T x = 0;
    for (int i = 0; i < len; ++i)
        x = static_cast<T>(x << 8) | p[i];
    p += len;
    *v = x;
    return true;
}

// Header, fields and MAC of one token; returns the byte count.
std::size_t BuildToken(const HmacSha256& mac, std::uint32_t key_id, std::uint64_t mailing_id,
                       std::uint64_t recipient_id, std::uint32_t issued_day, std::uint8_t* buf) {
    const int kl = ByteLength(key_id);
    const int dl = ByteLength(issued_day);
    const int ml = ByteLength(mailing_id);
    const int rl = ByteLength(recipient_id);
    buf[0] = static_cast<std::uint8_t>(kTokenVersion << 5 | (ml - 1) << 2 | (kl - 1));
    buf[1] = static_cast<std::uint8_t>((rl - 1) << 5 | (dl - 1) << 3);
    std::uint8_t* p = buf + 2;
    p = PutBigEndian(key_id, kl, p);
    p = PutBigEndian(issued_day, dl, p);
    p = PutBigEndian(mailing_id, ml, p);
    p = PutBigEndian(recipient_id, rl, p);
    const auto body = static_cast<std::size_t>(p - buf);
    std::uint8_t tag[kSha256Bytes];
    mac.Compute({buf, body}, tag);
    std::memcpy(p, tag, kMacBytes);
    return body + kMacBytes;
}

absl::Status CheckKeys(const AccountKeys& keys) {
    if (keys.retired_key_ids.size() > kMaxRetiredKeyIds) {
        return absl::InvalidArgumentError(
            rebound::StrCat("account ", keys.account_id, ": more than ", kMaxRetiredKeyIds, " retired key ids"));
    }
    if (std::find(keys.retired_key_ids.begin(), keys.retired_key_ids.end(), keys.current_key_id) !=
        keys.retired_key_ids.end()) {
        return absl::FailedPreconditionError(
            rebound::StrCat("account ", keys.account_id, ": current key id ", keys.current_key_id, " is retired"));
    }
    return absl::OkStatus();
}

struct KeyRef {
    std::uint64_t account_id;
    std::uint32_t key_id;
    bool operator==(const KeyRef&) const = default;
};

struct KeyRefHash {
    std::size_t operator()(const KeyRef& k) const {
        // splitmix64 finaliser over both fields: account ids are often sequential.
        std::uint64_t x = k.account_id * 0x9e3779b97f4a7c15ull ^ k.key_id;
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebull;
        x ^= x >> 31;
        return static_cast<std::size_t>(x);
    }
};

}  // namespace

struct Codec::KeyStore {
    std::vector<std::uint8_t> master;
    std::shared_mutex mu;
    // Node-based: pointers to values stay valid while other keys are inserted. Entries are
    // never erased before the store is destroyed.
    std::unordered_map<KeyRef, HmacSha256, KeyRefHash> cache;

    ~KeyStore() { OPENSSL_cleanse(master.data(), master.size()); }

    // The MAC state of (account, key id): from the cache, or derived and cached, or -- once
    // the cache is full -- derived into *scratch. Null only if derivation fails.
    const HmacSha256* Get(std::uint64_t account_id, std::uint32_t key_id, std::optional<HmacSha256>* scratch) {
        const KeyRef ref{account_id, key_id};
        {
            std::shared_lock lock(mu);
            auto it = cache.find(ref);
            if (it != cache.end()) return &it->second;
        }
        std::array<std::uint8_t, kDerivedKeyBytes> key;
        if (absl::Status s = DeriveTokenKey(master, account_id, key_id, &key); !s.ok()) {
            log::Error("envelope.key_derivation_failed")
                .Kv("account", account_id)
                .Kv("key_id", key_id)
                .Kv("error", std::string(s.message()));
            return nullptr;
        }
        HmacSha256 state(key);
        OPENSSL_cleanse(key.data(), key.size());
        std::unique_lock lock(mu);
        if (cache.size() >= kMaxCachedKeys) {
            auto it = cache.find(ref);
            if (it != cache.end()) return &it->second;
            scratch->emplace(state);
            return &**scratch;
        }
        return &cache.try_emplace(ref, state).first->second;
    }
};

std::string_view TokenStatusName(TokenStatus status) {
    switch (status) {
        case TokenStatus::kValid:
            return "valid";
        case TokenStatus::kStale:
            return "stale";
        case TokenStatus::kForged:
            return "forged";
        case TokenStatus::kMalformed:
            return "malformed";
        case TokenStatus::kUnknownKey:
            return "unknown_key";
        case TokenStatus::kRetiredKey:
            return "retired_key";
    }
    return "unknown";
}

std::size_t Encoder::EncodeTo(std::uint64_t mailing_id, std::uint64_t recipient_id, std::uint32_t issued_day,
                              char out[kMaxLocalPartOctets]) const {
    std::uint8_t buf[kMaxTokenBytes];
    const std::size_t bytes = BuildToken(mac_, key_id_, mailing_id, recipient_id, issued_day, buf);
    std::memcpy(out, prefix_.data(), prefix_.size());
    return prefix_.size() + Base32Encode(buf, bytes, out + prefix_.size());
}

std::string Encoder::Encode(std::uint64_t mailing_id, std::uint64_t recipient_id, std::uint32_t issued_day) const {
    char out[kMaxLocalPartOctets];
    const std::size_t n = EncodeTo(mailing_id, recipient_id, issued_day, out);
    return {out, n};
}

Codec::Codec(std::unique_ptr<KeyStore> store, std::string prefix, std::uint32_t stale_after_days)
    : store_(std::move(store)), prefix_(std::move(prefix)), stale_after_days_(stale_after_days) {}
Codec::Codec(Codec&&) noexcept = default;
Codec& Codec::operator=(Codec&&) noexcept = default;
Codec::~Codec() = default;

absl::StatusOr<Codec> Codec::Create(std::string_view master_key_hex, std::string prefix,
                                    std::uint32_t stale_after_days) {
    absl::StatusOr<std::vector<std::uint8_t>> master = ParseHexSecret(master_key_hex);
    if (!master.ok()) return absl::InvalidArgumentError(rebound::StrCat("master key: ", master.status().message()));
    auto store = std::make_unique<KeyStore>();
    store->master = std::move(*master);
    if (store->master.size() < kMinMasterKeyBytes || store->master.size() > kMaxMasterKeyBytes) {
        return absl::InvalidArgumentError(rebound::StrCat("master key: must be ", kMinMasterKeyBytes, " to ",
                                                          kMaxMasterKeyBytes, " bytes (", kMinMasterKeyBytes * 2,
                                                          " to ", kMaxMasterKeyBytes * 2, " hex digits)"));
    }
    prefix = AsciiLower(prefix);
    if (prefix.size() > kMaxPrefixLength || prefix.find_first_not_of(kPrefixChars) != std::string::npos) {
        return absl::InvalidArgumentError(rebound::StrCat("prefix: at most ", kMaxPrefixLength,
                                                          " characters of a-z, 0-9, '-', '_' and '.' (the longest "
                                                          "token is ",
                                                          kMaxTokenChars, " of the 64 octets of a local part)"));
    }
    // Fail now, not on the first message, if this OpenSSL cannot derive keys.
    std::array<std::uint8_t, kDerivedKeyBytes> probe;
    if (absl::Status s = DeriveTokenKey(store->master, 0, 0, &probe); !s.ok()) return s;
    OPENSSL_cleanse(probe.data(), probe.size());
    return Codec(std::move(store), std::move(prefix), stale_after_days);
}

absl::StatusOr<Encoder> Codec::ForAccount(const AccountKeys& keys) const {
    if (absl::Status s = CheckKeys(keys); !s.ok()) return s;
    std::optional<HmacSha256> scratch;
    const HmacSha256* mac = store_->Get(keys.account_id, keys.current_key_id, &scratch);
    if (mac == nullptr) return absl::InternalError("envelope key derivation failed");
    return Encoder(*mac, prefix_, keys.account_id, keys.current_key_id);
}

absl::StatusOr<std::string> Codec::EncodeLocalPart(const AccountKeys& keys, std::uint64_t mailing_id,
                                                   std::uint64_t recipient_id, std::uint32_t issued_day) const {
    if (absl::Status s = CheckKeys(keys); !s.ok()) return s;
    std::optional<HmacSha256> scratch;
    const HmacSha256* mac = store_->Get(keys.account_id, keys.current_key_id, &scratch);
    if (mac == nullptr) return absl::InternalError("envelope key derivation failed");
    std::uint8_t buf[kMaxTokenBytes];
    const std::size_t bytes = BuildToken(*mac, keys.current_key_id, mailing_id, recipient_id, issued_day, buf);
    std::string out;
    out.resize(prefix_.size() + Base32Length(bytes));
    std::memcpy(out.data(), prefix_.data(), prefix_.size());
    Base32Encode(buf, bytes, out.data() + prefix_.size());
    return out;
}

Decoded Codec::DecodeLocalPart(std::string_view local_part, const AccountKeys& keys, std::uint32_t today) const {
    Decoded result;
    if (local_part.size() > kMaxLocalPartOctets || local_part.size() < prefix_.size()) return result;
    if (!EqualsIgnoreCase(local_part.substr(0, prefix_.size()), prefix_)) return result;
    const std::string_view text = local_part.substr(prefix_.size());

    std::uint8_t buf[kMaxTokenBytes];
    const std::ptrdiff_t decoded = Base32Decode(text, buf, sizeof buf);
    if (decoded < 2) return result;
    const auto n = static_cast<std::size_t>(decoded);
    if (buf[0] >> 5 != kTokenVersion || (buf[1] & 0x07) != 0) return result;
    const int ml = (buf[0] >> 2 & 0x07) + 1;
    const int kl = (buf[0] & 0x03) + 1;
    const int rl = (buf[1] >> 5) + 1;
    const int dl = (buf[1] >> 3 & 0x03) + 1;
    const std::size_t body = std::size_t{2} + static_cast<std::size_t>(kl + dl + ml + rl);
    if (n != body + kMacBytes) return result;
    Token token;
    token.version = kTokenVersion;
    const std::uint8_t* p = buf + 2;
    if (!GetBigEndian(p, kl, &token.key_id) || !GetBigEndian(p, dl, &token.issued_day) ||
        !GetBigEndian(p, ml, &token.mailing_id) || !GetBigEndian(p, rl, &token.recipient_id)) {
        return result;
    }

    if (token.key_id > keys.current_key_id) {
        result.status = TokenStatus::kUnknownKey;
        return result;
    }
    if (keys.retired_key_ids.size() > kMaxRetiredKeyIds ||
        std::find(keys.retired_key_ids.begin(), keys.retired_key_ids.end(), token.key_id) !=
            keys.retired_key_ids.end()) {
        result.status = TokenStatus::kRetiredKey;
        return result;
    }
    std::optional<HmacSha256> scratch;
    const HmacSha256* mac = store_->Get(keys.account_id, token.key_id, &scratch);
    if (mac == nullptr) {
        result.status = TokenStatus::kUnknownKey;
        return result;
    }
    std::uint8_t tag[kSha256Bytes];
    mac->Compute({buf, body}, tag);
    if (CRYPTO_memcmp(tag, buf + body, kMacBytes) != 0) {
        result.status = TokenStatus::kForged;
        return result;
    }
    const bool stale =
        stale_after_days_ > 0 && today > token.issued_day && today - token.issued_day > stale_after_days_;
    result.status = stale ? TokenStatus::kStale : TokenStatus::kValid;
    result.token = token;
    return result;
}

bool SplitAddress(std::string_view address, std::string_view* local_part, std::string_view* domain) {
    const std::size_t at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return false;
    *local_part = address.substr(0, at);
    *domain = address.substr(at + 1);
    return true;
}

}  // namespace rebound::envelope
