#include "services/smtp/options.h"

#include "services/common/strings.h"

namespace rebound::smtp {

ServerOptions OptionsFromConfig(const config::SmtpConfig& c) {
    ServerOptions o;
    o.listen = c.listen;
    o.hostname = c.hostname;
    o.threads = static_cast<std::size_t>(c.threads);
    Limits& l = o.limits;
    l.command_line_max = static_cast<std::size_t>(c.command_line_max);
    l.text_line_max = static_cast<std::size_t>(c.text_line_max);
    l.max_recipients = static_cast<std::size_t>(c.max_recipients);
    l.max_messages_per_connection = static_cast<std::uint64_t>(c.max_messages_per_connection);
    l.max_message_bytes = static_cast<std::uint64_t>(c.max_message_bytes);
    l.max_connections = static_cast<std::size_t>(c.max_connections);
    l.max_connections_per_client = static_cast<std::size_t>(c.max_connections_per_client);
    l.max_errors = static_cast<std::uint64_t>(c.max_errors);
    l.command_timeout = std::chrono::seconds(c.command_timeout_seconds);
    l.session_deadline = std::chrono::seconds(c.session_deadline_seconds);
    l.min_data_rate_bytes_per_second = static_cast<std::uint64_t>(c.min_data_rate_bytes_per_second);
    l.greet_pause = std::chrono::milliseconds(c.greet_pause_ms);
    l.deliver_timeout = std::chrono::seconds(c.deliver_timeout_seconds);
    o.shutdown_grace = std::chrono::seconds(c.shutdown_grace_seconds);
    o.tls_certificate = c.tls_certificate;
    o.tls_key = c.tls_key;
    return o;
}

absl::Status ValidateOptions(const ServerOptions& o) {
    const Limits& l = o.limits;
    if (o.listen.empty()) return absl::InvalidArgumentError("smtp: no listen address");
    if (o.hostname.empty() || o.hostname.size() > 255 || o.hostname.find_first_of(" \r\n\t") != std::string::npos) {
        return absl::InvalidArgumentError("smtp: hostname must be 1..255 octets without spaces");
    }
    if (o.threads > 256) return absl::InvalidArgumentError("smtp: threads must be at most 256");
    if (l.command_line_max < 512 || l.command_line_max > 65536)
        return absl::InvalidArgumentError("smtp: command_line_max must be in 512..65536");
    if (l.text_line_max < 1000 || l.text_line_max > (1u << 20))
        return absl::InvalidArgumentError("smtp: text_line_max must be in 1000..1048576");
    if (l.max_recipients < 1) return absl::InvalidArgumentError("smtp: max_recipients must be at least 1");
    if (l.max_messages_per_connection < 1)
        return absl::InvalidArgumentError("smtp: max_messages_per_connection must be at least 1");
    if (l.max_message_bytes < 1) return absl::InvalidArgumentError("smtp: max_message_bytes must be at least 1");
    if (l.max_connections < 1 || l.max_connections_per_client < 1)
        return absl::InvalidArgumentError("smtp: connection limits must be at least 1");
    if (l.max_errors < 1) return absl::InvalidArgumentError("smtp: max_errors must be at least 1");
    if (l.command_timeout.count() < 1 || l.session_deadline.count() < 1 || l.deliver_timeout.count() < 1)
        return absl::InvalidArgumentError("smtp: timeouts must be positive");
    if (l.greet_pause.count() < 0) return absl::InvalidArgumentError("smtp: greet_pause must not be negative");
    if (o.tls_certificate.empty() != o.tls_key.empty())
        return absl::InvalidArgumentError("smtp: set both tls_certificate and tls_key, or neither");
    return absl::OkStatus();
}

}  // namespace rebound::smtp
