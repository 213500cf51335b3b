#pragma once
// TLS material for STARTTLS.

#include <string>

#include "absl/status/status.h"

namespace rebound::smtp {

// Writes a new self-signed certificate (EC P-256 key, SHA-256 signature, valid for ten
// years, CN and subjectAltName DNS = `hostname`) to `certificate_path` and its private key
// to `key_path` (PEM, mode 0600). Existing files are replaced. The daemon calls this when
// neither smtp.tls_certificate nor smtp.tls_key is configured.
absl::Status GenerateSelfSigned(const std::string& certificate_path, const std::string& key_path,
                                const std::string& hostname);

// Keeps an existing valid pair at these paths, or generates a new one (GenerateSelfSigned)
// if either file is missing or the pair does not load. For the daemon's local default
// (files under data_dir), so a restart does not change the certificate.
absl::Status EnsureSelfSigned(const std::string& certificate_path, const std::string& key_path,
                              const std::string& hostname);

// Checks that the two PEM files load and that the key matches the certificate.
absl::Status CheckKeyPair(const std::string& certificate_path, const std::string& key_path);

}  // namespace rebound::smtp
