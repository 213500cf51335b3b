// The read side of the API at scale: a private PostgreSQL cluster loaded by COPY with N bounce
// events (default 10,000,000: 100 mailings of 100,000 events over 5 accounts and 60 days) and
// a suppression list of 1,000,000 addresses, then, through the real server over a real gRPC
// channel on loopback:
//   - GetMailingStats for one mailing of 100,000 events          (goal p99 < 50 ms)
//   - ListEvents pages, with and without filters                 (goal p99 < 20 ms)
//   - CheckSuppressions throughput by address and by recipient id (goal >= 200,000/s)
// Each is printed beside the reference measured in the same run: the same SQL sent straight
// to PostgreSQL over libpq, so the ratio is what the service and gRPC add.
//
//   api_bench [--events N] [--suppressions N] [--check N] [--repeat N] [--keep 1]
//   (--keep 1 leaves the loaded cluster running and prints how to reach it)

#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rebound/v1/account.grpc.pb.h"
#include "rebound/v1/bounce.grpc.pb.h"
#include "rebound/v1/suppression.grpc.pb.h"
#include "services/api/server.h"
#include "services/common/strings.h"
#include "storage/database.h"
#include "storage/migrations.h"
#include "storage/pool.h"

using namespace rebound;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kAdminKey = "bench-admin-key-0123456789abcdef";
const std::string kMasterKey(64, 'b');
constexpr int kAccounts = 5;
constexpr std::int64_t kMailingSize = 100'000;
constexpr std::int64_t kRecipientsPerMailing = 400'000;
constexpr std::int64_t kCopyRows = 1'000'000;

// The private cluster is stopped and removed however the benchmark ends.
std::string g_cleanup;
void Cleanup() {
    if (!g_cleanup.empty()) std::system(g_cleanup.c_str());
}

double Ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

struct Latency {
    std::vector<double> ms;
    double Percentile(double p) const {
        std::vector<double> v = ms;
        std::sort(v.begin(), v.end());
        if (v.empty()) return 0;
        const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    }
};

Latency Measure(int repeat, const std::function<bool()>& call) {
    for (int i = 0; i < 3; ++i)
        call();  // warm caches and plans
    Latency l;
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = Clock::now();
        if (!call()) {
            std::fprintf(stderr, "call failed\n");
            std::exit(1);
        }
        l.ms.push_back(Ms(Clock::now() - t0));
    }
    return l;
}

void Row(const char* what, const Latency& api, const Latency& sql, double goal_ms) {
    const double p99 = api.Percentile(99);
    std::printf(
        "%-44s p50 %7.2f  p99 %7.2f ms | SQL alone p50 %7.2f  p99 %7.2f ms | p99 ratio %5.2f | goal p99 < %g ms: %s\n",
        what, api.Percentile(50), p99, sql.Percentile(50), sql.Percentile(99),
        sql.Percentile(99) > 0 ? p99 / sql.Percentile(99) : 0.0, goal_ms, p99 < goal_ms ? "met" : "NOT met");
}

