#pragma once
// The interface between the SMTP server and whatever stores the mail (the ingest layer).
// The server knows neither SQL nor MIME: it validates syntax and protocol, asks the
// delegate about each recipient, and hands each complete message over.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "services/smtp/reply.h"

namespace rebound::smtp {

struct SessionInfo {
    std::uint64_t session_id = 0;  // unique per server process; on every log line as session=
    std::string client_address;    // textual IP address of the peer
    std::uint16_t client_port = 0;
    std::string helo;  // argument of the last EHLO/HELO; empty before it
    bool tls = false;  // STARTTLS completed
};

struct Envelope {
    std::string mail_from;                // "" = null sender <>
    std::vector<std::string> recipients;  // accepted mailboxes, in RCPT order
    bool smtputf8 = false;                // MAIL ... SMTPUTF8
    bool eight_bit = false;               // MAIL ... BODY=8BITMIME
};

// Implemented by the ingest layer. Called from the server's event-loop threads, several
// at once: implementations must be thread-safe and must not block for long in
// CheckRecipient (it runs on an event loop).
class Delegate {
  public:
    virtual ~Delegate() = default;

    // RCPT TO decision: a 250 2.1.5 reply to accept, or the rejection (550 5.1.1 unknown
    // token, 550 5.7.1 relaying denied, 451 4.3.0 temporary failure). `address` is the
    // mailbox local@domain with its syntax already validated, or "postmaster" for the
    // domain-less <Postmaster> of RFC 5321 section 4.5.1.
    virtual Reply CheckRecipient(const SessionInfo& session, const std::string& address) = 0;

    // Called after the final dot of a message that passed every server check. `message` is
    // the data with dot-stuffing removed and CR LF line ends, exactly as received (no trace
    // header is added). `done` must be called exactly once, from any thread: with 250 only
    // when the message is durable, else 451 4.3.0 / 554 .... The server sends nothing to
    // the client before `done`. If the server shuts down and gives up waiting, calling
    // `done` later is still safe (it is ignored).
    virtual void Deliver(const SessionInfo& session, Envelope envelope, std::string message,
                         std::function<void(Reply)> done) = 0;
};

}  // namespace rebound::smtp
