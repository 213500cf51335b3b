#include "services/ingest/ingest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iterator>

#include "services/bounce/parser.h"
#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/common/thread_name.h"
#include "services/envelope/day.h"
#include "storage/database.h"
#include "storage/event_store.h"

namespace rebound::ingest {
namespace {

// Whole microseconds from `from` to `to`; 0 if the clock reads them the other way round.
std::uint64_t MicrosBetween(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
    return to > from
               ? static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(to - from).count())
               : 0;
}

// Cap on events written for one message (records x attributed recipients).
constexpr std::size_t kMaxEventsPerMessage = 1000;

// Messages up to this size are parsed by the thread that delivers them (an SMTP event loop,
// one per core), so parsing runs on every core and the writers only talk to PostgreSQL; a
// larger one is parsed by a writer rather than hold up the other sessions of its loop.
constexpr std::size_t kInlineParseBytes = 256 * 1024;

// A batch's raw messages travel as one bytea parameter (at most 1 GB in PostgreSQL): once a
// batch holds this many bytes, the rest wait for the next one.
constexpr std::size_t kMaxBatchBytes = 32 * 1024 * 1024;

// How often, at most, the flusher moves the event feed's durability horizon (a row update)
// with its flush. A feed reader that finds an event held back by it moves it itself.
constexpr auto kHorizonInterval = std::chrono::milliseconds(20);

// Opens `conn` for ingest unless it is open already (it is reset after a connection failure).
absl::Status EnsureOpen(std::unique_ptr<pqxx::connection>& conn, const std::string& url, bool synchronous) {
    if (conn != nullptr && conn->is_open()) return absl::OkStatus();
    auto fresh = storage::ConnectForIngest(url, synchronous);
    if (!fresh.ok()) return fresh.status();
    conn = std::move(*fresh);
    return absl::OkStatus();
}

bool IsRoleMailbox(std::string_view local) {
    return EqualsIgnoreCase(local, "postmaster") || EqualsIgnoreCase(local, "abuse");
}

smtp::Reply Make(int code, std::string enhanced, std::string text) {
    return smtp::Reply{code, std::move(enhanced), std::move(text)};
}

// The identity of a delivery for deduplication: the same envelope and the same bytes.
std::array<unsigned char, 32> Digest(const smtp::Envelope& envelope, std::string_view message) {
    std::vector<std::string> rcpts;
    for (const auto& r : envelope.recipients)
        rcpts.push_back(AsciiLower(r));
    std::sort(rcpts.begin(), rcpts.end());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, envelope.mail_from.data(), envelope.mail_from.size());
    EVP_DigestUpdate(ctx, "\0", 1);
    for (const auto& r : rcpts) {
        EVP_DigestUpdate(ctx, r.data(), r.size());
        EVP_DigestUpdate(ctx, "\n", 1);
    }
    EVP_DigestUpdate(ctx, "\0", 1);
    EVP_DigestUpdate(ctx, message.data(), message.size());
    std::array<unsigned char, 32> out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, out.data(), &len);
    EVP_MD_CTX_free(ctx);
    return out;
}

// Who an event is about: an envelope token (mailing + recipient) or, for postmaster@/abuse@
// and mangled addresses, just the account of the feedback domain.
struct Target {
    const DomainEntry* domain = nullptr;
    std::string address;
    std::optional<envelope::Decoded> token;
};

std::optional<Target> TokenTarget(std::string_view address, const DomainSnapshot& domains, const envelope::Codec& codec,
                                  std::uint32_t today) {
    std::string_view local;
    std::string_view domain;
    if (!envelope::SplitAddress(address, &local, &domain)) return std::nullopt;
    const DomainEntry* entry = domains.Find(domain);
    if (entry == nullptr || IsRoleMailbox(local)) return std::nullopt;
    envelope::Decoded decoded = codec.DecodeLocalPart(local, entry->keys, today);
    if (!envelope::IsAttributed(decoded.status)) return std::nullopt;
    return Target{entry, AsciiLower(address), decoded};
}

}  // namespace

