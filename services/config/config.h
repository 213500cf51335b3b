#pragma once
// Rebound's configuration: one TOML file, a default beside every field, each field
// overridable by an environment variable named REBOUND_<SECTION>_<FIELD> (upper case).
// Load() validates everything before any port is bound; errors name the field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::config {

struct LogConfig {
    std::string level = "info";  // debug, info, warn, error
};

struct DatabaseConfig {
    // libpq connection string or URI. Empty means the local cluster of tools/pg-local:
    // socket directory <data_dir>/pg, port 54329, database "rebound".
    std::string url;
    std::int64_t pool_size = 8;
    bool migrate_on_start = true;
    std::int64_t connect_timeout_seconds = 5;
    std::int64_t statement_timeout_ms = 10000;
};

struct SmtpConfig {
    std::vector<std::string> listen = {"127.0.0.1:2525"};
    std::string hostname = "localhost";  // in the greeting and in EHLO replies
    std::int64_t threads = 0;            // event loops; 0 = one per core
    std::int64_t max_message_bytes = 10 * 1024 * 1024;
    std::int64_t max_recipients = 100;
    std::int64_t max_messages_per_connection = 1000;
    std::int64_t max_connections = 2000;
    std::int64_t max_connections_per_client = 50;
    std::int64_t command_line_max = 512;
    std::int64_t text_line_max = 4096;
    std::int64_t command_timeout_seconds = 300;
    std::int64_t session_deadline_seconds = 3600;
    std::int64_t min_data_rate_bytes_per_second = 1024;
    std::int64_t max_errors = 10;
    std::int64_t shutdown_grace_seconds = 20;
    // Wait before the greeting; a client talking before it is rejected (554 5.5.1).
    std::int64_t greet_pause_ms = 0;
    // How long the reply to the final dot may wait for storage before 451 4.3.0.
    std::int64_t deliver_timeout_seconds = 120;
    // PEM files for STARTTLS. Both empty: a self-signed pair is generated under data_dir.
    std::string tls_certificate;
    std::string tls_key;
};

struct GrpcConfig {
    std::string listen = "127.0.0.1:50051";
    // Administrator key for AccountService; empty disables administration calls.
    std::string admin_key;
    std::int64_t max_message_bytes = 16 * 1024 * 1024;
};

struct EnvelopeConfig {
    // Hex master secret (at least 32 bytes) from which per-account keys are derived.
    // Also read from REBOUND_MASTER_KEY. Never logged.
    std::string master_key;
    std::string prefix;                  // optional local-part prefix, e.g. "b-"; at most 6 characters
    std::int64_t stale_after_days = 60;  // older tokens still attribute but are flagged stale
};

struct IngestConfig {
    // Threads writing batches, each with a connection. One writer makes the biggest batches
    // (messages are parsed before they queue), which measured fastest on 2 cores; more let
    // commits overlap where fsync is slow or there are cores to spare.
    std::int64_t writers = 1;
    std::int64_t max_batch = 128;  // messages per transaction (group commit)
    // Writers commit without waiting for the WAL flush and go on with the next batch; one
    // flusher thread then commits a synchronous transaction, whose flush covers every batch
    // committed before it, and only then answers 250 to them. Off: each writer waits for its
    // own flush. The 250 comes after the flush either way; see migrations/0011 for the feed.
    bool pipelined_flush = true;
    std::int64_t max_queue = 5000;             // waiting messages; beyond, 451 4.3.2 (try later)
    std::int64_t domain_refresh_seconds = 30;  // how often registered domains are reloaded
};

struct RetentionConfig {
    std::int64_t raw_message_days = 90;  // raw messages: whole months older than this are dropped
    std::int64_t event_days = 400;       // bounce events: likewise, kept longer
};

struct DnsConfig {
    // Rebound's MX hosts for feedback domains, "PREFERENCE HOST": the lowest preference is
    // the primary, the others backups. Recommended to customers and checked in their DNS.
    std::vector<std::string> mx_hosts = {"10 mx1.rebound.example", "20 mx2.rebound.example"};
    // The target of the CNAME alternative (for DNS providers without MX records): a name
    // with Rebound's MX and SPF records, so an alias to it carries both.
    std::string feedback_host = "feedback.rebound.example";
    // The SPF include that authorises the sending platform; the recommended record is
    // "v=spf1 include:<spf_include> ~all".
    std::string spf_include = "_spf.rebound.example";
    // Resolvers for live checks, "ADDRESS:PORT" ("[v6]:port"); empty = the system's
    // (/etc/resolv.conf). When set, only these are asked.
    std::vector<std::string> resolvers;
    std::int64_t timeout_ms = 3000;  // per try and resolver
    std::int64_t tries = 2;
    // The periodic re-check in reboundd: a verified domain again after recheck_seconds; after
    // a failed or inconclusive check, retry_min_seconds doubling per failure up to retry_max_seconds.
    bool recheck_enabled = true;
    std::int64_t recheck_seconds = 6 * 3600;
    std::int64_t retry_min_seconds = 300;
    std::int64_t retry_max_seconds = 6 * 3600;
    std::int64_t recheck_poll_seconds = 30;  // how often due domains are looked for
};

struct Config {
    // Folder for runtime state (local PostgreSQL, generated TLS pair). Relative paths are
    // taken from the working directory.
    std::string data_dir = ".data";
    LogConfig log;
    DatabaseConfig database;
    SmtpConfig smtp;
    GrpcConfig grpc;
    EnvelopeConfig envelope;
    IngestConfig ingest;
    RetentionConfig retention;
    DnsConfig dns;
};

struct Environment {
    // Lookup function for environment variables; tests substitute their own.
    const char* (*get)(const char* name) = nullptr;
};

// Reads `path` (empty: no file, defaults only), applies environment overrides and
// validates. The error message names the offending field and the source of its value.
absl::StatusOr<Config> Load(const std::string& path, Environment env = {});

// Parses TOML text instead of a file; `origin` names it in error messages.
absl::StatusOr<Config> LoadFromString(const std::string& toml_text, const std::string& origin, Environment env = {});

// The effective configuration as TOML, with secrets replaced by "<redacted>".
std::string Describe(const Config& config);

// Parses one dns.mx_hosts entry, "PREFERENCE HOST" (host normalised to lower case without a
// trailing dot). False unless the preference is 0-65535 and the host a host name.
bool ParseMxHost(std::string_view entry, std::int64_t* preference, std::string* host);

// The database connection string, with the local-cluster default resolved.
std::string DatabaseUrl(const Config& config);

}  // namespace rebound::config
