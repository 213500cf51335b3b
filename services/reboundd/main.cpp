// reboundd: configuration and wiring only. Everything it starts lives in a library.

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "services/api/server.h"
#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/common/thread_name.h"
#include "services/config/config.h"
#include "services/dns/verify.h"
#include "services/envelope/codec.h"
#include "services/ingest/domain_directory.h"
#include "services/ingest/ingest.h"
#include "services/smtp/server.h"
#include "services/smtp/tls.h"
#include "storage/database.h"
#include "storage/migrations.h"
#include "storage/pool.h"

namespace rebound {
namespace {

// How often the counters are logged (event=reboundd.counters).
constexpr time_t kCountersLogSeconds = 60;

void PrintUsage(std::ostream& out) {
    out << "usage: reboundd [--config FILE] [--check-config] [--print-config]\n\n"
           "Runs Rebound: the SMTP MX for feedback domains and the gRPC API.\n"
           "  --config FILE    TOML configuration (also REBOUND_CONFIG); defaults otherwise\n"
           "  --check-config   validate the configuration and exit\n"
           "  --print-config   print the effective configuration (secrets redacted) and exit\n";
}

// Connects, retrying while the database is starting up.
absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectWithRetry(const std::string& url,
                                                                   std::chrono::seconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (true) {
        auto conn = storage::Connect(url);
        if (conn.ok() || conn.status().code() != absl::StatusCode::kUnavailable ||
            std::chrono::steady_clock::now() >= deadline) {
            return conn;
        }
        log::Warn("database.retry").Kv("error", std::string(conn.status().message()));
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

// Hourly: creates the coming months' partitions and drops those past retention.
class Maintenance {
  public:
    Maintenance(std::string url, config::RetentionConfig retention)
        : url_(std::move(url)), retention_(retention), thread_([this] { Run(); }) {
        common::NameThread(thread_, "maintenance");
    }
    ~Maintenance() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

  private:
    // Partitions and retention once an hour; the mailing statistics' delta rows every five
    // minutes, so a mailing's statistics stay a read of a few rows while it is bouncing.
    void Run() {
        std::unique_lock lock(mu_);
        auto next_hourly = std::chrono::steady_clock::now();
        while (!stop_) {
            lock.unlock();
            if (auto conn = storage::Connect(url_); conn.ok()) {
                if (std::chrono::steady_clock::now() >= next_hourly) {
                    Hourly(**conn);
                    next_hourly = std::chrono::steady_clock::now() + std::chrono::hours(1);
                }
                auto folded = storage::CompactMailingRollups(**conn, /*min_rows=*/64);
                if (!folded.ok()) {
                    log::Error("maintenance.rollups").Kv("error", std::string(folded.status().message()));
                } else if (*folded > 0) {
                    log::Info("maintenance.rollups").Kv("folded_rows", *folded);
                }
            } else {
                log::Warn("maintenance.connect").Kv("error", std::string(conn.status().message()));
            }
            lock.lock();
            cv_.wait_for(lock, std::chrono::minutes(5), [this] { return stop_; });
        }
    }

    void Hourly(pqxx::connection& conn) {
        auto created = storage::EnsurePartitions(conn);
        if (!created.ok()) {
            log::Error("maintenance.partitions").Kv("error", std::string(created.status().message()));
        } else if (*created > 0) {
            log::Info("maintenance.partitions").Kv("created", *created);
        }
        auto dropped = storage::ApplyRetention(conn, static_cast<int>(retention_.raw_message_days),
                                               static_cast<int>(retention_.event_days));
        if (!dropped.ok()) {
            log::Error("maintenance.retention").Kv("error", std::string(dropped.status().message()));
        } else {
            for (const auto& table : dropped->dropped)
                log::Info("maintenance.dropped").Kv("partition", table);
        }
    }

    std::string url_;
    config::RetentionConfig retention_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

int Main(int argc, char** argv) {
    std::string config_path;
    if (const char* env = std::getenv("REBOUND_CONFIG")) config_path = env;
    bool check_only = false;
    bool print_config = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (arg.starts_with("--config=")) {
            config_path = arg.substr(9);
        } else if (arg == "--check-config") {
            check_only = true;
        } else if (arg == "--print-config") {
            print_config = true;
        } else if (arg == "-h" || arg == "--help") {
            PrintUsage(std::cout);
            return 0;
        } else {
            std::cerr << "reboundd: unexpected argument \"" << arg << "\"\n";
            PrintUsage(std::cerr);
            return 2;
        }
    }

    absl::StatusOr<config::Config> cfg = config::Load(config_path);
    if (!cfg.ok()) {
        std::cerr << "reboundd: configuration: " << cfg.status().message() << "\n";
        return 1;
    }
    if (print_config) {
        std::cout << config::Describe(*cfg);
        return 0;
    }
    if (check_only) {
        std::cout << "configuration OK\n";
        return 0;
    }
    log::Level level = log::Level::kInfo;
    log::ParseLevel(cfg->log.level, &level);
    log::SetMinLevel(level);

    // Signals are taken by sigwait() in this thread only: block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::error_code ec;
    std::filesystem::create_directories(cfg->data_dir, ec);
    if (ec) {
        log::Error("startup.failed").Kv("data_dir", cfg->data_dir).Kv("error", ec.message());
        return 1;
    }

    const std::string db_url = config::DatabaseUrl(*cfg);
    auto migrations = storage::BuiltinMigrations();
    if (!migrations.ok()) {
        log::Error("startup.failed").Kv("error", std::string(migrations.status().message()));
        return 1;
    }
    const std::int64_t known_version = migrations->empty() ? 0 : migrations->back().version;
    {
        auto conn = ConnectWithRetry(db_url, std::chrono::seconds(30));
        if (!conn.ok()) {
            log::Error("startup.failed").Kv("error", std::string(conn.status().message()));
            return 1;
        }
        if (cfg->database.migrate_on_start) {
            auto report = storage::Migrate(**conn, *migrations);
            if (!report.ok()) {
                log::Error("startup.failed").Kv("error", std::string(report.status().message()));
                return 1;
            }
            log::Info("database.migrated")
                .Kv("schema_version", report->schema_version)
                .Kv("applied", static_cast<std::int64_t>(report->applied.size()));
        } else {
            auto version = storage::SchemaVersion(**conn);
            if (!version.ok() || *version < known_version) {
                log::Error("startup.failed")
                    .Kv("error", "database schema is behind this build; run `rebound migrate`")
                    .Kv("known_version", known_version);
                return 1;
            }
        }
    }
    if (cfg->envelope.master_key.empty()) {
        log::Error("startup.failed").Kv("error", "envelope.master_key: required (set REBOUND_MASTER_KEY, hex)");
        return 1;
    }
    auto codec = envelope::Codec::Create(cfg->envelope.master_key, cfg->envelope.prefix,
                                         static_cast<std::uint32_t>(cfg->envelope.stale_after_days));
    if (!codec.ok()) {
        log::Error("startup.failed").Kv("error", std::string(codec.status().message()));
        return 1;
    }

    smtp::ServerOptions smtp_options = smtp::OptionsFromConfig(cfg->smtp);
    if (smtp_options.tls_certificate.empty()) {
        // The local default: a self-signed pair under data_dir, made once.
        const std::string dir = cfg->data_dir + "/tls";
        smtp_options.tls_certificate = dir + "/certificate.pem";
        smtp_options.tls_key = dir + "/key.pem";
        std::filesystem::create_directories(dir, ec);
        if (absl::Status s =
                smtp::EnsureSelfSigned(smtp_options.tls_certificate, smtp_options.tls_key, cfg->smtp.hostname);
            !s.ok()) {
            log::Error("startup.failed").Kv("error", std::string(s.message()));
            return 1;
        }
    }
    if (absl::Status s = smtp::ValidateOptions(smtp_options); !s.ok()) {
        log::Error("startup.failed").Kv("error", std::string(s.message()));
        return 1;
    }

    storage::Pool pool(db_url, static_cast<int>(cfg->database.pool_size));
    Maintenance maintenance(db_url, cfg->retention);

    ingest::DomainDirectory domains(db_url, std::chrono::seconds(cfg->ingest.domain_refresh_seconds));
    if (absl::Status s = domains.Refresh(); !s.ok()) {
        log::Warn("domains.load_failed").Kv("error", std::string(s.message()));
    }
    domains.StartRefresher();
    auto api = api::ApiServer::Start(cfg->grpc, {&pool, &*codec, known_version, &domains, cfg->dns});
    if (!api.ok()) {
        log::Error("startup.failed").Kv("error", std::string(api.status().message()));
        return 1;
    }
    log::Info("grpc.listening").Kv("address", (*api)->address());

    ingest::Ingest ingest(cfg->ingest, db_url, &domains, &*codec);
    ingest.Start();
    smtp::Server smtp_server(smtp_options, &ingest);
    if (absl::Status s = smtp_server.Start(); !s.ok()) {
        log::Error("startup.failed").Kv("error", std::string(s.message()));
        return 1;
    }
    // Periodic DNS re-checks of sender domains (state pending/verified/failing).
    std::unique_ptr<dns::Rechecker> rechecker;
    if (cfg->dns.recheck_enabled) {
        rechecker = std::make_unique<dns::Rechecker>(&pool, cfg->dns);
        rechecker->Start();
    }
    log::Info("reboundd.ready").Kv("version", REBOUND_VERSION);

    // The counters, once a minute and at shutdown: SMTP sessions, messages and rejections by
    // cause, and what ingest stored (batches: group commits).
    auto log_counters = [&](const char* event) {
        log::Line line(log::Level::kInfo, event);
        smtp_server.counters().Visit([&line](const char* name, std::uint64_t value) { line.Kv(name, value); });
        ingest.counters().Visit(
            [&line](const char* name, std::uint64_t value) { line.Kv(StrCat("ingest_", name), value); });
    };
    int sig = 0;
    while (true) {
        const timespec every{kCountersLogSeconds, 0};
        sig = sigtimedwait(&signals, nullptr, &every);
        if (sig == SIGTERM || sig == SIGINT) break;
        if (sig < 0 && errno == EAGAIN) log_counters("reboundd.counters");
    }
    log::Info("shutdown.begin").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    const auto grace = std::chrono::seconds(cfg->smtp.shutdown_grace_seconds);
    // A DNS check in progress is abandoned (nothing recorded; it runs again later). Then
    // SMTP: transactions in flight finish (their messages are written), then the
    // writers drain, then the API stops.
    if (rechecker) rechecker->Stop();
    smtp_server.Shutdown(std::chrono::duration_cast<std::chrono::milliseconds>(grace));
    ingest.Stop();
    log_counters("reboundd.counters");
    (*api)->Shutdown(std::chrono::seconds(5));
    log::Info("shutdown.done");
    return 0;
}

}  // namespace
}  // namespace rebound

int main(int argc, char** argv) {
    return rebound::Main(argc, argv);
}