// A bare libpq connection for COPY and for the reference queries.
class Raw {
  public:
    explicit Raw(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) Die("connect");
    }
    ~Raw() { PQfinish(conn_); }

    void Exec(const std::string& sql) {
        PGresult* r = PQexec(conn_, sql.c_str());
        const auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) Die(sql.c_str());
        PQclear(r);
    }

    std::vector<std::string> Column(const std::string& sql) {
        PGresult* r = PQexec(conn_, sql.c_str());
        if (PQresultStatus(r) != PGRES_TUPLES_OK) Die(sql.c_str());
        std::vector<std::string> out;
        for (int i = 0; i < PQntuples(r); ++i)
            out.emplace_back(PQgetvalue(r, i, 0));
        PQclear(r);
        return out;
    }

    // Runs `sql` with text parameters; false on error. The rows are read and dropped.
    bool Query(const std::string& sql, const std::vector<std::string>& params, int* rows = nullptr) {
        std::vector<const char*> values;
        for (const auto& p : params)
            values.push_back(p.c_str());
        PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                                   nullptr, 0);
        const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok) std::fprintf(stderr, "%s\n", PQerrorMessage(conn_));
        if (rows != nullptr) *rows = PQntuples(r);
        PQclear(r);
        return ok;
    }

    void CopyIn(const std::string& copy_sql, const std::function<bool(std::string*)>& next_chunk) {
        PGresult* start = PQexec(conn_, copy_sql.c_str());
        if (PQresultStatus(start) != PGRES_COPY_IN) Die(copy_sql.c_str());
        PQclear(start);
        std::string chunk;
        while (next_chunk(&chunk)) {
            if (PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1) Die("PQputCopyData");
            chunk.clear();
        }
        if (PQputCopyEnd(conn_, nullptr) != 1) Die("PQputCopyEnd");
        PGresult* r = PQgetResult(conn_);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) Die("COPY");
        PQclear(r);
        while ((r = PQgetResult(conn_)) != nullptr)
            PQclear(r);
    }

  private:
    [[noreturn]] void Die(const char* what) {
        std::fprintf(stderr, "%s: %s\n", what, PQerrorMessage(conn_));
        std::exit(1);
    }
    PGconn* conn_;
};

struct Kind {
    const char* disposition;
    const char* reason;
    int bounce_class;
    bool hard;
    const char* kind;
    const char* status;
    int reply_code;
    int weight;
};

// A plausible mix of what comes back from a marketing mailing.
const Kind kKinds[] = {
    {"hard", "userunknown", 10, true, "dsn", "5.1.1", 550, 33},
    {"hard", "hostunknown", 21, true, "dsn", "5.1.2", 550, 3},
    {"soft", "mailboxfull", 22, false, "dsn", "4.2.2", 452, 12},
    {"soft", "expired", 24, false, "dsn", "4.4.7", 0, 5},
    {"block", "blocked", 50, false, "nonstandard", "5.7.1", 554, 8},
    {"block", "spamdetected", 51, false, "dsn", "5.7.1", 550, 5},
    {"block", "policyviolation", 50, false, "dsn", "5.7.1", 550, 2},
    {"delayed", "delayed", 70, false, "dsn", "4.4.1", 0, 10},
    {"auto_reply", "vacation", 60, false, "autoreply", "", 0, 18},
    {"complaint", "feedback", 1, false, "arf", "", 0, 2},
    {"delivered", "delivered", 1, false, "dsn", "2.0.0", 250, 2},
};

const char* const kDomains[] = {"gmail.com",     "gmail.com",     "gmail.com",   "outlook.com", "outlook.com",
                                "yahoo.com",     "yahoo.com",     "hotmail.com", "icloud.com",  "gmx.de",
                                "web.de",        "orange.fr",     "aol.com",     "mail.ru",     "corp1.example",
                                "corp2.example", "corp3.example", "uni.example", "free.fr",     "comcast.net"};

// COPY text escaping for the few characters the generated values could contain.
void AppendField(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\' || c == '\t' || c == '\n') out.push_back('\\');
        out.push_back(c);
    }
}

