#include "storage/pool.h"

#include "storage/database.h"

namespace rebound::storage {

Pool::Lease::~Lease() {
    if (pool_ != nullptr) pool_->Release(std::move(conn_));
}

absl::StatusOr<Pool::Lease> Pool::Acquire(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
        while (!idle_.empty()) {
            std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
            idle_.pop_back();
            if (conn->is_open()) return Lease(this, std::move(conn));
            --open_;  // dropped: broken while idle
        }
        if (open_ < size_) {
            ++open_;
            lock.unlock();
            auto conn = Connect(url_);
            if (!conn.ok()) {
                lock.lock();
                --open_;
                cv_.notify_one();
                return conn.status();
            }
            return Lease(this, std::move(*conn));
        }
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
            return absl::DeadlineExceededError("all database connections are busy");
        }
    }
}

void Pool::Release(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard lock(mu_);
    if (conn != nullptr && conn->is_open()) {
        idle_.push_back(std::move(conn));
    } else {
        --open_;
    }
    cv_.notify_one();
}

}  // namespace rebound::storage
