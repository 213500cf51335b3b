#pragma once
// The registered feedback domains, held in memory for RCPT-time decisions: loaded from
// PostgreSQL and reloaded periodically. While the database is unreachable the last good
// copy keeps serving; before the first load there is none, and recipients get 451.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"
#include "services/envelope/codec.h"
#include "storage/message_store.h"

namespace rebound::ingest {

struct DomainEntry {
    std::int64_t sender_domain_id = 0;
    std::string feedback_domain;  // lower case
    std::int64_t account_id = 0;
    envelope::AccountKeys keys;
};

class DomainSnapshot {
  public:
    explicit DomainSnapshot(const std::vector<storage::DomainRow>& rows);
    // `domain` in any case. nullptr when it is not a registered feedback domain.
    const DomainEntry* Find(std::string_view domain) const;
    std::size_t size() const { return by_domain_.size(); }

  private:
    std::unordered_map<std::string, DomainEntry> by_domain_;
};

class DomainDirectory {
  public:
    DomainDirectory(std::string db_url, std::chrono::seconds refresh_every);
    ~DomainDirectory();  // stops the refresher
    DomainDirectory(const DomainDirectory&) = delete;
    DomainDirectory& operator=(const DomainDirectory&) = delete;

    // Loads now; the previous copy stays if this fails.
    absl::Status Refresh();
    // Reloads every `refresh_every` in a background thread until destruction.
    void StartRefresher();

    // The current copy; nullptr until the first successful load.
    std::shared_ptr<const DomainSnapshot> Snapshot() const;

  private:
    void RefreshLoop();

    const std::string db_url_;
    const std::chrono::seconds refresh_every_;
    mutable std::mutex mu_;
    std::shared_ptr<const DomainSnapshot> snapshot_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread refresher_;
};

}  // namespace rebound::ingest