storage::MessageRow BuildMessageRow(const smtp::SessionInfo& session, const smtp::Envelope& envelope,
                                    std::string message, const DomainSnapshot& domains, const envelope::Codec& codec,
                                    std::uint32_t today) {
    storage::MessageRow row;
    row.digest = Digest(envelope, message);
    row.mail_from = SanitizeUtf8(envelope.mail_from, 512);
    for (const auto& r : envelope.recipients)
        row.rcpt_to.push_back(SanitizeUtf8(r, 512));
    row.client_address = session.client_address;
    row.helo = SanitizeUtf8(session.helo, 255);
    row.rules_version = std::string(bounce::RulesVersion());

    absl::StatusOr<bounce::Report> report = bounce::Parse(message);
    if (!report.ok()) {
        row.parse_state = "unparsed";
        row.parse_error = SanitizeUtf8(std::string(report.status().ToString()), 1000);
        row.content = std::move(message);
        return row;
    }
    row.parse_state = report->records.empty() ? "empty" : "parsed";

    // Token-attributed recipients first; else a token in the attached original's headers;
    // else the accounts of the role mailboxes (postmaster@, abuse@) the message came to.
    std::vector<Target> targets;
    for (const auto& rcpt : envelope.recipients) {
        if (auto t = TokenTarget(rcpt, domains, codec, today)) targets.push_back(std::move(*t));
    }
    if (targets.empty() && report->original) {
        for (const auto& candidate : report->original->candidate_addresses) {
            if (auto t = TokenTarget(candidate, domains, codec, today)) {
                targets.push_back(std::move(*t));
                break;
            }
        }
    }
    if (targets.empty()) {
        for (const auto& rcpt : envelope.recipients) {
            std::string_view local;
            std::string_view domain;
            if (!envelope::SplitAddress(rcpt, &local, &domain)) continue;
            const DomainEntry* entry = domains.Find(domain);
            if (entry == nullptr) continue;
            const bool seen = std::any_of(targets.begin(), targets.end(),
                                          [&](const Target& t) { return t.domain->account_id == entry->account_id; });
            if (!seen) targets.push_back(Target{entry, AsciiLower(rcpt), std::nullopt});
        }
    }

    const std::string original_id = report->original ? report->original->message_id : "";
    for (const bounce::Record& rec : report->records) {
        for (const Target& t : targets) {
            if (row.events.size() >= kMaxEventsPerMessage) break;
            storage::EventRow e;
            e.account_id = t.domain->account_id;
            e.sender_domain_id = t.domain->sender_domain_id;
            e.envelope_address = SanitizeUtf8(t.address, 320);
            if (t.token) {
                e.mailing_id = t.token->token.mailing_id;
                e.recipient_id = t.token->token.recipient_id;
                e.token_stale = t.token->status == envelope::TokenStatus::kStale;
                e.token_issued_on = envelope::FormatDay(t.token->token.issued_day);
            }
            e.recipient = SanitizeUtf8(AsciiLower(rec.recipient), 320);
            const std::size_t at = e.recipient.rfind('@');
            e.recipient_domain = at == std::string::npos ? "" : e.recipient.substr(at + 1);
            e.kind = rec.kind.empty() ? "unknown" : rec.kind;
            e.status = SanitizeUtf8(rec.status, 32);
            int code = 0;
            if (ParseInt(rec.reply_code, &code) && code >= 200 && code <= 599) e.reply_code = code;
            e.reason = rec.reason.empty() ? "undefined" : rec.reason;
            e.hard_bounce = rec.hard_bounce;
            e.bounce_class = rec.bounce_class;
            e.disposition = rec.disposition.empty() ? "undetermined" : rec.disposition;
            e.feedback_type = SanitizeUtf8(rec.feedback_type, 64);
            e.diagnostic = SanitizeUtf8(rec.diagnostic, 1000);
            e.remote_mta = SanitizeUtf8(rec.remote_mta, 255);
            e.reporting_mta = SanitizeUtf8(rec.reporting_mta.empty() ? report->reporting_mta : rec.reporting_mta, 255);
            e.original_message_id = SanitizeUtf8(original_id, 998);
            e.rule_id = SanitizeUtf8(rec.rule_id, 128);
            e.rules_version = row.rules_version;
            row.events.push_back(std::move(e));
        }
    }
    row.content = std::move(message);
    return row;
}

