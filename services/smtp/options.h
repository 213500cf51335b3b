#pragma once
// The server's settings: every limit in one struct, durations in milliseconds so tests can
// use short ones; FromConfig() converts the validated configuration.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/config/config.h"

namespace rebound::smtp {

struct Limits {
    std::size_t command_line_max = 512;  // octets including CR LF (RFC 5321: 512)
    std::size_t text_line_max = 4096;    // octets including CR LF (RFC 5321 minimum: 1000)
    std::size_t max_recipients = 100;
    std::uint64_t max_messages_per_connection = 1000;
    std::uint64_t max_message_bytes = 10 * 1024 * 1024;
    std::size_t max_connections = 2000;
    std::size_t max_connections_per_client = 50;
    std::uint64_t max_errors = 10;
    std::chrono::milliseconds command_timeout{300'000};
    std::chrono::milliseconds session_deadline{3'600'000};
    // During DATA the client must average at least this rate after the first
    // command_timeout: by time t after DATA, t <= command_timeout + received / rate.
    std::uint64_t min_data_rate_bytes_per_second = 1024;  // 0 disables
    // The server waits this long before the greeting; a client that sends anything before
    // the greeting gets 554 5.5.1 and is disconnected. Input already waiting when the
    // greeting is written is detected even with 0.
    std::chrono::milliseconds greet_pause{0};
    // How long a DATA reply may wait for the delegate before the server gives up with
    // 451 4.3.0 (the delegate's `done` is then ignored).
    std::chrono::milliseconds deliver_timeout{120'000};
};

struct ServerOptions {
    std::vector<std::string> listen = {"127.0.0.1:2525"};  // host:port, [v6]:port; port 0 = any
    std::string hostname = "localhost";
    std::size_t threads = 0;  // event loops; 0 = one per core
    Limits limits;
    std::chrono::milliseconds shutdown_grace{20'000};
    // PEM files for STARTTLS; both empty = STARTTLS not offered.
    std::string tls_certificate;
    std::string tls_key;
};

// The options for `config` (already validated by config::Load). TLS paths are taken as
// they are: the daemon fills them in (see GenerateSelfSigned in tls.h) before calling.
ServerOptions OptionsFromConfig(const config::SmtpConfig& config);

// Checks the options (limits in range, addresses parse) before anything is bound.
absl::Status ValidateOptions(const ServerOptions& options);

}  // namespace rebound::smtp
