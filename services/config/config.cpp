#include "services/config/config.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "services/common/dns_name.h"
#include "services/common/log.h"
#include "services/common/strings.h"

namespace rebound::config {
namespace {

// One configurable field: where it lives in TOML, its environment variable, and how to
// set it from either source.
struct Field {
    std::string key;  // "section.name" or "name" at the top level
    bool secret = false;
    std::function<absl::Status(const toml::node&)> from_toml;
    std::function<absl::Status(std::string_view)> from_env;
    std::function<std::string()> show;

    std::string EnvName() const {
        std::string name = "REBOUND_" + key;
        for (char& c : name)
            c = c == '.' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        return name;
    }
};

std::string Quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "\"";
}

Field Str(std::string key, std::string* target, bool secret = false) {
    Field f{key, secret, nullptr, nullptr, nullptr};
    f.from_toml = [key, target](const toml::node& n) -> absl::Status {
        if (!n.is_string()) return absl::InvalidArgumentError(rebound::StrCat(key, ": expected a string"));
        *target = *n.value<std::string>();
        return absl::OkStatus();
    };
    f.from_env = [target](std::string_view v) {
        *target = std::string(v);
        return absl::OkStatus();
    };
    f.show = [target, secret] { return secret && !target->empty() ? Quote("<redacted>") : Quote(*target); };
    return f;
}

Field Int(std::string key, std::int64_t* target, std::int64_t min,
          std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    Field f{key, false, nullptr, nullptr, nullptr};
    auto check = [key, target, min, max](std::int64_t v) -> absl::Status {
        if (v < min || v > max) {
            return absl::InvalidArgumentError(rebound::StrCat(key, ": ", v, " is out of range [", min, ", ", max, "]"));
        }
        *target = v;
        return absl::OkStatus();
    };
    f.from_toml = [key, check](const toml::node& n) -> absl::Status {
        if (!n.is_integer()) return absl::InvalidArgumentError(rebound::StrCat(key, ": expected an integer"));
        return check(*n.value<std::int64_t>());
    };
    f.from_env = [key, check](std::string_view v) -> absl::Status {
        std::int64_t parsed = 0;
        if (!ParseInt(StripWhitespace(v), &parsed)) {
            return absl::InvalidArgumentError(rebound::StrCat(key, ": \"", v, "\" is not an integer"));
        }
        return check(parsed);
    };
    f.show = [target] { return std::to_string(*target); };
    return f;
}

Field Bool(std::string key, bool* target) {
    Field f{key, false, nullptr, nullptr, nullptr};
    f.from_toml = [key, target](const toml::node& n) -> absl::Status {
        if (!n.is_boolean()) return absl::InvalidArgumentError(rebound::StrCat(key, ": expected true or false"));
        *target = *n.value<bool>();
        return absl::OkStatus();
    };
    f.from_env = [key, target](std::string_view v) -> absl::Status {
        const std::string lower = AsciiLower(StripWhitespace(v));
        if (lower == "true" || lower == "1" || lower == "yes") {
            *target = true;
        } else if (lower == "false" || lower == "0" || lower == "no") {
            *target = false;
        } else {
            return absl::InvalidArgumentError(rebound::StrCat(key, ": \"", v, "\" is not a boolean"));
        }
        return absl::OkStatus();
    };
    f.show = [target] { return std::string(*target ? "true" : "false"); };
    return f;
}

Field StrList(std::string key, std::vector<std::string>* target) {
    Field f{key, false, nullptr, nullptr, nullptr};
    f.from_toml = [key, target](const toml::node& n) -> absl::Status {
        const toml::array* arr = n.as_array();
        if (arr == nullptr) return absl::InvalidArgumentError(rebound::StrCat(key, ": expected an array of strings"));
        std::vector<std::string> values;
        for (const toml::node& item : *arr) {
            if (!item.is_string())
                return absl::InvalidArgumentError(rebound::StrCat(key, ": expected an array of strings"));
            values.push_back(*item.value<std::string>());
        }
        *target = std::move(values);
        return absl::OkStatus();
    };
    // In the environment, a comma-separated list.
    f.from_env = [target](std::string_view v) {
        target->clear();
        for (std::string_view piece : Split(v, ',')) {
            piece = StripWhitespace(piece);
            if (!piece.empty()) target->emplace_back(piece);
        }
        return absl::OkStatus();
    };
    f.show = [target] {
        std::vector<std::string> quoted;
        for (const auto& s : *target)
            quoted.push_back(Quote(s));
        return "[" + Join(quoted, ", ") + "]";
    };
    return f;
}

std::vector<Field> Fields(Config& c) {
    constexpr std::int64_t kMaxSeconds = 7 * 24 * 3600;
    return {
        Str("data_dir", &c.data_dir),
        Str("log.level", &c.log.level),
        Str("database.url", &c.database.url, /*secret=*/false),
        Int("database.pool_size", &c.database.pool_size, 1, 256),
        Bool("database.migrate_on_start", &c.database.migrate_on_start),
        Int("database.connect_timeout_seconds", &c.database.connect_timeout_seconds, 1, 300),
        Int("database.statement_timeout_ms", &c.database.statement_timeout_ms, 0, 3'600'000),
        StrList("smtp.listen", &c.smtp.listen),
        Str("smtp.hostname", &c.smtp.hostname),
        Int("smtp.threads", &c.smtp.threads, 0, 256),
        Int("smtp.max_message_bytes", &c.smtp.max_message_bytes, 1024, std::int64_t{1} << 30),
        Int("smtp.max_recipients", &c.smtp.max_recipients, 1, 10000),
        Int("smtp.max_messages_per_connection", &c.smtp.max_messages_per_connection, 1, 1'000'000),
        Int("smtp.max_connections", &c.smtp.max_connections, 1, 1'000'000),
        Int("smtp.max_connections_per_client", &c.smtp.max_connections_per_client, 1, 1'000'000),
        Int("smtp.command_line_max", &c.smtp.command_line_max, 512, 65536),
        Int("smtp.text_line_max", &c.smtp.text_line_max, 1000, 1 << 20),
        Int("smtp.command_timeout_seconds", &c.smtp.command_timeout_seconds, 1, kMaxSeconds),
        Int("smtp.session_deadline_seconds", &c.smtp.session_deadline_seconds, 1, kMaxSeconds),
        Int("smtp.min_data_rate_bytes_per_second", &c.smtp.min_data_rate_bytes_per_second, 0, 1 << 30),
        Int("smtp.max_errors", &c.smtp.max_errors, 1, 1000),
        Int("smtp.shutdown_grace_seconds", &c.smtp.shutdown_grace_seconds, 0, 3600),
        Int("smtp.greet_pause_ms", &c.smtp.greet_pause_ms, 0, 60'000),
        Int("smtp.deliver_timeout_seconds", &c.smtp.deliver_timeout_seconds, 1, 3600),
        Str("smtp.tls_certificate", &c.smtp.tls_certificate),
        Str("smtp.tls_key", &c.smtp.tls_key),
        Str("grpc.listen", &c.grpc.listen),
        Str("grpc.admin_key", &c.grpc.admin_key, /*secret=*/true),
        Int("grpc.max_message_bytes", &c.grpc.max_message_bytes, 4096, std::int64_t{1} << 30),
        Str("envelope.master_key", &c.envelope.master_key, /*secret=*/true),
        Str("envelope.prefix", &c.envelope.prefix),
        Int("envelope.stale_after_days", &c.envelope.stale_after_days, 1, 3650),
        Int("ingest.writers", &c.ingest.writers, 1, 64),
        Int("ingest.max_batch", &c.ingest.max_batch, 1, 10000),
        Bool("ingest.pipelined_flush", &c.ingest.pipelined_flush),
        Int("ingest.max_queue", &c.ingest.max_queue, 1, 1'000'000),
        Int("ingest.domain_refresh_seconds", &c.ingest.domain_refresh_seconds, 1, 86400),
        Int("retention.raw_message_days", &c.retention.raw_message_days, 1, 36500),
        Int("retention.event_days", &c.retention.event_days, 1, 36500),
        StrList("dns.mx_hosts", &c.dns.mx_hosts),
        Str("dns.feedback_host", &c.dns.feedback_host),
        Str("dns.spf_include", &c.dns.spf_include),
        StrList("dns.resolvers", &c.dns.resolvers),
        Int("dns.timeout_ms", &c.dns.timeout_ms, 100, 60'000),
        Int("dns.tries", &c.dns.tries, 1, 10),
        Bool("dns.recheck_enabled", &c.dns.recheck_enabled),
        Int("dns.recheck_seconds", &c.dns.recheck_seconds, 1, kMaxSeconds * 5),
        Int("dns.retry_min_seconds", &c.dns.retry_min_seconds, 1, kMaxSeconds),
        Int("dns.retry_max_seconds", &c.dns.retry_max_seconds, 1, kMaxSeconds),
        Int("dns.recheck_poll_seconds", &c.dns.recheck_poll_seconds, 1, 3600),
    };
}

// Looks a dotted key up in the parsed document.
const toml::node* Find(const toml::table& root, std::string_view key) {
    const toml::table* table = &root;
    std::vector<std::string_view> parts = Split(key, '.');
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        const toml::node* sub = table->get(parts[i]);
        if (sub == nullptr || !sub->is_table()) return nullptr;
        table = sub->as_table();
    }
    return table->get(parts.back());
}

// Every key in the document must be known: a typo should not silently fall back to a default.
absl::Status CheckUnknownKeys(const toml::table& root, const std::set<std::string>& known, const std::string& origin) {
    for (const auto& [k, v] : root) {
        const std::string top(k.str());
        if (v.is_table()) {
            for (const auto& [k2, v2] : *v.as_table()) {
                const std::string key = rebound::StrCat(top, ".", k2.str());
                if (known.count(key) == 0)
                    return absl::InvalidArgumentError(rebound::StrCat(origin, ": unknown setting ", key));
            }
        } else if (known.count(top) == 0) {
            return absl::InvalidArgumentError(rebound::StrCat(origin, ": unknown setting ", top));
        }
    }
    return absl::OkStatus();
}

bool ValidHostPort(std::string_view s) {
    // host:port or [v6]:port
    std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view host = s.substr(0, colon);
    std::uint32_t port = 0;
    if (!ParseInt(s.substr(colon + 1), &port) || port > 65535) return false;
    if (host.front() == '[') return host.back() == ']' && host.size() > 2;
    return host.find(':') == std::string_view::npos;
}

absl::Status ValidateDns(const DnsConfig& dns) {
    if (dns.mx_hosts.empty()) return absl::InvalidArgumentError("dns.mx_hosts: at least one \"PREFERENCE HOST\"");
    std::set<std::string> hosts;
    for (const std::string& entry : dns.mx_hosts) {
        std::int64_t preference = -1;
        std::string host;
        if (!ParseMxHost(entry, &preference, &host)) {
            return absl::InvalidArgumentError(
                rebound::StrCat("dns.mx_hosts: \"", entry, "\" is not \"PREFERENCE HOST\" (0-65535 and a host name)"));
        }
        if (!hosts.insert(host).second) {
            return absl::InvalidArgumentError(rebound::StrCat("dns.mx_hosts: ", host, " is listed twice"));
        }
    }
    if (!IsHostName(NormalizeDnsName(dns.feedback_host), 2)) {
        return absl::InvalidArgumentError(
            rebound::StrCat("dns.feedback_host: \"", dns.feedback_host, "\" is not a host name"));
    }
    // SPF domain-specs may start with an underscore label (_spf.example.com).
    const std::string spf = NormalizeDnsName(dns.spf_include);
    const std::string_view spf_rest = spf.starts_with('_') && spf.find('.') != std::string::npos
                                          ? std::string_view(spf).substr(spf.find('.') + 1)
                                          : std::string_view(spf);
    if (!IsHostName(spf_rest, 2)) {
        return absl::InvalidArgumentError(
            rebound::StrCat("dns.spf_include: \"", dns.spf_include, "\" is not a domain name"));
    }
    for (const std::string& r : dns.resolvers) {
        if (!ValidHostPort(r)) {
            return absl::InvalidArgumentError(
                rebound::StrCat("dns.resolvers: \"", r, "\" is not address:port (IPv6 as [addr]:port)"));
        }
    }
    if (dns.retry_max_seconds < dns.retry_min_seconds) {
        return absl::InvalidArgumentError("dns.retry_max_seconds: must be at least dns.retry_min_seconds");
    }
    return absl::OkStatus();
}

absl::Status Validate(const Config& c) {
    log::Level level;
    if (!log::ParseLevel(c.log.level, &level)) {
        return absl::InvalidArgumentError(
            rebound::StrCat("log.level: \"", c.log.level, "\" is not one of debug, info, warn, error"));
    }
    if (c.data_dir.empty()) return absl::InvalidArgumentError("data_dir: must not be empty");
    if (c.smtp.listen.empty()) return absl::InvalidArgumentError("smtp.listen: at least one address is needed");
    for (const auto& addr : c.smtp.listen) {
        if (!ValidHostPort(addr)) {
            return absl::InvalidArgumentError(
                rebound::StrCat("smtp.listen: \"", addr, "\" is not host:port (IPv6 as [addr]:port)"));
        }
    }
    if (c.smtp.hostname.empty() || c.smtp.hostname.find_first_of(" \r\n\t") != std::string::npos) {
        return absl::InvalidArgumentError("smtp.hostname: must be a host name without spaces");
    }
    if (c.smtp.tls_certificate.empty() != c.smtp.tls_key.empty()) {
        return absl::InvalidArgumentError("smtp.tls_certificate and smtp.tls_key: set both or neither");
    }
    if (!ValidHostPort(c.grpc.listen)) {
        return absl::InvalidArgumentError(
            rebound::StrCat("grpc.listen: \"", c.grpc.listen, "\" is not host:port (IPv6 as [addr]:port)"));
    }
    if (!c.grpc.admin_key.empty() && c.grpc.admin_key.size() < 16) {
        return absl::InvalidArgumentError("grpc.admin_key: must be at least 16 characters");
    }
    if (c.retention.event_days < c.retention.raw_message_days) {
        return absl::InvalidArgumentError("retention.event_days: must be at least retention.raw_message_days");
    }
    const std::string& key = c.envelope.master_key;
    if (!key.empty()) {
        if (key.size() % 2 != 0 || key.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
            return absl::InvalidArgumentError("envelope.master_key: must be hexadecimal");
        }
        if (key.size() < 64) {
            return absl::InvalidArgumentError("envelope.master_key: must be at least 32 bytes (64 hex digits)");
        }
    }
    // 6 = 64 octets of a local part (RFC 5321) minus the longest token (58 characters);
    // envelope::kMaxPrefixLength, which this library cannot include.
    if (c.envelope.prefix.size() > 6 ||
        c.envelope.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos) {
        return absl::InvalidArgumentError("envelope.prefix: at most 6 characters of a-z, 0-9, '-', '_' and '.'");
    }
    return ValidateDns(c.dns);
}

absl::StatusOr<Config> Build(const toml::table* root, const std::string& origin, Environment env) {
    Config config;
    std::vector<Field> fields = Fields(config);
    if (root != nullptr) {
        std::set<std::string> known;
        for (const Field& f : fields)
            known.insert(f.key);
        if (absl::Status s = CheckUnknownKeys(*root, known, origin); !s.ok()) return s;
        for (const Field& f : fields) {
            if (const toml::node* n = Find(*root, f.key)) {
                if (absl::Status s = f.from_toml(*n); !s.ok()) {
                    return absl::InvalidArgumentError(rebound::StrCat(origin, ": ", s.message()));
                }
            }
        }
    }
    auto getenv_fn = env.get != nullptr ? env.get : +[](const char* name) -> const char* { return std::getenv(name); };
    for (const Field& f : fields) {
        const std::string name = f.EnvName();
        const char* value = getenv_fn(name.c_str());
        // REBOUND_MASTER_KEY is the documented short name of REBOUND_ENVELOPE_MASTER_KEY.
        if (value == nullptr && f.key == "envelope.master_key") value = getenv_fn("REBOUND_MASTER_KEY");
        if (value == nullptr) continue;
        if (absl::Status s = f.from_env(value); !s.ok()) {
            return absl::InvalidArgumentError(rebound::StrCat("environment ", name, ": ", s.message()));
        }
    }
    if (absl::Status s = Validate(config); !s.ok()) return s;
    return config;
}

}  // namespace

bool ParseMxHost(std::string_view entry, std::int64_t* preference, std::string* host) {
    const std::string_view text = StripWhitespace(entry);
    const std::size_t space = text.find_first_of(" \t");
    if (space == std::string_view::npos) return false;
    std::int64_t pref = 0;
    if (!ParseInt(text.substr(0, space), &pref) || pref < 0 || pref > 65535) return false;
    std::string name = NormalizeDnsName(text.substr(space + 1));
    if (!IsHostName(name, 2)) return false;
    *preference = pref;
    *host = std::move(name);
    return true;
}

absl::StatusOr<Config> LoadFromString(const std::string& toml_text, const std::string& origin, Environment env) {
    try {
        toml::table root = toml::parse(toml_text, origin);
        return Build(&root, origin, env);
    } catch (const toml::parse_error& err) {
        const auto& where = err.source().begin;
        return absl::InvalidArgumentError(
            rebound::StrCat(origin, ":", where.line, ":", where.column, ": ", err.description()));
    }
}

absl::StatusOr<Config> Load(const std::string& path, Environment env) {
    if (path.empty()) return Build(nullptr, "defaults", env);
    try {
        toml::table root = toml::parse_file(path);
        return Build(&root, path, env);
    } catch (const toml::parse_error& err) {
        const auto& where = err.source().begin;
        if (where.line == 0) return absl::NotFoundError(rebound::StrCat(path, ": ", err.description()));
        return absl::InvalidArgumentError(
            rebound::StrCat(path, ":", where.line, ":", where.column, ": ", err.description()));
    }
}

std::string Describe(const Config& config) {
    Config copy = config;
    std::ostringstream out;
    std::string section;
    for (const Field& f : Fields(copy)) {
        const std::size_t dot = f.key.find('.');
        const std::string sec = dot == std::string::npos ? "" : f.key.substr(0, dot);
        if (sec != section) {
            out << "\n[" << sec << "]\n";
            section = sec;
        }
        out << (dot == std::string::npos ? f.key : f.key.substr(dot + 1)) << " = " << f.show() << "\n";
    }
    return out.str();
}

std::string DatabaseUrl(const Config& config) {
    if (!config.database.url.empty()) return config.database.url;
    std::string dir = config.data_dir;
    if (dir.front() != '/') {
        // libpq needs an absolute socket directory.
        char* cwd = ::realpath(".", nullptr);
        if (cwd != nullptr) {
            dir = rebound::StrCat(cwd, "/", dir);
            std::free(cwd);
        }
    }
    return rebound::StrCat("host=", dir, "/pg port=54329 dbname=rebound user=postgres connect_timeout=",
                           config.database.connect_timeout_seconds);
}

}  // namespace rebound::config
