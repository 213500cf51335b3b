#pragma once
// Test helpers for the SMTP server: an in-memory Delegate and a raw-socket client (plain
// or TLS via OpenSSL) for scripted dialogues over loopback.

#include <openssl/ssl.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/smtp/delegate.h"

namespace rebound::smtp::testing {

// Accepts recipients by rule (see CheckRecipient) and stores delivered messages in memory.
class TestDelegate : public Delegate {
  public:
    enum class DeliverMode {
        kAccept,       // done(250) at once, on the calling thread
        kTempFail,     // done(451 4.3.0) at once
        kReject,       // done(554 5.6.0) at once
        kClosing,      // done(421 4.3.2) at once
        kLaterThread,  // done(250) from another thread after `delay`
        kNever,        // keep `done`; the test calls CompletePending()
    };
    struct Delivery {
        SessionInfo session;
        Envelope envelope;
        std::string message;
    };

    ~TestDelegate() override;

    // Rules: local part "unknown..." -> 550 5.1.1; "tempfail..." -> 451 4.3.0; "bogus..." ->
    // code 999 with CR LF in the text; "nocode..." -> 550 without enhanced code or text; "closing..." -> 421 4.3.2;
    // domain other than feedback.example (or "postmaster") -> 550 5.7.1; else 250 2.1.5.
    Reply CheckRecipient(const SessionInfo& session, const std::string& address) override;
    void Deliver(const SessionInfo& session, Envelope envelope, std::string message,
                 std::function<void(Reply)> done) override;

    void set_mode(DeliverMode mode, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
    std::vector<Delivery> deliveries();
    std::vector<std::string> checked_recipients();
    // Waits until at least `n` Deliver calls happened.
    bool WaitForDeliverCalls(std::size_t n, std::chrono::milliseconds timeout);
    // Completes every kept `done` with `reply`; returns how many.
    std::size_t CompletePending(const Reply& reply);

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    DeliverMode mode_ = DeliverMode::kAccept;
    std::chrono::milliseconds delay_{0};
    std::size_t deliver_calls_ = 0;
    std::vector<Delivery> deliveries_;
    std::vector<std::string> checked_;
    std::vector<std::function<void(Reply)>> pending_;
    std::vector<std::thread> threads_;
};

// A blocking client with a receive timeout. Reads are complete SMTP replies.
class Client {
  public:
    Client() = default;
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Connects to host:port (IPv4 or IPv6 literal). False on failure.
    bool Connect(const std::string& host, std::uint16_t port,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    bool Send(const std::string& data);
    // One complete reply (all its lines, CR LF kept), or "" on timeout / close.
    std::string ReadReply();
    // The code of the next reply, or 0.
    int ReadCode();
    // True if the server closed the connection (reads EOF within the timeout).
    bool ReadEof();
    // Starts TLS on the connection (after the 220 to STARTTLS). False on failure.
    bool StartTls();
    bool tls() const { return ssl_ != nullptr; }
    void Close();

  private:
    int ReadSome(char* buf, std::size_t n);  // >0 data, 0 EOF, <0 timeout/error
    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    std::string pending_;
};

// "250" ... : the code of the last line of `reply`, or 0.
int CodeOf(const std::string& reply);

}  // namespace rebound::smtp::testing
