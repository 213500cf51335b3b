#pragma once
// Server-wide counters, updated with relaxed atomics from every event loop.

#include <atomic>
#include <cstdint>
#include <string>

namespace rebound::smtp {

struct Counters {
    std::atomic<std::uint64_t> sessions{0};           // connections accepted into a session
    std::atomic<std::uint64_t> sessions_active{0};    // currently open
    std::atomic<std::uint64_t> tls_sessions{0};       // STARTTLS handshakes completed
    std::atomic<std::uint64_t> tls_failures{0};       // STARTTLS handshakes failed
    std::atomic<std::uint64_t> messages_accepted{0};  // final dot answered 2xx
    std::atomic<std::uint64_t> messages_deferred{0};  // final dot answered 4xx by the delegate
    std::atomic<std::uint64_t> messages_rejected{0};  // final dot answered 5xx (delegate or checks)
    std::atomic<std::uint64_t> bytes_accepted{0};     // message octets answered 2xx
    std::atomic<std::uint64_t> recipients_accepted{0};
    // Rejections by cause.
    std::atomic<std::uint64_t> rcpt_unknown{0};         // delegate: 5.1.x
    std::atomic<std::uint64_t> relay_denied{0};         // delegate: 5.7.1
    std::atomic<std::uint64_t> rcpt_temporary{0};       // delegate: 4xx
    std::atomic<std::uint64_t> rcpt_other{0};           // delegate: other 5xx
    std::atomic<std::uint64_t> size{0};                 // declared or actual size over the limit
    std::atomic<std::uint64_t> too_many_recipients{0};  // 452 4.5.3
    std::atomic<std::uint64_t> syntax{0};               // 500/501/502/503/553/555 replies
    std::atomic<std::uint64_t> line_too_long{0};
    std::atomic<std::uint64_t> bare_lf{0};  // bare CR or LF in a command or in data
    std::atomic<std::uint64_t> timeout{0};
    std::atomic<std::uint64_t> slow_data{0};
    std::atomic<std::uint64_t> session_deadline{0};
    std::atomic<std::uint64_t> errors_exceeded{0};
    std::atomic<std::uint64_t> too_many_messages{0};
    std::atomic<std::uint64_t> early_talker{0};
    std::atomic<std::uint64_t> connections_refused{0};  // total or per-client limit at connect
    std::atomic<std::uint64_t> shutdown_closed{0};      // sessions told 421 4.3.2

    Counters() = default;
    Counters(const Counters&) = delete;
    Counters& operator=(const Counters&) = delete;

    // Calls f(name, value) for every counter, in declaration order.
    template <typename F>
    void Visit(F&& f) const {
#define REBOUND_SMTP_COUNTER(name) f(#name, name.load(std::memory_order_relaxed))
        REBOUND_SMTP_COUNTER(sessions);
        REBOUND_SMTP_COUNTER(sessions_active);
        REBOUND_SMTP_COUNTER(tls_sessions);
        REBOUND_SMTP_COUNTER(tls_failures);
        REBOUND_SMTP_COUNTER(messages_accepted);
        REBOUND_SMTP_COUNTER(messages_deferred);
        REBOUND_SMTP_COUNTER(messages_rejected);
        REBOUND_SMTP_COUNTER(bytes_accepted);
        REBOUND_SMTP_COUNTER(recipients_accepted);
        REBOUND_SMTP_COUNTER(rcpt_unknown);
        REBOUND_SMTP_COUNTER(relay_denied);
        REBOUND_SMTP_COUNTER(rcpt_temporary);
        REBOUND_SMTP_COUNTER(rcpt_other);
        REBOUND_SMTP_COUNTER(size);
        REBOUND_SMTP_COUNTER(too_many_recipients);
        REBOUND_SMTP_COUNTER(syntax);
        REBOUND_SMTP_COUNTER(line_too_long);
        REBOUND_SMTP_COUNTER(bare_lf);
        REBOUND_SMTP_COUNTER(timeout);
        REBOUND_SMTP_COUNTER(slow_data);
        REBOUND_SMTP_COUNTER(session_deadline);
        REBOUND_SMTP_COUNTER(errors_exceeded);
        REBOUND_SMTP_COUNTER(too_many_messages);
        REBOUND_SMTP_COUNTER(early_talker);
        REBOUND_SMTP_COUNTER(connections_refused);
        REBOUND_SMTP_COUNTER(shutdown_closed);
#undef REBOUND_SMTP_COUNTER
    }

    // "sessions=3 messages_accepted=2 ..." for diagnostics.
    std::string Describe() const;
};

inline void Bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace rebound::smtp
