#pragma once
// The SMTP listener: binds every configured address, runs one event loop per thread and a
// session per connection (line framing, protocol state machine, STARTTLS, timeouts, limits),
// handing messages to a Delegate. Asio stays out of this header.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/smtp/counters.h"
#include "services/smtp/delegate.h"
#include "services/smtp/options.h"

namespace rebound::smtp {

struct BoundEndpoint {
    std::string address;  // "127.0.0.1", "::1"
    std::uint16_t port = 0;
};

class Server {
  public:
    // `delegate` must outlive the server (it may be called until Shutdown() returns).
    Server(ServerOptions options, Delegate* delegate);
    ~Server();  // Shutdown(0ms) if still running
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Validates the options, loads the TLS pair (if set), binds every address and starts
    // the event loops. Nothing is left bound if it fails. Call once.
    absl::Status Start();

    // The bound addresses, in the order of options.listen (useful with port 0).
    std::vector<BoundEndpoint> endpoints() const;

    // Stops accepting, replies 421 4.3.2 to idle sessions at once, lets sessions inside a
    // transaction (MAIL given, DATA in progress, delivery pending) finish for up to `grace`,
    // then says 421 4.3.2 to the rest and closes them. Blocks until every session and event
    // loop has ended. Safe to call more than once and from any thread but an event loop's.
    void Shutdown(std::chrono::milliseconds grace);

    const Counters& counters() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rebound::smtp
