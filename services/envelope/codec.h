#pragma once
// Envelope tokens: the local part of a per-recipient envelope address (VERP), e.g.
// `b-51m02m8p063a01fnw4057f2t6mvzmgaj97hg@feedback.customer.com`. A token names the mailing and the recipient a bounce
// is about, authenticated with a truncated HMAC-SHA256 under a per-account key, and spelled
// in case-insensitive base32 so that MTAs which change the case of local parts do no harm.
//
// Binary layout before base32 (all integers big-endian, minimal length):
//
//   byte 0   vvv mmm kk   v: format version (1), m: mailing id length - 1, k: key id length - 1
//   byte 1   rrr dd 000   r: recipient id length - 1, d: issued day length - 1, 000: reserved
//   key id (1-4 bytes), issued day (1-4 bytes), mailing id (1-8), recipient id (1-8)
//   MAC: the first 10 bytes of HMAC-SHA256(account key, all bytes above)
//
// The header fixes the total length, so an inserted, deleted or truncated character is
// nearly always refused before the MAC is computed (and by the MAC otherwise). Typical tokens (key 1, a 2026 day, a
// mailing id below 2^24, a recipient id below 2^32) are 22 bytes = 36 characters; the longest (every field at its
// maximum) is 36 bytes = 58 characters, which leaves 6 octets for a prefix within the 64-octet limit of RFC
// 5321 4.5.3.1.1. (Full-range ids, key ids and days plus an 80-bit MAC need at least 272 bits = 55 characters in any
// encoding, so a 16-character prefix could never fit.)
//
// Why 80 MAC bits: verification is online -- every guess is a message our MX accepts and
// decodes -- so an attacker's chance of one forged token is (guesses) x 2^-80. A forged
// token can inject a complaint that suppresses a real recipient. Bounding the guesses by
// what the decoder could verify flat out (2 million/s for a year, 6.3e13 guesses) gives
// 5e-11 with 80 bits, but 3e-6 with 64 bits, which was judged too thin. Each further byte
// costs 1.6 characters of every address and of the prefix budget (see kMaxPrefixLength).
//
// Keys: HKDF-SHA256 (RFC 5869) from the master secret, info binding the account id and the
// key id, so a token minted for one account never verifies under another account's domain.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/envelope/hmac.h"

namespace rebound::envelope {

inline constexpr std::uint32_t kTokenVersion = 1;
inline constexpr std::size_t kMacBytes = 10;
// 2 header bytes + 4 + 4 + 8 + 8 field bytes + MAC.
inline constexpr std::size_t kMaxTokenBytes = 2 + 4 + 4 + 8 + 8 + kMacBytes;
inline constexpr std::size_t kMaxTokenChars = (kMaxTokenBytes * 8 + 4) / 5;  // 58
inline constexpr std::size_t kMaxLocalPartOctets = 64;                       // RFC 5321 4.5.3.1.1
inline constexpr std::size_t kMaxPrefixLength = kMaxLocalPartOctets - kMaxTokenChars;
static_assert(kMaxPrefixLength == 6);
// Master secrets: at least 32 bytes (a full SHA-256 block of entropy), at most 1 KiB.
inline constexpr std::size_t kMinMasterKeyBytes = 32;
inline constexpr std::size_t kMaxMasterKeyBytes = 1024;
// Derived keys kept in memory; beyond this a key is derived per call (slower, still correct).
inline constexpr std::size_t kMaxCachedKeys = 65536;
// A retired-key list longer than this is refused (it is a caller bug, not a real account).
inline constexpr std::size_t kMaxRetiredKeyIds = 4096;

// One account's key state, as stored with the account. Tokens are minted with
// current_key_id; every key id <= current_key_id that is not retired verifies.
struct AccountKeys {
    std::uint64_t account_id = 0;
    std::uint32_t current_key_id = 0;
    std::vector<std::uint32_t> retired_key_ids;
};

enum class TokenStatus {
    kValid,       // authentic and recent
    kStale,       // authentic but issued more than stale_after_days ago: still attributed
    kForged,      // well-formed, known key, wrong MAC (or another account's token)
    kMalformed,   // not a token of this format (wrong prefix, alphabet, length, layout)
    kUnknownKey,  // key id newer than the account's current key
    kRetiredKey,  // key id the account has retired: no longer verified
};

// "valid", "stale", "forged", "malformed", "unknown_key", "retired_key".
std::string_view TokenStatusName(TokenStatus status);

// True for kValid and kStale: the token is authentic and names its mailing and recipient.
constexpr bool IsAttributed(TokenStatus status) {
    return status == TokenStatus::kValid || status == TokenStatus::kStale;
}

struct Token {
    std::uint32_t version = 0;
    std::uint32_t key_id = 0;
    std::uint64_t mailing_id = 0;
    std::uint64_t recipient_id = 0;
    std::uint32_t issued_day = 0;  // days since 1970-01-01 UTC
    bool operator==(const Token&) const = default;
};

struct Decoded {
    TokenStatus status = TokenStatus::kMalformed;
    Token token;  // filled for kValid and kStale only; zero otherwise
};

// Mints local parts for one account with its current key. Holds its own copy of the key
// state and prefix (independent of the Codec's lifetime); copyable; Encode is thread-safe.
// Use it to generate many addresses without a key lookup per address.
class Encoder {
  public:
    // Writes the local part (prefix + token, at most kMaxLocalPartOctets octets, not
    // NUL-terminated) to `out` and returns its length. Never allocates.
    std::size_t EncodeTo(std::uint64_t mailing_id, std::uint64_t recipient_id, std::uint32_t issued_day,
                         char out[kMaxLocalPartOctets]) const;
    std::string Encode(std::uint64_t mailing_id, std::uint64_t recipient_id, std::uint32_t issued_day) const;