Ingest::Ingest(const config::IngestConfig& config, std::string db_url, DomainDirectory* domains,
               const envelope::Codec* codec)
    : config_(config), db_url_(std::move(db_url)), domains_(domains), codec_(codec) {}

Ingest::~Ingest() {
    Stop();
}

void Ingest::Start() {
    if (config_.pipelined_flush) {
        flusher_ = std::thread([this] { FlusherLoop(); });
        common::NameThread(flusher_, "ingest-flush");
    }
    for (int i = 0; i < config_.writers; ++i) {
        writers_.emplace_back([this] { WriterLoop(); });
        common::NameThread(writers_.back(), "ingest-writer");
    }
}

void Ingest::Stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && writers_.empty() && !flusher_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : writers_)
        t.join();
    writers_.clear();
    // The writers are done: what they committed is confirmed (or refused) before the flusher ends.
    {
        std::lock_guard lock(flush_mu_);
        flusher_stopping_ = true;
    }
    flush_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
}

smtp::Reply Ingest::CheckRecipient(const smtp::SessionInfo& /*session*/, const std::string& address) {
    std::shared_ptr<const DomainSnapshot> snapshot = domains_->Snapshot();
    if (snapshot == nullptr) {
        counters_.rcpt_no_directory.fetch_add(1, std::memory_order_relaxed);
        return Make(451, "4.3.0", "Recipient directory not loaded yet, try again later");
    }
    if (EqualsIgnoreCase(address, "postmaster")) {
        counters_.rcpt_accepted.fetch_add(1, std::memory_order_relaxed);
        return Make(250, "2.1.5", "Recipient ok");
    }
    std::string_view local;
    std::string_view domain;
    if (!envelope::SplitAddress(address, &local, &domain)) {
        return Make(501, "5.1.3", "Bad recipient address syntax");
    }
    const DomainEntry* entry = snapshot->Find(domain);
    if (entry == nullptr) {
        counters_.rcpt_relay_denied.fetch_add(1, std::memory_order_relaxed);
        return Make(550, "5.7.1", "Relaying denied: not a feedback domain served here");
    }
    if (IsRoleMailbox(local)) {
        counters_.rcpt_accepted.fetch_add(1, std::memory_order_relaxed);
        return Make(250, "2.1.5", "Recipient ok");
    }
    const envelope::Decoded decoded = codec_->DecodeLocalPart(local, entry->keys, envelope::Today());
    if (!envelope::IsAttributed(decoded.status)) {
        counters_.rcpt_unknown_token.fetch_add(1, std::memory_order_relaxed);
        return Make(550, "5.1.1", "No such envelope address");
    }
    counters_.rcpt_accepted.fetch_add(1, std::memory_order_relaxed);
    return Make(250, "2.1.5", "Recipient ok");
}

void Ingest::Deliver(const smtp::SessionInfo& session, smtp::Envelope envelope, std::string message,
                     std::function<void(smtp::Reply)> done) {
    std::optional<storage::MessageRow> row;
    if (message.size() <= kInlineParseBytes) {
        std::shared_ptr<const DomainSnapshot> snapshot = domains_->Snapshot();
        const DomainSnapshot empty_snapshot({});
        row = BuildMessageRow(session, envelope, std::move(message), snapshot != nullptr ? *snapshot : empty_snapshot,
                              *codec_, envelope::Today());
    }
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            done(Make(421, "4.3.2", "Service shutting down, try again later"));
            return;
        }
        if (queue_.size() >= static_cast<std::size_t>(config_.max_queue)) {
            counters_.queue_full.fetch_add(1, std::memory_order_relaxed);
            log::Warn("ingest.queue_full").Kv("session", session.session_id);
            done(Make(451, "4.3.2", "Too busy to store the message now, try again later"));
            return;
        }
        queue_.push_back(Job{session, std::move(envelope), std::move(message), std::move(row), std::move(done),
                             std::chrono::steady_clock::now()});
    }
    cv_.notify_one();
}

