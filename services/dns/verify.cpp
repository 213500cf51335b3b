#include "services/dns/verify.h"

#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/common/thread_name.h"

namespace rebound::dns {
namespace {

constexpr int kBatch = 20;

}  // namespace

LookupFactory AresFactory(const config::DnsConfig& dns, const std::atomic<bool>* cancel) {
    ResolverOptions options;
    options.cancel = cancel;
    options.servers = dns.resolvers;
    options.timeout_ms = static_cast<int>(dns.timeout_ms);
    options.tries = static_cast<int>(dns.tries);
    return [options]() -> absl::StatusOr<std::unique_ptr<Lookup>> {
        auto lookup = AresLookup::Create(options);
        if (!lookup.ok()) return lookup.status();
        return std::unique_ptr<Lookup>(std::move(*lookup));
    };
}

absl::StatusOr<VerifyResult> VerifyAndRecord(storage::Pool& pool, const storage::SenderDomainRow& domain,
                                             const Expectation& expect, const Schedule& schedule,
                                             const LookupFactory& lookups, const std::atomic<bool>* cancel) {
    auto lookup = lookups();
    if (!lookup.ok()) return lookup.status();
    VerifyResult out;
    // No database connection is held during the lookups, which may take seconds.
    out.check = Check(**lookup, expect, domain.domain, domain.feedback_label);
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("check cancelled");
    storage::CheckRecord record{std::string(OutcomeName(out.check.outcome)), ToJson(out.check), out.check.Summary()};
    auto decide = [outcome = out.check.outcome, &schedule](const std::string& state, int failures) {
        const Transition t = NextState(state, failures, outcome, schedule);
        return storage::StateDecision{t.state, t.failures, t.next_check_seconds};
    };
    auto conn = pool.Acquire();
    if (!conn.ok()) return conn.status();
    auto row = storage::RecordCheck(**conn, domain.account_id, domain.id, record, decide);
    if (!row.ok()) return row.status();
    out.domain = std::move(*row);
    auto line = log::Info("domain.checked");
    line.Kv("domain_id", domain.id)
        .Kv("feedback_domain", domain.feedback_domain)
        .Kv("outcome", OutcomeName(out.check.outcome))
        .Kv("state", out.domain.state)
        .Kv("codes", out.check.Summary());
    if (out.domain.state != domain.state) line.Kv("previous_state", domain.state);
    return out;
}

Rechecker::Rechecker(storage::Pool* pool, const config::DnsConfig& dns)
    : pool_(pool),
      dns_(dns),
      expect_(ExpectationFromConfig(dns)),
      schedule_(ScheduleFromConfig(dns)),
      lookups_(AresFactory(dns, &cancel_)) {}

Rechecker::~Rechecker() {
    Stop();
}

void Rechecker::Start() {
    thread_ = std::thread([this] { Run(); });
    common::NameThread(thread_, "dns-recheck");
}

void Rechecker::Stop() {
    cancel_ = true;
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> Rechecker::RunOnce() {
    std::vector<storage::SenderDomainRow> due;
    {
        auto conn = pool_->Acquire();
        if (!conn.ok()) return conn.status();
        // The lease covers the checks of this batch; an unfinished one is retried after it.
        const int lease = static_cast<int>(
            std::min<std::int64_t>(dns_.retry_min_seconds + kBatch * dns_.timeout_ms * dns_.tries * 8 / 1000, 86400));
        auto claimed = storage::ClaimDueDomains(**conn, kBatch, lease);
        if (!claimed.ok()) return claimed.status();
        due = std::move(*claimed);
    }
    int checked = 0;
    for (const storage::SenderDomainRow& d : due) {
        {
            std::lock_guard lock(mu_);
            if (stop_) break;
        }
        auto result = VerifyAndRecord(*pool_, d, expect_, schedule_, lookups_, &cancel_);
        if (!result.ok()) {
            if (result.status().code() == absl::StatusCode::kCancelled) break;
            log::Warn("domain.check_failed").Kv("domain_id", d.id).Kv("error", std::string(result.status().message()));
            continue;
        }
        ++checked;
    }
    return checked;
}

void Rechecker::Run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
        lock.unlock();
        int checked = 0;
        auto n = RunOnce();
        if (!n.ok()) {
            log::Warn("domain.recheck_failed").Kv("error", std::string(n.status().message()));
        } else {
            checked = *n;
        }
        lock.lock();
        // A full batch: more may be due, go on at once.
        if (checked >= kBatch) continue;
        cv_.wait_for(lock, std::chrono::seconds(dns_.recheck_poll_seconds), [this] { return stop_; });
    }
}

}  // namespace rebound::dns