    std::uint64_t account_id() const { return account_id_; }
    std::uint32_t key_id() const { return key_id_; }

  private:
    friend class Codec;
    Encoder(HmacSha256 mac, std::string prefix, std::uint64_t account_id, std::uint32_t key_id)
        : mac_(mac), prefix_(std::move(prefix)), account_id_(account_id), key_id_(key_id) {}

    HmacSha256 mac_;
    std::string prefix_;
    std::uint64_t account_id_;
    std::uint32_t key_id_;
};

// Thread-safe after construction. Derives per-(account, key id) keys on first use and
// caches them (bounded by kMaxCachedKeys). Never logs; key material is wiped on destruction.
class Codec {
  public:
    // master_key_hex: hex digits of the master secret, kMinMasterKeyBytes..kMaxMasterKeyBytes
    // bytes. prefix: at most kMaxPrefixLength characters of a-z, 0-9, '-', '_', '.'; matched
    // case-insensitively when decoding. stale_after_days: tokens older than this decode as
    // kStale; 0 disables staleness. Errors name the offending argument (never its value).
    static absl::StatusOr<Codec> Create(std::string_view master_key_hex, std::string prefix,
                                        std::uint32_t stale_after_days);

    // A moved-from Codec may only be destroyed or assigned to.
    Codec(Codec&&) noexcept;
    Codec& operator=(Codec&&) noexcept;
    ~Codec();

    // An Encoder for the account's current key. Fails if the current key is retired or the
    // retired list is longer than kMaxRetiredKeyIds.
    absl::StatusOr<Encoder> ForAccount(const AccountKeys& keys) const;

    // One local part with the account's current key (same checks as ForAccount).
    absl::StatusOr<std::string> EncodeLocalPart(const AccountKeys& keys, std::uint64_t mailing_id,
                                                std::uint64_t recipient_id, std::uint32_t issued_day) const;

    // Decodes and verifies a local part (prefix included; case-insensitive) under the key
    // state of the account its domain belongs to. `today` is days since 1970-01-01 UTC.
    // Tokens issued after `today` (a sender with a fast clock, pre-generated addresses) are
    // not stale. Bounded work for any input: anything longer than 64 octets is kMalformed.
    Decoded DecodeLocalPart(std::string_view local_part, const AccountKeys& keys, std::uint32_t today) const;

    const std::string& prefix() const { return prefix_; }
    std::uint32_t stale_after_days() const { return stale_after_days_; }

  private:
    struct KeyStore;
    Codec(std::unique_ptr<KeyStore> store, std::string prefix, std::uint32_t stale_after_days);

    std::unique_ptr<KeyStore> store_;
    std::string prefix_;
    std::uint32_t stale_after_days_;
};

// Splits "local@domain" at the last '@'. Returns false if there is none or either side is
// empty. The domain is returned as written (compare it case-insensitively).
bool SplitAddress(std::string_view address, std::string_view* local_part, std::string_view* domain);

}  // namespace rebound::envelope
