#include "services/envelope/keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>
#include <string>

#include "services/common/strings.h"

namespace rebound::envelope {
namespace {

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

struct KdfDeleter {
    void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
    void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

}  // namespace

absl::StatusOr<std::vector<std::uint8_t>> ParseHexSecret(std::string_view hex) {
    if (hex.size() % 2 != 0) return absl::InvalidArgumentError("odd number of hex digits");
    std::vector<std::uint8_t> out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = HexValue(hex[2 * i]);
        const int lo = HexValue(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out.data(), out.size());
            return absl::InvalidArgumentError("not hexadecimal");
        }
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

absl::StatusOr<std::string> GenerateMasterKeyHex(std::size_t bytes) {
    if (bytes < 32 || bytes > 1024) return absl::InvalidArgumentError("master keys have 32 to 1024 bytes");
    std::vector<std::uint8_t> raw(bytes);
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        return absl::InternalError("OpenSSL's random generator failed");
    }
    std::string hex = HexLower(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
    OPENSSL_cleanse(raw.data(), raw.size());
    return hex;
}

absl::Status DeriveTokenKey(std::span<const std::uint8_t> master, std::uint64_t account_id, std::uint32_t key_id,
                            std::array<std::uint8_t, kDerivedKeyBytes>* out) {
    if (master.empty()) return absl::InvalidArgumentError("empty master secret");
    std::uint8_t info[kKdfInfoLabel.size() + 12];
    std::size_t n = 0;
    for (char c : kKdfInfoLabel)
        info[n++] = static_cast<std::uint8_t>(c);
    for (int shift = 56; shift >= 0; shift -= 8)
        info[n++] = static_cast<std::uint8_t>(account_id >> shift);
    for (int shift = 24; shift >= 0; shift -= 8)
        info[n++] = static_cast<std::uint8_t>(key_id >> shift);

    std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
    if (kdf == nullptr) return absl::InternalError("OpenSSL has no HKDF");
    std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
    if (ctx == nullptr) return absl::ResourceExhaustedError("EVP_KDF_CTX_new failed");
    char digest[] = "SHA256";
    std::string salt(kKdfSalt);
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(master.data()), master.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx.get(), out->data(), out->size(), params) != 1) {
        OPENSSL_cleanse(out->data(), out->size());
        return absl::InternalError("HKDF derivation failed");
    }
    return absl::OkStatus();
}

}  // namespace rebound::envelope
