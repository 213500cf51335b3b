#pragma once
// Live checks of registered domains: one now (DomainService.VerifyDomain), and the
// periodic re-check of reboundd (Rechecker), both recording the result and the state.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "services/config/config.h"
#include "services/dns/checker.h"
#include "services/dns/state.h"
#include "storage/domain_store.h"
#include "storage/pool.h"

namespace rebound::dns {

struct VerifyResult {
    CheckResult check;
    storage::SenderDomainRow domain;  // after the check was recorded
};

// Makes a Lookup for one check; the default uses c-ares with the configured resolvers
// (`cancel`, when given, ends its queries: see ResolverOptions).
using LookupFactory = std::function<absl::StatusOr<std::unique_ptr<Lookup>>()>;
LookupFactory AresFactory(const config::DnsConfig& dns, const std::atomic<bool>* cancel = nullptr);

// Checks `domain` live and records the outcome and the resulting state. CANCELLED, and
// nothing recorded, when `cancel` became true during the check.
absl::StatusOr<VerifyResult> VerifyAndRecord(storage::Pool& pool, const storage::SenderDomainRow& domain,
                                             const Expectation& expect, const Schedule& schedule,
                                             const LookupFactory& lookups, const std::atomic<bool>* cancel = nullptr);

// A thread that re-checks due domains every poll interval until stopped, with c-ares and
// the configured resolvers.
class Rechecker {
  public:
    Rechecker(storage::Pool* pool, const config::DnsConfig& dns);
    ~Rechecker();  // stops
    Rechecker(const Rechecker&) = delete;
    Rechecker& operator=(const Rechecker&) = delete;

    void Start();
    // Cancels a check in progress (its queries end at once, nothing is recorded for it),
    // wakes the thread and waits for it.
    void Stop();
    // Claims and checks the due domains once; returns how many were checked.
    absl::StatusOr<int> RunOnce();

  private:
    void Run();

    storage::Pool* pool_;
    const config::DnsConfig dns_;
    const Expectation expect_;
    const Schedule schedule_;
    LookupFactory lookups_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::atomic<bool> cancel_{false};
    std::thread thread_;
};

}  // namespace rebound::dns