void Ingest::WriterLoop() {
    std::unique_ptr<pqxx::connection> conn;
    while (true) {
        std::vector<Job> jobs;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) break;  // stopping, nothing left
            // Up to max_batch messages and kMaxBatchBytes of them (at least one message).
            const std::size_t n = std::min(queue_.size(), static_cast<std::size_t>(config_.max_batch));
            std::size_t bytes = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const Job& next = queue_.front();
                const std::size_t size = next.row ? next.row->content.size() : next.message.size();
                if (i > 0 && bytes + size > kMaxBatchBytes) break;
                bytes += size;
                jobs.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        WriteBatch(jobs, conn);
    }
}

void Ingest::Acknowledge(const Committed& c) {
    counters_.confirm_us.fetch_add(MicrosBetween(c.committed_at, std::chrono::steady_clock::now()),
                                   std::memory_order_relaxed);
    log::Info("ingest.stored")
        .Kv("session", c.job.session.session_id)
        .Kv("raw_id", c.stored.raw_message_id)
        .Kv("events", c.stored.events)
        .Kv("parse", c.parse_state)
        .Kv("duplicate", c.stored.duplicate);
    c.job.done(Make(250, "2.0.0", StrCat("Ok: stored as ", c.stored.raw_message_id)));
}

void Ingest::Refuse(const Job& job, const absl::Status& status, const char* stage) {
    counters_.storage_failures.fetch_add(1, std::memory_order_relaxed);
    log::Error("ingest.failed")
        .Kv("session", job.session.session_id)
        .Kv("stage", stage)
        .Kv("error", std::string(status.message()));
    job.done(Make(451, "4.3.0", "Temporary storage failure, try again later"));
}

void Ingest::FlusherLoop() {
    std::unique_ptr<pqxx::connection> conn;
    std::chrono::steady_clock::time_point horizon_moved{};
    while (true) {
        std::vector<Committed> batch;
        {
            std::unique_lock lock(flush_mu_);
            flush_cv_.wait(lock, [this] { return flusher_stopping_ || !committed_.empty(); });
            if (committed_.empty()) break;  // stopping, nothing left
            batch.swap(committed_);
        }
        // Every batch here returned from its COMMIT before this transaction starts, so its
        // commit record is before this one's in the WAL, and this flush covers it.
        absl::Status status = EnsureOpen(conn, db_url_, /*synchronous=*/true);
        if (status.ok()) {
            // The feed's durability horizon moves with a flush now and then; the other flushes
            // are a bare transaction id, which costs PostgreSQL much less than the row update.
            const auto now = std::chrono::steady_clock::now();
            const bool move_horizon = now - horizon_moved >= kHorizonInterval;
            absl::StatusOr<std::string> horizon =
                move_horizon ? storage::AdvanceFlushHorizon(*conn, /*session_synchronous=*/true)
                             : storage::ConfirmFlush(*conn);
            if (horizon.ok() && move_horizon) horizon_moved = now;
            if (!horizon.ok()) {
                status = horizon.status();
                conn.reset();
            }
        }
        if (status.ok()) counters_.flushes.fetch_add(1, std::memory_order_relaxed);
        for (const Committed& c : batch) {
            if (status.ok()) {
                Acknowledge(c);
            } else {
                counters_.unconfirmed.fetch_add(1, std::memory_order_relaxed);
                Refuse(c.job, status, "flush");
            }
        }
    }
}

