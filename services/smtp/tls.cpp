#include "services/smtp/tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "services/common/strings.h"

namespace rebound::smtp {
namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct ExtFree {
    void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::string OpenSslError(const char* what) {
    std::string out = what;
    unsigned long code = ERR_get_error();
    if (code != 0) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        StrAppend(&out, ": ", static_cast<const char*>(buf));
    }
    ERR_clear_error();
    return out;
}

absl::Status WritePem(const std::string& path, mode_t mode, bool key, EVP_PKEY* pkey, X509* cert) {
    std::string tmp = path + ".tmp";
    FilePtr f(std::fopen(tmp.c_str(), "wb"));
    if (!f) return absl::InternalError(StrCat("cannot write ", tmp));
    if (::chmod(tmp.c_str(), mode) != 0) return absl::InternalError(StrCat("cannot chmod ", tmp));
    const int ok = key ? PEM_write_PrivateKey(f.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)
                       : PEM_write_X509(f.get(), cert);
    if (ok != 1) return absl::InternalError(OpenSslError("PEM write failed"));
    if (std::fflush(f.get()) != 0) return absl::InternalError(StrCat("cannot write ", tmp));
    f.reset();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return absl::InternalError(StrCat("cannot rename to ", path));
    return absl::OkStatus();
}

}  // namespace

absl::Status GenerateSelfSigned(const std::string& certificate_path, const std::string& key_path,
                                const std::string& hostname) {
    if (hostname.empty() || hostname.size() > 64) return absl::InvalidArgumentError("hostname must be 1..64 octets");
    KeyPtr pkey(EVP_EC_gen("P-256"));
    if (!pkey) return absl::InternalError(OpenSslError("EC key generation failed"));
    X509Ptr cert(X509_new());
    if (!cert) return absl::InternalError(OpenSslError("X509_new failed"));
    X509_set_version(cert.get(), 2);
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return absl::InternalError(OpenSslError("RAND_bytes failed"));
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
        BN_free(bn);
        return absl::InternalError(OpenSslError("serial number failed"));
    }
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
    X509_set_pubkey(cert.get(), pkey.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    const std::string san = StrCat("DNS:", hostname);
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
        return absl::InternalError(OpenSslError("subjectAltName failed"));
    }
    if (X509_sign(cert.get(), pkey.get(), EVP_sha256()) == 0) return absl::InternalError(OpenSslError("sign failed"));
    if (absl::Status s = WritePem(key_path, 0600, true, pkey.get(), nullptr); !s.ok()) return s;
    return WritePem(certificate_path, 0644, false, nullptr, cert.get());
}

absl::Status EnsureSelfSigned(const std::string& certificate_path, const std::string& key_path,
                              const std::string& hostname) {
    if (CheckKeyPair(certificate_path, key_path).ok()) return absl::OkStatus();
    return GenerateSelfSigned(certificate_path, key_path, hostname);
}

absl::Status CheckKeyPair(const std::string& certificate_path, const std::string& key_path) {
    FilePtr cf(std::fopen(certificate_path.c_str(), "rb"));
    if (!cf) return absl::NotFoundError(StrCat("cannot open TLS certificate ", certificate_path));
    X509Ptr cert(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
    if (!cert) return absl::InvalidArgumentError(OpenSslError(StrCat("bad certificate ", certificate_path).c_str()));
    FilePtr kf(std::fopen(key_path.c_str(), "rb"));
    if (!kf) return absl::NotFoundError(StrCat("cannot open TLS key ", key_path));
    KeyPtr key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
    if (!key) return absl::InvalidArgumentError(OpenSslError(StrCat("bad private key ", key_path).c_str()));
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        return absl::InvalidArgumentError(
            OpenSslError(StrCat("TLS key ", key_path, " does not match certificate ", certificate_path).c_str()));
    }
    return absl::OkStatus();
}

}  // namespace rebound::smtp