// Loads `n` events: mailing m belongs to accounts[m % kAccounts]; mailing 0 to accounts[0].
void LoadEvents(Raw& raw, std::int64_t n, const std::vector<std::int64_t>& accounts) {
    std::vector<int> table;
    for (int k = 0; k < static_cast<int>(std::size(kKinds)); ++k)
        for (int w = 0; w < kKinds[k].weight; ++w)
            table.push_back(k);
    std::mt19937_64 rng(42);
    const std::int64_t now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const std::int64_t day_us = 86400LL * 1000000;
    const std::int64_t mailings = std::max<std::int64_t>(1, n / kMailingSize);
    std::int64_t i = 0;
    // One COPY per million rows: each statement's rollup trigger (migration 0008) aggregates
    // its rows, as a bulk import in parts would.
    for (std::int64_t part_end = std::min(n, kCopyRows); i < n; part_end = std::min(n, part_end + kCopyRows)) {
        raw.CopyIn(
            "COPY bounce_events (received_at, account_id, raw_message_id, mailing_id, recipient_id, envelope_address, "
            "recipient, recipient_domain, kind, status, reply_code, reason, hard_bounce, bounce_class, disposition, "
            "diagnostic, remote_mta, reporting_mta, rule_id, rules_version) FROM STDIN",
            [&](std::string* chunk) {
                if (i >= part_end) return false;
                chunk->reserve(1 << 21);
                char buf[512];
                while (i < part_end && chunk->size() < (1u << 21)) {
                    const std::int64_t mailing = i / kMailingSize;
                    const std::int64_t account = accounts[static_cast<std::size_t>(mailing % kAccounts)];
                    // Each mailing's bounces arrive over three days; mailings spread over 57 days.
                    const std::int64_t start = now_us - 60 * day_us + (mailing * 57 * day_us) / mailings;
                    const std::int64_t at =
                        start + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(3 * day_us));
                    const std::int64_t recipient = static_cast<std::int64_t>(rng() % kRecipientsPerMailing);
                    const Kind& k = kKinds[table[rng() % table.size()]];
                    const char* domain = kDomains[(recipient * 7 + mailing) % std::size(kDomains)];
                    const std::time_t secs = static_cast<std::time_t>(at / 1000000);
                    std::tm tm{};
                    gmtime_r(&secs, &tm);
                    char ts[40];
                    const std::size_t tn = std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
                    std::snprintf(ts + tn, sizeof ts - tn, ".%06lld+00", static_cast<long long>(at % 1000000));
                    const int len = std::snprintf(
                        buf, sizeof buf,
                        "%s\t%lld\t%lld\t%lld\t%lld\tb%010llx%014llx@feedback.customer%lld.example\tu%lld.m%lld@%s\t%"
                        "s\t%s\t%s\t",
                        ts, static_cast<long long>(account), static_cast<long long>(i / 2 + 1),
                        static_cast<long long>(mailing), static_cast<long long>(recipient),
                        static_cast<unsigned long long>(mailing), static_cast<unsigned long long>(recipient),
                        static_cast<long long>(account), static_cast<long long>(recipient),
                        static_cast<long long>(mailing), domain, domain, k.kind, *k.status ? k.status : "\\N");
                    if (len <= 0 || static_cast<std::size_t>(len) >= sizeof buf)
                        std::abort();  // cannot happen: short fields
                    chunk->append(buf, static_cast<std::size_t>(len));
                    if (k.reply_code) {
                        chunk->append(std::to_string(k.reply_code));
                    } else {
                        chunk->append("\\N");
                    }
                    chunk->push_back('\t');
                    std::string diag =
                        StrCat(k.reply_code ? std::to_string(k.reply_code) : "", " ", k.status, " <u", recipient, ".m",
                               mailing, "@", domain, ">: ", k.reason, " (mx.", domain, ")");
                    StrAppend(chunk, k.reason, "\t", k.hard ? "t" : "f", "\t", k.bounce_class, "\t", k.disposition,
                              "\t");
                    AppendField(*chunk, diag);
                    StrAppend(chunk, "\tmx1.", domain, "\tmta.rebound.example\tbench.", k.reason, "\t2026.11.22-1\n");
                    ++i;
                }
                return true;
            });
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t n_events = 10'000'000;
    std::int64_t n_suppressions = 1'000'000;
    std::int64_t n_check = 1'000'000;
    int repeat = 200;
    bool keep = false;
    for (int a = 1; a + 1 < argc; a += 2) {
        const std::string flag = argv[a];
        const std::int64_t v = std::strtoll(argv[a + 1], nullptr, 10);
        if (flag == "--events") {
            n_events = v;
        } else if (flag == "--suppressions") {
            n_suppressions = v;
        } else if (flag == "--check") {
            n_check = v;
        } else if (flag == "--repeat") {
            repeat = static_cast<int>(v);
        } else if (flag == "--keep") {
            keep = v != 0;
        } else {
            std::fprintf(stderr,
                         "usage: api_bench [--events N] [--suppressions N] [--check N] [--repeat N] [--keep 1]\n");
            return 2;
        }
    }
    if (n_events < kMailingSize || repeat < 10) {
        std::fprintf(stderr, "api_bench: --events must be at least %lld and --repeat at least 10\n",
                     static_cast<long long>(kMailingSize));
        return 2;
    }
    char tmpl[] = "/tmp/rebound-bench-apiread-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const int port = 57100 + ::getpid() % 400;
    const std::string pg =
        std::string(REBOUND_SOURCE_DIR) + "/tools/pg-local --dir " + dir + "/pg --port " + std::to_string(port);
    g_cleanup = pg + " stop >/dev/null 2>&1; rm -rf " + dir;
    std::atexit(Cleanup);
    if (std::system((pg + " start").c_str()) != 0) return 1;
    const std::string url = "host=" + dir + "/pg port=" + std::to_string(port) + " user=postgres dbname=rebound";
    int rc = 0;
    {
        auto conn = storage::Connect(url);
        auto migrations = storage::BuiltinMigrations();
        if (!conn.ok() || !migrations.ok() || !storage::Migrate(**conn, *migrations).ok()) {
            std::fprintf(stderr, "database setup failed\n");
            return 1;
        }
        Raw raw(url);
        std::vector<std::int64_t> accounts;
        for (int a = 0; a < kAccounts; ++a) {
            accounts.push_back(std::strtoll(
                raw.Column("INSERT INTO accounts (name) VALUES ('bench" + std::to_string(a) + "') RETURNING id")[0]
                    .c_str(),
                nullptr, 10));
        }
        raw.Exec("SELECT rebound_ensure_monthly_partitions('bounce_events', now() - interval '70 days', 4)");

        // Load with the secondary indexes dropped, then build them again from their own
        // definitions: what a bulk import does, and much faster than maintaining them per row.
        const auto l0 = Clock::now();
        const std::vector<std::string> index_defs = raw.Column(
            "SELECT replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'bounce_events'::regclass "
            "AND NOT i.indisprimary");
        const std::vector<std::string> index_names = raw.Column(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'bounce_events'::regclass AND NOT i.indisprimary");
        for (const auto& name : index_names)
            raw.Exec("DROP INDEX " + name);
        LoadEvents(raw, n_events, accounts);
        const auto l1 = Clock::now();
        raw.Exec("SET maintenance_work_mem = '512MB'");
        for (const auto& def : index_defs)
            raw.Exec(def);
        const auto l2 = Clock::now();
        std::int64_t k = 0;
        raw.CopyIn("COPY suppressions (account_id, address, recipient_id, cause, reason) FROM STDIN",
                   [&](std::string* chunk) {
                       if (k >= n_suppressions) return false;
                       while (k < n_suppressions && chunk->size() < (1u << 21)) {
                           StrAppend(chunk, accounts[0], "\ts", k, "@", kDomains[k % std::size(kDomains)], "\t", k,
                                     "\thard_bounce\tuserunknown\n");
                           ++k;
                       }
                       return true;
                   });
        raw.Exec("VACUUM ANALYZE bounce_events");
        raw.Exec("VACUUM ANALYZE suppressions");
        const auto l3 = Clock::now();
        const std::string size = raw.Column(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) || ' in ' || count(*) || "
            "' partitions' FROM pg_inherits WHERE inhparent = 'bounce_events'::regclass")[0];
        std::printf(
            "loaded %lld events by COPY in %.1f s (%.0f rows/s), indexes built in %.1f s, %lld suppressions "
            "+ VACUUM ANALYZE in %.1f s; bounce_events %s\n",
            static_cast<long long>(n_events), Ms(l1 - l0) / 1000, static_cast<double>(n_events) / (Ms(l1 - l0) / 1000),
            Ms(l2 - l1) / 1000, static_cast<long long>(n_suppressions), Ms(l3 - l2) / 1000, size.c_str());

        storage::Pool pool(url, 8);
        auto codec = envelope::Codec::Create(kMasterKey, "", 60);
        config::GrpcConfig cfg;
        cfg.listen = "127.0.0.1:0";
        cfg.admin_key = kAdminKey;
        auto server = api::ApiServer::Start(cfg, {&pool, &*codec, 1});
        if (!server.ok()) {
            std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
            return 1;
        }
        auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
        auto account_stub = v1::AccountService::NewStub(channel);
        auto bounce = v1::BounceService::NewStub(channel);
        auto suppression = v1::SuppressionService::NewStub(channel);
        std::string api_key;
        {
            grpc::ClientContext ctx;
            ctx.AddMetadata("authorization", "Bearer " + kAdminKey);
            v1::CreateApiKeyRequest req;
            req.set_account_id(static_cast<std::uint64_t>(accounts[0]));
            v1::CreateApiKeyResponse resp;
            if (!account_stub->CreateApiKey(&ctx, req, &resp).ok()) return 1;
            api_key = resp.api_key();
        }
        const std::string account = std::to_string(accounts[0]);
        const std::string probe_address = raw.Column(
            "SELECT recipient FROM bounce_events WHERE account_id = " + account + " AND mailing_id = 0 LIMIT 1")[0];
        auto authed = [&](grpc::ClientContext& ctx) { ctx.AddMetadata("authorization", "Bearer " + api_key); };

        // GetMailingStats: mailing 0 has kMailingSize events.
        {
            v1::GetMailingStatsRequest req;
            req.add_mailing_ids(0);
            std::uint64_t events = 0;
            const Latency api = Measure(repeat, [&] {
                grpc::ClientContext ctx;
                authed(ctx);
                v1::GetMailingStatsResponse resp;
                const bool ok = bounce->GetMailingStats(&ctx, req, &resp).ok();
                if (ok) events = resp.mailings(0).events();
                return ok;
            });
            // Reference: the service's two queries over the rollups, sent alone.
            const Latency sql = Measure(repeat, [&] {
                return raw.Query(
                           "SELECT mailing_id, disposition, reason, bounce_class, sum(events)::bigint FROM "
                           "mailing_event_counts WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[]) "
                           "GROUP BY 1, 2, 3, 4 HAVING sum(events) <> 0",
                           {account, "{0}"}) &&
                       raw.Query(
                           "SELECT mailing_id, sum(bounced)::bigint, sum(complained)::bigint FROM "
                           "mailing_recipient_counts WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[]) "
                           "GROUP BY 1",
                           {account, "{0}"});
            });
            // For comparison: the same figures aggregated from the events themselves.
            const Latency scan = Measure(std::max(10, repeat / 10), [&] {
                return raw.Query(
                           "SELECT mailing_id, disposition, reason, bounce_class, count(*) FROM bounce_events "
                           "WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[]) GROUP BY 1, 2, 3, 4",
                           {account, "{0}"}) &&
                       raw.Query(
                           "SELECT mailing_id, count(DISTINCT recipient_id) FILTER (WHERE disposition IN "
                           "('hard', 'soft', 'block')), count(DISTINCT recipient_id) FILTER (WHERE disposition "
                           "= 'complaint') FROM bounce_events WHERE account_id = $1 AND mailing_id = ANY "
                           "($2::bigint[]) GROUP BY 1",
                           {account, "{0}"});
            });
            std::printf("(aggregating the mailing's events instead of the rollups: p50 %.2f  p99 %.2f ms)\n",
                        scan.Percentile(50), scan.Percentile(99));
            Row(StrCat("GetMailingStats, 1 mailing of ", events, " events").c_str(), api, sql, 50);
        }

        // ListEvents: first pages and deep pages through a mailing, with and without filters.
        struct ListCase {
            const char* name;
            std::function<void(v1::ListEventsRequest&)> fill;
            std::string sql_where;
            std::vector<std::string> sql_params;
        };
        const std::vector<ListCase> cases = {
            {"ListEvents, newest 100 of the account", [](v1::ListEventsRequest& r) { r.set_page_size(100); }, "", {}},
            {"ListEvents, newest 1000 of the account", [](v1::ListEventsRequest& r) { r.set_page_size(1000); }, "", {}},
            {"ListEvents, mailing, 1000 per page",
             [](v1::ListEventsRequest& r) {
                 r.mutable_mailing_id()->set_value(0);
                 r.set_page_size(1000);
             },
             " AND mailing_id = $2",
             {"0"}},
            {"ListEvents, mailing + disposition, 1000",
             [](v1::ListEventsRequest& r) {
                 r.mutable_mailing_id()->set_value(0);
                 r.set_disposition("soft");
                 r.set_page_size(1000);
             },
             " AND mailing_id = $2 AND disposition = $3",
             {"0", "soft"}},
            {"ListEvents, one address",
             [&](v1::ListEventsRequest& r) { r.set_address(probe_address); },
             " AND lower(recipient) = $2",
             {probe_address}},
            {"ListEvents, reason over 7 days, 100",
             [](v1::ListEventsRequest& r) {
                 const auto now = std::chrono::system_clock::now();
                 r.mutable_since()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                                    (now - std::chrono::hours(24 * 30)).time_since_epoch())
                                                    .count());
                 r.mutable_until()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                                    (now - std::chrono::hours(24 * 23)).time_since_epoch())
                                                    .count());
                 r.set_reason("mailboxfull");
             },
             " AND reason = $2 AND received_at >= now() - interval '30 days' AND received_at < now() - interval '23 "
             "days'",
             {"mailboxfull"}},
        };
        for (const ListCase& c : cases) {
            v1::ListEventsRequest req;
            c.fill(req);
            int got = 0;
            const Latency api = Measure(repeat, [&] {
                grpc::ClientContext ctx;
                authed(ctx);
                v1::ListEventsResponse resp;
                const bool ok = bounce->ListEvents(&ctx, req, &resp).ok();
                got = resp.events_size();
                return ok;
            });
            std::vector<std::string> params = {account};
            params.insert(params.end(), c.sql_params.begin(), c.sql_params.end());
            const std::string limit = std::to_string(req.page_size() == 0 ? 100 : req.page_size());
            const Latency sql = Measure(repeat, [&] {
                return raw.Query("SELECT * FROM bounce_events WHERE account_id = $1" + c.sql_where +
                                     " ORDER BY received_at DESC, id DESC LIMIT " + limit,
                                 params);
            });
            Row(StrCat(c.name, " (", got, ")").c_str(), api, sql, 20);
        }
        // Walking a mailing page by page with page tokens: each page measured.
        {
            v1::ListEventsRequest req;
            req.mutable_mailing_id()->set_value(0);
            req.set_page_size(1000);
            Latency api;
            std::int64_t total = 0;
            while (true) {
                grpc::ClientContext ctx;
                authed(ctx);
                v1::ListEventsResponse resp;
                const auto t0 = Clock::now();
                if (!bounce->ListEvents(&ctx, req, &resp).ok()) return 1;
                api.ms.push_back(Ms(Clock::now() - t0));
                total += resp.events_size();
                if (resp.next_page_token().empty()) break;
                req.set_page_token(resp.next_page_token());
            }
            std::printf("%-44s p50 %7.2f  p99 %7.2f ms over %zu pages, %lld events | goal p99 < 20 ms: %s\n",
                        "ListEvents, whole mailing by page tokens", api.Percentile(50), api.Percentile(99),
                        api.ms.size(), static_cast<long long>(total), api.Percentile(99) < 20 ? "met" : "NOT met");
        }

        // CheckSuppressions: a mailing list of n_check addresses (1 in 10 suppressed) in
        // batches of 10,000 (the per-call limit), on 1 and 4 concurrent streams of calls.
        // Recipient j of the list: every tenth is on the suppression list, the others are not;
        // the suppressed ones are asked in upper case (the check is case-insensitive).
        auto check_id = [&](std::int64_t j) { return j % 10 == 0 ? (j * 7919) % n_suppressions : n_suppressions + j; };
        auto check_address = [&](std::int64_t j, bool upper) {
            const std::int64_t id = check_id(j);
            return StrCat(j % 10 == 0 ? (upper ? "S" : "s") : "n", id, "@",
                          kDomains[id % static_cast<std::int64_t>(std::size(kDomains))]);
        };
        auto check_rate = [&](bool by_id, int threads) {
            const std::int64_t per_call = 10'000;
            std::atomic<std::int64_t> next{0};
            std::atomic<std::int64_t> suppressed{0};
            std::atomic<bool> failed{false};
            const auto t0 = Clock::now();
            std::vector<std::thread> pool_threads;
            for (int t = 0; t < threads; ++t) {
                pool_threads.emplace_back([&] {
                    while (true) {
                        const std::int64_t first = next.fetch_add(per_call);
                        if (first >= n_check) break;
                        v1::CheckSuppressionsRequest req;
                        for (std::int64_t j = first; j < std::min(first + per_call, n_check); ++j) {
                            if (by_id) {
                                req.add_recipient_ids(static_cast<std::uint64_t>(check_id(j)));
                            } else {
                                req.add_addresses(check_address(j, /*upper=*/true));
                            }
                        }
                        grpc::ClientContext ctx;
                        authed(ctx);
                        v1::CheckSuppressionsResponse resp;
                        if (!suppression->CheckSuppressions(&ctx, req, &resp).ok()) failed = true;
                        suppressed += resp.suppressed_addresses_size() + resp.suppressed_recipient_ids_size();
                    }
                });
            }
            for (auto& t : pool_threads)
                t.join();
            const double s = Ms(Clock::now() - t0) / 1000;
            if (failed) std::exit(1);
            return std::pair<double, std::int64_t>{static_cast<double>(n_check) / s, suppressed.load()};
        };
        auto check_sql_rate = [&](bool by_id) {
            const std::int64_t per_call = 10'000;
            const auto t0 = Clock::now();
            for (std::int64_t first = 0; first < n_check; first += per_call) {
                std::string list = by_id ? "{" : "";
                for (std::int64_t j = first; j < std::min(first + per_call, n_check); ++j) {
                    if (by_id) {
                        StrAppend(&list, j == first ? "" : ",", check_id(j));
                    } else {
                        StrAppend(&list, j == first ? "" : "\n", check_address(j, /*upper=*/false));
                    }
                }
                if (by_id) list += "}";
                const bool ok = by_id ? raw.Query(
                                            "SELECT DISTINCT recipient_id FROM suppressions WHERE account_id = $1 AND "
                                            "recipient_id = ANY ($2::bigint[])",
                                            {account, list})
                                      : raw.Query(
                                            "SELECT address FROM suppressions WHERE account_id = $1 AND address = ANY "
                                            "(string_to_array($2, E'\\n'))",
                                            {account, list});
                if (!ok) std::exit(1);
            }
            return static_cast<double>(n_check) / (Ms(Clock::now() - t0) / 1000);
        };
        for (bool by_id : {false, true}) {
            check_sql_rate(by_id);  // warm the suppression index into the cache first
            const double sql = check_sql_rate(by_id);
            for (int threads : {1, 4}) {
                const auto [rate, found] = check_rate(by_id, threads);
                std::printf(
                    "CheckSuppressions by %-7s %d stream%s %10.0f /s (%lld of %lld suppressed) | SQL alone, "
                    "1 connection %10.0f /s | ratio %4.2f | goal >= 200,000/s: %s\n",
                    by_id ? "id," : "address,", threads, threads == 1 ? ", " : "s,", rate,
                    static_cast<long long>(found), static_cast<long long>(n_check), sql, rate / sql,
                    rate >= 200000 ? "met" : "NOT met");
                if (found != n_check / 10) rc = 1;
            }
        }
        (*server)->Shutdown(std::chrono::seconds(1));
    }
    if (keep) {
        g_cleanup.clear();
        std::printf("cluster kept: psql \"%s\"; stop with: %s stop\n", url.c_str(), pg.c_str());
    }
    return rc;
}
