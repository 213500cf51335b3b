// The low-level SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, but EVP
// cannot copy a keyed digest state without allocating (EVP_MD_CTX_copy_ex duplicates the
// provider context), and that allocation would dominate a 50 ns MAC. The low-level API still
// uses the same assembly (SHA-NI where the CPU has it). Deprecation warnings are suppressed
// for this file only.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "services/envelope/hmac.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace rebound::envelope {
namespace {

constexpr std::size_t kBlockBytes = 64;

// Hashes one 64-byte block into a fresh context and stores it (memcpy: the storage is bytes).
void StoreKeyedState(const std::uint8_t* block, unsigned char* storage) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, block, kBlockBytes);
    std::memcpy(storage, &ctx, sizeof ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}

}  // namespace

HmacSha256::HmacSha256(std::span<const std::uint8_t> key) {
    static_assert(sizeof(SHA256_CTX) <= kStateBytes, "SHA256_CTX does not fit the opaque storage");
    static_assert(alignof(SHA256_CTX) <= 8, "SHA256_CTX needs stronger alignment");
    std::uint8_t block[kBlockBytes] = {};
    if (key.size() > kBlockBytes) {
        SHA256(key.data(), key.size(), block);
    } else if (!key.empty()) {
        std::memcpy(block, key.data(), key.size());
    }
    std::uint8_t pad[kBlockBytes];
    for (std::size_t i = 0; i < kBlockBytes; ++i)
        pad[i] = block[i] ^ 0x36;
    StoreKeyedState(pad, inner_.data());
    for (std::size_t i = 0; i < kBlockBytes; ++i)
        pad[i] = block[i] ^ 0x5c;
    StoreKeyedState(pad, outer_.data());
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
}

HmacSha256::~HmacSha256() {
    OPENSSL_cleanse(inner_.data(), inner_.size());
    OPENSSL_cleanse(outer_.data(), outer_.size());
}

void HmacSha256::Compute(std::span<const std::uint8_t> message, std::uint8_t out[kSha256Bytes]) const {
    SHA256_CTX ctx;
    std::memcpy(&ctx, inner_.data(), sizeof ctx);
    SHA256_Update(&ctx, message.data(), message.size());
    std::uint8_t inner_hash[kSha256Bytes];
    SHA256_Final(inner_hash, &ctx);
    std::memcpy(&ctx, outer_.data(), sizeof ctx);
    SHA256_Update(&ctx, inner_hash, sizeof inner_hash);
    SHA256_Final(out, &ctx);
    // SHA256_Final already clears ctx; the inner hash is a function of secret state.
    OPENSSL_cleanse(inner_hash, sizeof inner_hash);
}

}  // namespace rebound::envelope
