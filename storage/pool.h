#pragma once
// A fixed-size pool of PostgreSQL connections shared by threads. Connections are opened
// lazily and replaced when found broken; Acquire() waits at most `wait` for a free one.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::storage {

class Pool {
  public:
    class Lease {
      public:
        Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) { other.pool_ = nullptr; }
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        ~Lease();
        pqxx::connection& operator*() const { return *conn_; }
        pqxx::connection* operator->() const { return conn_.get(); }

      private:
        friend class Pool;
        Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn) : pool_(pool), conn_(std::move(conn)) {}
        Pool* pool_;
        std::unique_ptr<pqxx::connection> conn_;
    };

    Pool(std::string url, int size) : url_(std::move(url)), size_(size) {}
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // UNAVAILABLE when no connection can be opened; DEADLINE_EXCEEDED when all are busy.
    absl::StatusOr<Lease> Acquire(std::chrono::milliseconds wait = std::chrono::seconds(5));

    const std::string& url() const { return url_; }

  private:
    void Release(std::unique_ptr<pqxx::connection> conn);

    const std::string url_;
    const int size_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    int open_ = 0;  // connections in existence (idle or leased)
};

}  // namespace rebound::storage
