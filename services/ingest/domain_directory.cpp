#include "services/ingest/domain_directory.h"

#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/common/thread_name.h"
#include "storage/database.h"

namespace rebound::ingest {

DomainSnapshot::DomainSnapshot(const std::vector<storage::DomainRow>& rows) {
    for (const storage::DomainRow& r : rows) {
        DomainEntry e;
        e.sender_domain_id = r.sender_domain_id;
        e.feedback_domain = AsciiLower(r.feedback_domain);
        e.account_id = r.account_id;
        e.keys.account_id = static_cast<std::uint64_t>(r.account_id);
        e.keys.current_key_id = r.current_key_id;
        e.keys.retired_key_ids = r.retired_key_ids;
        by_domain_.emplace(e.feedback_domain, std::move(e));
    }
}

const DomainEntry* DomainSnapshot::Find(std::string_view domain) const {
    std::string key = AsciiLower(domain);
    if (!key.empty() && key.back() == '.') key.pop_back();  // a trailing root dot is the same domain
    auto it = by_domain_.find(key);
    return it == by_domain_.end() ? nullptr : &it->second;
}

DomainDirectory::DomainDirectory(std::string db_url, std::chrono::seconds refresh_every)
    : db_url_(std::move(db_url)), refresh_every_(refresh_every) {}

DomainDirectory::~DomainDirectory() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (refresher_.joinable()) refresher_.join();
}

absl::Status DomainDirectory::Refresh() {
    auto conn = storage::Connect(db_url_);
    if (!conn.ok()) return conn.status();
    auto rows = storage::LoadDomains(**conn);
    if (!rows.ok()) return rows.status();
    auto snapshot = std::make_shared<const DomainSnapshot>(*rows);
    std::lock_guard lock(mu_);
    const bool changed = snapshot_ == nullptr || snapshot_->size() != snapshot->size();
    snapshot_ = std::move(snapshot);
    if (changed) log::Info("domains.loaded").Kv("domains", static_cast<std::int64_t>(snapshot_->size()));
    return absl::OkStatus();
}

void DomainDirectory::StartRefresher() {
    refresher_ = std::thread([this] { RefreshLoop(); });
    common::NameThread(refresher_, "domain-refresh");
}

void DomainDirectory::RefreshLoop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
        // Retry sooner while there is no copy at all.
        const auto wait = snapshot_ == nullptr ? std::chrono::seconds(1) : refresh_every_;
        if (cv_.wait_for(lock, wait, [this] { return stop_; })) break;
        lock.unlock();
        if (absl::Status s = Refresh(); !s.ok()) {
            log::Warn("domains.refresh_failed").Kv("error", std::string(s.message()));
        }
        lock.lock();
    }
}

std::shared_ptr<const DomainSnapshot> DomainDirectory::Snapshot() const {
    std::lock_guard lock(mu_);
    return snapshot_;
}

}  // namespace rebound::ingest
