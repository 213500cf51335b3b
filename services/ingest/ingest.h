#pragma once
// The ingest layer: what the SMTP server hands mail to. It decides recipients (registered
// feedback domain + verified envelope token, or postmaster@/abuse@), and stores each
// accepted message with its parsed bounce events durably before the 250: messages of
// concurrent sessions are grouped into one transaction (group commit) by writer threads.
// With pipelined_flush (the default) a writer commits without waiting for the WAL flush and
// goes on with the next batch, while a flusher thread commits one synchronous transaction at a
// time: its flush covers every batch committed before it, and only then do those get 250.
// Each of these threads waits on its own connection. One thread driving both connections with
// libpq's non-blocking calls was measured (issue 5, 2026-11-22): reboundd used about 7% less
// CPU per message, but it was no faster at 10 sessions: 7.8k against 8.1k/s for smtp-source's
// messages and 6.0k against 6.6k/s for DSNs (means of 7 alternating runs each).
//
// Guarantees: a message gets 250 only after its transaction committed and the commit was
// flushed to disk; on any storage failure it gets 451 4.3.0 and nothing of it remains, or all
// of it (when the commit went through but the flush could not be confirmed: the sender's retry
// is then a duplicate). A message the parser cannot handle is stored raw and marked unparsed.
// A message delivered again with the same envelope and content (a retry after a lost reply) is
// stored once.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "services/config/config.h"
#include "services/envelope/codec.h"
#include "services/ingest/domain_directory.h"
#include "services/smtp/delegate.h"
#include "storage/message_store.h"

namespace rebound::ingest {

struct IngestCounters {
    std::atomic<std::uint64_t> stored{0};  // committed (pipelined: 250 once the flush confirms it)
    std::atomic<std::uint64_t> duplicates{0};
    std::atomic<std::uint64_t> unparsed{0};
    std::atomic<std::uint64_t> events{0};
    std::atomic<std::uint64_t> batches{0};
    std::atomic<std::uint64_t> storage_failures{0};  // messages answered 451 4.3.0
    std::atomic<std::uint64_t> flushes{0};           // synchronous commits that confirmed batches
    std::atomic<std::uint64_t> unconfirmed{0};       // committed, but the flush failed: 451
    std::atomic<std::uint64_t> queue_full{0};
    std::atomic<std::uint64_t> rcpt_accepted{0};
    std::atomic<std::uint64_t> rcpt_unknown_token{0};
    std::atomic<std::uint64_t> rcpt_relay_denied{0};
    std::atomic<std::uint64_t> rcpt_no_directory{0};
    // Where a stored message's time went, summed over stored messages and duplicates (divide by
    // stored + duplicates for the mean): queued before its batch started, in its batch (building
    // the rows and the statement, up to the commit), and from the commit to its 250 (the wait for
    // the flusher when ingest.pipelined_flush is on; next to nothing when it is off).
    std::atomic<std::uint64_t> wait_us{0};
    std::atomic<std::uint64_t> execute_us{0};
    std::atomic<std::uint64_t> confirm_us{0};

    // Calls f(name, value) for every counter, in declaration order.
    template <typename F>
    void Visit(F&& f) const {
#define REBOUND_INGEST_COUNTER(name) f(#name, name.load(std::memory_order_relaxed))
        REBOUND_INGEST_COUNTER(stored);
        REBOUND_INGEST_COUNTER(duplicates);
        REBOUND_INGEST_COUNTER(unparsed);
        REBOUND_INGEST_COUNTER(events);
        REBOUND_INGEST_COUNTER(batches);
        REBOUND_INGEST_COUNTER(storage_failures);
        REBOUND_INGEST_COUNTER(flushes);
        REBOUND_INGEST_COUNTER(unconfirmed);
        REBOUND_INGEST_COUNTER(queue_full);
        REBOUND_INGEST_COUNTER(rcpt_accepted);
        REBOUND_INGEST_COUNTER(rcpt_unknown_token);
        REBOUND_INGEST_COUNTER(rcpt_relay_denied);
        REBOUND_INGEST_COUNTER(rcpt_no_directory);
        REBOUND_INGEST_COUNTER(wait_us);
        REBOUND_INGEST_COUNTER(execute_us);
        REBOUND_INGEST_COUNTER(confirm_us);
#undef REBOUND_INGEST_COUNTER
    }
};

// Builds the rows to store for one message: parses it and attributes the records to the
// envelope recipients (or, failing that, to a token found in the attached original).
// Pure apart from the clock argument; exposed for tests.
storage::MessageRow BuildMessageRow(const smtp::SessionInfo& session, const smtp::Envelope& envelope,
                                    std::string message, const DomainSnapshot& domains, const envelope::Codec& codec,
                                    std::uint32_t today);

class Ingest final : public smtp::Delegate {
  public:
    // `domains` and `codec` must outlive this object.
    Ingest(const config::IngestConfig& config, std::string db_url, DomainDirectory* domains,
           const envelope::Codec* codec);
    ~Ingest() override;  // Stop()
    Ingest(const Ingest&) = delete;
    Ingest& operator=(const Ingest&) = delete;

    void Start();
    // Writes what is queued and confirms it, then stops the writers and the flusher.
    // Deliveries after Stop() get 421.
    void Stop();

    smtp::Reply CheckRecipient(const smtp::SessionInfo& session, const std::string& address) override;
    void Deliver(const smtp::SessionInfo& session, smtp::Envelope envelope, std::string message,
                 std::function<void(smtp::Reply)> done) override;

    const IngestCounters& counters() const { return counters_; }

  private:
    struct Job {
        smtp::SessionInfo session;
        smtp::Envelope envelope;
        std::string message;                     // moved into `row` once parsed
        std::optional<storage::MessageRow> row;  // parsed already (by Deliver's caller's thread)
        std::function<void(smtp::Reply)> done;
        std::chrono::steady_clock::time_point queued_at;
    };
    // A message committed by a writer, waiting for the flush that makes it durable.
    struct Committed {
        Job job;
        storage::StoredMessage stored;
        std::string parse_state;
        std::chrono::steady_clock::time_point committed_at;
    };
    void WriterLoop();
    void WriteBatch(std::vector<Job>& jobs, std::unique_ptr<pqxx::connection>& conn);
    void FlusherLoop();
    void Acknowledge(const Committed& c);
    void Refuse(const Job& job, const absl::Status& status, const char* stage);

    const config::IngestConfig config_;
    const std::string db_url_;
    DomainDirectory* domains_;
    const envelope::Codec* codec_;
    IngestCounters counters_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::vector<std::thread> writers_;

    // Between the writers and the flusher (pipelined_flush only).
    std::mutex flush_mu_;
    std::condition_variable flush_cv_;
    std::vector<Committed> committed_;
    bool flusher_stopping_ = false;
    std::thread flusher_;
};

}  // namespace rebound::ingest
