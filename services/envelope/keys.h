#pragma once
// Per-account token keys derived from the master secret. Nothing here logs, and no error
// message contains key material.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rebound::envelope {

inline constexpr std::size_t kDerivedKeyBytes = 32;
// HKDF salt and the fixed start of the info string. Changing either changes every key.
inline constexpr std::string_view kKdfSalt = "rebound/envelope";
inline constexpr std::string_view kKdfInfoLabel = "rebound envelope token key v1";

// Hex digits (either case, even count) to bytes. The error never repeats the input.
absl::StatusOr<std::vector<std::uint8_t>> ParseHexSecret(std::string_view hex);

// A new master secret from OpenSSL's CSPRNG, as lower-case hex (`bytes` * 2 digits;
// 32..1024 bytes).
absl::StatusOr<std::string> GenerateMasterKeyHex(std::size_t bytes = 32);

// HKDF-SHA256 (RFC 5869): salt = kKdfSalt, IKM = master,
// info = kKdfInfoLabel || account_id (8 bytes, big-endian) || key_id (4 bytes, big-endian),
// 32 bytes of output. Distinct (account, key id) pairs give independent keys.
absl::Status DeriveTokenKey(std::span<const std::uint8_t> master, std::uint64_t account_id, std::uint32_t key_id,
                            std::array<std::uint8_t, kDerivedKeyBytes>* out);

}  // namespace rebound::envelope