void Ingest::WriteBatch(std::vector<Job>& jobs, std::unique_ptr<pqxx::connection>& conn) {
    const auto started = std::chrono::steady_clock::now();
    std::shared_ptr<const DomainSnapshot> snapshot = domains_->Snapshot();
    const DomainSnapshot empty_snapshot({});
    const DomainSnapshot& domains = snapshot != nullptr ? *snapshot : empty_snapshot;
    const std::uint32_t today = envelope::Today();
    std::vector<storage::MessageRow> rows;
    rows.reserve(jobs.size());
    for (Job& job : jobs) {
        rows.push_back(
            job.row ? std::move(*job.row)
                    : BuildMessageRow(job.session, job.envelope, std::move(job.message), domains, *codec_, today));
    }

    auto store =
        [&](const std::vector<storage::MessageRow>& batch) -> absl::StatusOr<std::vector<storage::StoredMessage>> {
        if (absl::Status s = EnsureOpen(conn, db_url_, /*synchronous=*/!config_.pipelined_flush); !s.ok()) return s;
        auto result = storage::StoreMessages(*conn, batch);
        if (!result.ok() && result.status().code() == absl::StatusCode::kUnavailable) conn.reset();
        return result;
    };
    // Committed: answered now, or once the flusher has confirmed the flush.
    std::vector<Committed> committed;
    // `committed_at`: when its commit returned (once for a whole batch).
    auto finish = [&](std::size_t i, const storage::StoredMessage& stored,
                      std::chrono::steady_clock::time_point committed_at) {
        if (stored.duplicate) {
            counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
        } else {
            counters_.stored.fetch_add(1, std::memory_order_relaxed);
            counters_.events.fetch_add(static_cast<std::uint64_t>(stored.events), std::memory_order_relaxed);
            if (rows[i].parse_state == "unparsed") counters_.unparsed.fetch_add(1, std::memory_order_relaxed);
        }
        counters_.wait_us.fetch_add(MicrosBetween(jobs[i].queued_at, started), std::memory_order_relaxed);
        counters_.execute_us.fetch_add(MicrosBetween(started, committed_at), std::memory_order_relaxed);
        committed.push_back(Committed{std::move(jobs[i]), stored, rows[i].parse_state, committed_at});
    };
    auto fail = [&](std::size_t i, const absl::Status& status) { Refuse(jobs[i], status, "commit"); };
    auto hand_over = [&] {
        if (committed.empty()) return;
        if (!config_.pipelined_flush) {
            for (const Committed& c : committed)
                Acknowledge(c);
            return;
        }
        {
            std::lock_guard lock(flush_mu_);
            committed_.insert(committed_.end(), std::make_move_iterator(committed.begin()),
                              std::make_move_iterator(committed.end()));
        }
        flush_cv_.notify_one();
    };

    counters_.batches.fetch_add(1, std::memory_order_relaxed);
    auto result = store(rows);
    if (result.ok()) {
        const auto committed_at = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < rows.size(); ++i)
            finish(i, (*result)[i], committed_at);
        hand_over();
        return;
    }
    if (result.status().code() == absl::StatusCode::kUnavailable) {
        for (std::size_t i = 0; i < rows.size(); ++i)
            fail(i, result.status());
        return;
    }
    // Something in the batch was refused by the database: store the messages one by one so
    // one bad message cannot hold back the others, and keep a refused one at least raw.
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto single = rows.size() == 1 ? result : store({rows[i]});
        if (!single.ok() && single.status().code() != absl::StatusCode::kUnavailable) {
            log::Error("ingest.events_refused")
                .Kv("session", jobs[i].session.session_id)
                .Kv("error", std::string(single.status().message()));
            storage::MessageRow raw_only = rows[i];
            raw_only.events.clear();
            raw_only.parse_state = "unparsed";
            raw_only.parse_error = SanitizeUtf8(StrCat("storing events failed: ", single.status().message()), 1000);
            single = store({raw_only});
            if (single.ok()) rows[i].parse_state = "unparsed";
        }
        if (single.ok()) {
            finish(i, (*single)[0], std::chrono::steady_clock::now());
        } else {
            fail(i, single.status());
        }
    }
    hand_over();
}

}  // namespace rebound::ingest
