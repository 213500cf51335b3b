#pragma once
// HMAC-SHA256 (RFC 2104) with the key's inner and outer SHA-256 states computed once.
// OpenSSL's HMAC() and EVP_MAC set the key up again on every call (two extra compressions
// and, in OpenSSL 3, allocations); here a MAC of a short message costs two compressions and
// no allocation, which is what lets the token codec reach millions of operations per second.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace rebound::envelope {

inline constexpr std::size_t kSha256Bytes = 32;

class HmacSha256 {
  public:
    // `key` may have any length; keys longer than the 64-byte block are hashed first.
    explicit HmacSha256(std::span<const std::uint8_t> key);
    // Wipes the precomputed states: they are as secret as the key itself.
    ~HmacSha256();
    HmacSha256(const HmacSha256&) = default;
    HmacSha256& operator=(const HmacSha256&) = default;

    // The full 32-byte MAC of `message`. Thread-safe: the object is not modified.
    void Compute(std::span<const std::uint8_t> message, std::uint8_t out[kSha256Bytes]) const;

  private:
    // Opaque storage for OpenSSL's SHA256_CTX (112 bytes on every platform OpenSSL 3
    // supports; checked by a static_assert in hmac.cpp), so this header needs no OpenSSL.
    static constexpr std::size_t kStateBytes = 128;
    alignas(8) std::array<unsigned char, kStateBytes> inner_{};
    alignas(8) std::array<unsigned char, kStateBytes> outer_{};
};

}  // namespace rebound::envelope
