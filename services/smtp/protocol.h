#pragma once
// The SMTP session state machine without I/O: it consumes framed lines (see LineBuffer)
// and produces replies plus what the I/O layer must do next. OpenSMTPD-style command table:
// every verb has the states it is allowed in, a Check step (syntax and state, returns the
// error reply) and a Proceed step (acts and replies). Testable and fuzzable on its own.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/smtp/command.h"
#include "services/smtp/counters.h"
#include "services/smtp/delegate.h"
#include "services/smtp/line_reader.h"
#include "services/smtp/options.h"
#include "services/smtp/reply.h"

namespace rebound::smtp {

enum class State {
    kInit,   // greeted; EHLO/HELO needed
    kReady,  // EHLO/HELO done, no transaction
    kMail,   // MAIL accepted, no recipient yet
    kRcpt,   // at least one recipient accepted
    kData,   // receiving message data
    kClosed,
};

std::string_view StateName(State state);

struct Transaction {
    MailArgs mail;
    std::vector<std::string> recipients;
    std::size_t rcpt_attempts = 0;
};

// What the I/O layer does after a call.
enum class Next {
    kReadCommand,  // flush replies (when no more input is buffered) and read the next command
    kReadData,     // read message data lines (OnDataLine)
    kStartTls,     // flush, discard buffered input, handshake, then call OnTlsStarted
    kDeliver,      // take TakeDelivery(), hand it to the delegate, then call OnDelivered
    kClose,        // flush and close
};

class Protocol {
  public:
    // All pointers must outlive the protocol. `info` is updated (helo, tls).
    Protocol(const ServerOptions& options, bool tls_available, Delegate* delegate, Counters* counters,
             SessionInfo* info);
    Protocol(const Protocol&) = delete;
    Protocol& operator=(const Protocol&) = delete;

    void Greet(std::string* out) const;

    // A command line (any status but kNeedMore). Appends the replies to `out`.
    Next OnCommandLine(const LineResult& line, std::string* out);

    // A line of message data in kData. Returns kReadData until the terminating dot, then
    // kDeliver if the message passed the server's checks or kReadCommand/kClose after
    // appending the rejection.
    Next OnDataLine(const LineResult& line, std::string* out);

    struct Delivery {
        Envelope envelope;
        std::string message;
    };
    // After kDeliver: the envelope and the message (moved out).
    Delivery TakeDelivery();
    // The delegate's answer to the delivery. Appends the reply; kClose if it is a 421
    // (the channel is closing), else kReadCommand.
    Next OnDelivered(const Reply& reply, std::size_t message_bytes, std::string* out);

    // STARTTLS handshake completed: back to kInit, everything before is forgotten.
    void OnTlsStarted();

    // Records an error caused by the client outside a command (e.g. talking too soon).
    State state() const { return state_; }
    bool InTransaction() const { return transaction_.has_value(); }
    std::uint64_t errors() const { return errors_; }
    std::uint64_t messages() const { return messages_; }
    std::size_t data_bytes() const { return data_bytes_; }

  private:
    struct CommandSpec;
    static const CommandSpec* FindSpec(Verb verb);

    void EnterState(State next);
    // Counts a client error and appends `reply`; if the error limit is reached appends 421
    // and returns kClose.
    Next Error(const Reply& reply, std::string* out);
    ReplyId WrongStateReply(Verb verb) const;
    void ResetTransaction();

    // Check steps: the error reply, or nothing to go on to Proceed.
    std::optional<Reply> CheckHelo(std::string_view args);
    std::optional<Reply> CheckMail(std::string_view args);
    std::optional<Reply> CheckRcpt(std::string_view args);
    std::optional<Reply> CheckNoArgs(std::string_view args);
    std::optional<Reply> CheckAny(std::string_view args);
    std::optional<Reply> CheckVrfy(std::string_view args);
    std::optional<Reply> CheckStartTls(std::string_view args);
    // Proceed steps.
    Next ProceedEhlo(std::string* out);
    Next ProceedHelo(std::string* out);
    Next ProceedMail(std::string* out);
    Next ProceedRcpt(std::string* out);
    Next ProceedData(std::string* out);
    Next ProceedRset(std::string* out);
    Next ProceedNoop(std::string* out);
    Next ProceedQuit(std::string* out);
    Next ProceedVrfy(std::string* out);
    Next ProceedHelp(std::string* out);
    Next ProceedStartTls(std::string* out);
    Next ProceedNotImplemented(std::string* out);

    const ServerOptions& options_;
    const Limits& limits_;
    const bool tls_available_;
    Delegate* delegate_;
    Counters* counters_;
    SessionInfo* info_;

    State state_ = State::kInit;
    std::optional<Transaction> transaction_;
    std::uint64_t errors_ = 0;
    std::uint64_t messages_ = 0;

    // Between Check and Proceed.
    std::string pending_helo_;
    MailArgs pending_mail_;
    RcptArgs pending_rcpt_;

    // Message data in kData.
    std::string message_;
    std::size_t data_bytes_ = 0;  // octets received in DATA, including discarded ones
    bool prev_crlf_ = true;
    bool oversize_ = false;
    bool bare_line_end_ = false;
    bool data_line_too_long_ = false;
};

}  // namespace rebound::smtp
