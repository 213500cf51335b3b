#include "services/smtp/server.h"

#include <algorithm>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/common/thread_name.h"
#include "services/smtp/line_reader.h"
#include "services/smtp/protocol.h"
#include "services/smtp/tls.h"

namespace rebound::smtp {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// The last reply before closing must not wait long on a client that does not read.
constexpr std::chrono::milliseconds kFinalWriteTimeout{2000};
// Room for one read beyond the longest line.
constexpr std::size_t kReadChunk = 16 * 1024;

// Why a read or write did not complete.
enum class Interrupt {
    kNone,
    kTimeout,          // per-command timeout
    kSlowData,         // minimum data rate during DATA
    kSessionDeadline,  // whole-session deadline
    kGreetPause,       // end of the pre-greeting wait (not an error)
    kShutdown,         // server shutdown
};

// Parses "host:port" / "[v6]:port".
absl::StatusOr<tcp::endpoint> ParseListen(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return absl::InvalidArgumentError(StrCat("smtp.listen: \"", text, "\" is not host:port"));
    }
    std::string host = text.substr(0, colon);
    std::uint16_t port = 0;
    if (!ParseInt(std::string_view(text).substr(colon + 1), &port)) {
        return absl::InvalidArgumentError(StrCat("smtp.listen: bad port in \"", text, "\""));
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    asio::error_code ec;
    asio::ip::address addr = asio::ip::make_address(host, ec);
    if (ec) {
        if (host == "localhost") {
            addr = asio::ip::address_v4::loopback();
        } else {
            return absl::InvalidArgumentError(
                StrCat("smtp.listen: \"", host, "\" is not an IP address (host names are not resolved)"));
        }
    }
    return tcp::endpoint(addr, port);
}

}  // namespace

class Session;

// What the sessions share with the server; owned by Server::Impl.
struct ServerShared {
    ServerOptions options;
    Delegate* delegate = nullptr;
    Counters counters;
    std::unique_ptr<asio::ssl::context> tls;
    std::atomic<std::uint64_t> next_session_id{1};

    std::mutex mu;
    std::condition_variable sessions_changed;
    std::map<std::string, std::size_t> per_client;  // open sessions per client address
    std::size_t open_sessions = 0;
    std::set<std::shared_ptr<Session>> sessions;
    bool shutting_down = false;
};

namespace {

// Shared between a session and the delegate's `done` callback, which may run on any thread
// and outlive the session.
struct DeliveryState {
    std::mutex mu;
    bool abandoned = false;
    bool completed = false;
    Reply reply;
};

}  // namespace

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(ServerShared* shared, tcp::socket socket, std::string client_address, std::uint16_t client_port)
        : shared_(shared),
          limits_(shared->options.limits),
          socket_(std::move(socket)),
          watchdog_(socket_.get_executor()),
          deliver_wait_(socket_.get_executor()),
          buffer_(std::max(limits_.command_line_max, limits_.text_line_max) + kReadChunk),
          protocol_(shared->options, shared->tls != nullptr, shared->delegate, &shared->counters, &info_) {
        info_.session_id = shared->next_session_id.fetch_add(1, std::memory_order_relaxed);
        info_.client_address = std::move(client_address);
        info_.client_port = client_port;
    }

    ~Session() {
        std::lock_guard lock(shared_->mu);
        auto it = shared_->per_client.find(info_.client_address);
        if (it != shared_->per_client.end() && --it->second == 0) shared_->per_client.erase(it);
        --shared_->open_sessions;
        shared_->counters.sessions_active.fetch_sub(1, std::memory_order_relaxed);
        shared_->sessions_changed.notify_all();
    }

    asio::any_io_executor executor() { return socket_.get_executor(); }

    awaitable<void> Run() {
        auto self = shared_from_this();
        session_deadline_ = Clock::now() + limits_.session_deadline;
        watchdog_.expires_at(Clock::time_point::max());
        asio::co_spawn(socket_.get_executor(), Watchdog(self), asio::detached);
        log::Info("smtp.connect")
            .Kv("session", info_.session_id)
            .Kv("client", info_.client_address)
            .Kv("port", info_.client_port);
        const std::string outcome = co_await Converse();
        log::Info("smtp.disconnect")
            .Kv("session", info_.session_id)
            .Kv("reason", outcome)
            .Kv("state", StateName(protocol_.state()))
            .Kv("messages", protocol_.messages())
            .Kv("errors", protocol_.errors())
            .Kv("tls", info_.tls);
        Close();
        {
            std::lock_guard lock(shared_->mu);
            shared_->sessions.erase(self);
        }
    }

    // From the server, on this session's executor. `hard`: the grace period is over.
    void RequestShutdown(bool hard) {
        shutdown_requested_ = true;
        if (hard) hard_stop_ = true;
        if (hard || idle_) {
            interrupt_ = Interrupt::kShutdown;
            asio::error_code ec;
            socket_.cancel(ec);
        }
        if (hard) deliver_wait_.cancel();
    }

  private:
    // Cancels the pending socket operation when the current deadline passes.
    // The parameter keeps the session alive while the watchdog runs.
    awaitable<void> Watchdog(std::shared_ptr<Session> /*keep_alive*/) {
        while (socket_.is_open()) {
            asio::error_code ec;
            co_await watchdog_.async_wait(asio::redirect_error(use_awaitable, ec));
            if (!socket_.is_open()) break;
            if (watchdog_.expiry() <= Clock::now()) {
                interrupt_ = deadline_cause_;
                watchdog_.expires_at(Clock::time_point::max());
                socket_.cancel(ec);
            }
        }
    }

    void SetDeadline(Clock::time_point deadline, Interrupt cause) {
        if (deadline >= session_deadline_) {
            deadline = session_deadline_;
            cause = Interrupt::kSessionDeadline;
        }
        deadline_cause_ = cause;
        watchdog_.expires_at(deadline);
    }

    void ClearDeadline() { watchdog_.expires_at(Clock::time_point::max()); }

    // Reads more input into the buffer. Returns kNone on success; on failure the interrupt
    // cause, or nullopt when the peer closed or the connection failed.
    awaitable<std::optional<Interrupt>> Fill(Clock::time_point deadline, Interrupt cause) {
        if (hard_stop_) interrupt_ = Interrupt::kShutdown;
        if (interrupt_ != Interrupt::kNone) co_return interrupt_;
        SetDeadline(deadline, cause);
        asio::error_code ec;
        std::size_t n = 0;
        auto buf = asio::buffer(buffer_.WriteData(), buffer_.WriteSize());
        if (tls_) {
            n = co_await tls_->async_read_some(buf, asio::redirect_error(use_awaitable, ec));
        } else {
            n = co_await socket_.async_read_some(buf, asio::redirect_error(use_awaitable, ec));
        }
        ClearDeadline();
        if (n > 0) buffer_.Commit(n);
        if (interrupt_ != Interrupt::kNone) co_return interrupt_;
        if (ec) {
            if (ec != asio::error::eof) error_ = ec.message();
            co_return std::nullopt;
        }
        co_return Interrupt::kNone;
    }

    // Writes the pending replies. False if the connection failed or timed out.
    awaitable<bool> Flush(std::chrono::milliseconds timeout) {
        if (out_.empty()) co_return true;
        SetDeadline(Clock::now() + timeout, Interrupt::kTimeout);
        asio::error_code ec;
        if (tls_) {
            co_await asio::async_write(*tls_, asio::buffer(out_), asio::redirect_error(use_awaitable, ec));
        } else {
            co_await asio::async_write(socket_, asio::buffer(out_), asio::redirect_error(use_awaitable, ec));
        }
        ClearDeadline();
        out_.clear();
        if (ec) {
            error_ = ec.message();
            co_return false;
        }
        co_return true;
    }

    // Sends `reply` as the last words of the session.
    awaitable<void> Final(const Reply& reply) {
        AppendReply(&out_, reply);
        co_await Flush(std::min<std::chrono::milliseconds>(limits_.command_timeout, kFinalWriteTimeout));
    }

    Reply InterruptReply(Interrupt cause) {
        switch (cause) {
            case Interrupt::kTimeout:
                Bump(shared_->counters.timeout);
                return MakeReply(ReplyId::kTimeout);
            case Interrupt::kSlowData:
                Bump(shared_->counters.slow_data);
                return MakeReply(ReplyId::kDataTooSlow, static_cast<long long>(limits_.min_data_rate_bytes_per_second));
            case Interrupt::kSessionDeadline:
                Bump(shared_->counters.session_deadline);
                return MakeReply(ReplyId::kSessionTooLong);
            case Interrupt::kShutdown:
            case Interrupt::kGreetPause:
            case Interrupt::kNone:
                break;
        }
        Bump(shared_->counters.shutdown_closed);
        return MakeReply(ReplyId::kServiceClosing);
    }

    // The conversation; returns why it ended.
    awaitable<std::string> Converse() {
        if (!co_await Greet()) co_return error_.empty() ? "early_talker" : "greet_failed";
        Next next = Next::kReadCommand;
        for (;;) {
            switch (next) {
                case Next::kReadCommand: {
                    LineResult line = buffer_.Next(limits_.command_line_max);
                    if (line.status != LineStatus::kNeedMore) {
                        next = protocol_.OnCommandLine(line, &out_);
                        break;
                    }
                    if (shutdown_requested_ && !protocol_.InTransaction()) {
                        Bump(shared_->counters.shutdown_closed);
                        co_await Final(MakeReply(ReplyId::kServiceClosing));
                        co_return "shutdown";
                    }
                    // RFC 2920: replies are sent when the client's input is exhausted.
                    if (!co_await Flush(limits_.command_timeout)) co_return "write_failed";
                    idle_ = !protocol_.InTransaction();
                    std::optional<Interrupt> r =
                        co_await Fill(Clock::now() + limits_.command_timeout, Interrupt::kTimeout);
                    idle_ = false;
                    if (!r) co_return error_.empty() ? "closed" : StrCat("error: ", error_);
                    if (*r != Interrupt::kNone) co_return co_await Interrupted(*r);
                    break;
                }
                case Next::kReadData: {
                    LineResult line = buffer_.Next(limits_.text_line_max);
                    if (line.status != LineStatus::kNeedMore) {
                        next = protocol_.OnDataLine(line, &out_);
                        break;
                    }
                    if (!co_await Flush(limits_.command_timeout)) co_return "write_failed";
                    Clock::time_point deadline = Clock::now() + limits_.command_timeout;
                    Interrupt cause = Interrupt::kTimeout;
                    if (limits_.min_data_rate_bytes_per_second > 0) {
                        // Received octets buy time at the minimum rate, after one command
                        // timeout of grace.
                        const auto earned = std::chrono::milliseconds((protocol_.data_bytes() + buffer_.Buffered()) *
                                                                      1000 / limits_.min_data_rate_bytes_per_second);
                        const Clock::time_point rate_deadline = data_start_ + limits_.command_timeout + earned;
                        if (rate_deadline < deadline) {
                            deadline = rate_deadline;
                            cause = Interrupt::kSlowData;
                        }
                    }
                    std::optional<Interrupt> r = co_await Fill(deadline, cause);
                    if (!r) co_return error_.empty() ? "closed_in_data" : StrCat("error: ", error_);
                    if (*r != Interrupt::kNone) co_return co_await Interrupted(*r);
                    break;
                }
                case Next::kDeliver: {
                    std::optional<std::string> end = co_await Deliver(&next);
                    if (end) co_return *end;
                    break;
                }
                case Next::kStartTls: {
                    if (!co_await Flush(limits_.command_timeout)) co_return "write_failed";
                    // Anything pipelined after STARTTLS was sent in clear text: drop it.
                    if (buffer_.Buffered() > 0) {
                        log::Info("smtp.starttls_injection")
                            .Kv("session", info_.session_id)
                            .Kv("discarded_bytes", buffer_.Buffered());
                    }
                    buffer_.Clear();
                    if (!co_await Handshake()) co_return "tls_failed";
                    next = Next::kReadCommand;
                    break;
                }
                case Next::kClose: {
                    co_await Flush(std::min<std::chrono::milliseconds>(limits_.command_timeout, kFinalWriteTimeout));
                    co_return protocol_.state() == State::kClosed ? "quit_or_limit" : "closed_by_server";
                }
            }
            if (next != Next::kReadData) {
                data_start_ = Clock::time_point{};
            } else if (data_start_ == Clock::time_point{}) {
                data_start_ = Clock::now();
            }
        }
    }

    awaitable<std::string> Interrupted(Interrupt cause) {
        const Reply reply = InterruptReply(cause);
        log::Info("smtp.interrupted")
            .Kv("session", info_.session_id)
            .Kv("code", reply.code)
            .Kv("enhanced", reply.enhanced)
            .Kv("state", StateName(protocol_.state()));
        interrupt_ = Interrupt::kNone;
        co_await Final(reply);
        switch (cause) {
            case Interrupt::kTimeout:
                co_return "timeout";
            case Interrupt::kSlowData:
                co_return "slow_data";
            case Interrupt::kSessionDeadline:
                co_return "session_deadline";
            default:
                co_return "shutdown";
        }
    }

    // Waits the greet pause (a client that talks first is rejected), then greets.
    awaitable<bool> Greet() {
        if (limits_.greet_pause.count() > 0) {
            std::optional<Interrupt> r = co_await Fill(Clock::now() + limits_.greet_pause, Interrupt::kGreetPause);
            if (!r) co_return false;
            if (*r == Interrupt::kShutdown) {
                co_await Final(MakeReply(ReplyId::kServiceClosing));
                co_return false;
            }
            if (*r == Interrupt::kNone) co_return co_await RejectEarlyTalker();
            interrupt_ = Interrupt::kNone;  // the pause ended quietly
        }
        asio::error_code ec;
        if (buffer_.Buffered() > 0 || socket_.available(ec) > 0) co_return co_await RejectEarlyTalker();
        protocol_.Greet(&out_);
        co_return co_await Flush(limits_.command_timeout);
    }

    awaitable<bool> RejectEarlyTalker() {
        Bump(shared_->counters.early_talker);
        log::Info("smtp.early_talker").Kv("session", info_.session_id);
        co_await Final(MakeReply(ReplyId::kTalkedTooSoon));
        co_return false;
    }

    awaitable<bool> Handshake() {
        tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *shared_->tls);
        SetDeadline(Clock::now() + limits_.command_timeout, Interrupt::kTimeout);
        asio::error_code ec;
        co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
        ClearDeadline();
        if (ec || interrupt_ != Interrupt::kNone) {
            Bump(shared_->counters.tls_failures);
            log::Info("smtp.tls_failed").Kv("session", info_.session_id).Kv("error", ec.message());
            tls_.reset();
            co_return false;
        }
        Bump(shared_->counters.tls_sessions);
        protocol_.OnTlsStarted();
        const SSL* ssl = tls_->native_handle();
        log::Info("smtp.tls")
            .Kv("session", info_.session_id)
            .Kv("version", SSL_get_version(ssl))
            .Kv("cipher", SSL_get_cipher_name(ssl));
        co_return true;
    }

    // Hands the message to the delegate and waits for its answer. Returns a reason when the
    // session must end.
    awaitable<std::optional<std::string>> Deliver(Next* next) {
        *next = Next::kReadCommand;
        Protocol::Delivery delivery = protocol_.TakeDelivery();
        const std::size_t bytes = delivery.message.size();
        const std::size_t rcpts = delivery.envelope.recipients.size();
        auto state = std::make_shared<DeliveryState>();
        std::weak_ptr<Session> weak = weak_from_this();
        asio::any_io_executor ex = socket_.get_executor();
        deliver_wait_.expires_after(limits_.deliver_timeout);
        const Clock::time_point started = Clock::now();
        shared_->delegate->Deliver(info_, std::move(delivery.envelope), std::move(delivery.message),
                                   [state, weak, ex](Reply reply) {
                                       // Under the lock: the session (and its event loop)
                                       // cannot finish between the check and the post.
                                       std::lock_guard lock(state->mu);
                                       if (state->abandoned || state->completed) return;
                                       state->completed = true;
                                       state->reply = std::move(reply);
                                       asio::post(ex, [weak] {
                                           if (auto self = weak.lock()) self->deliver_wait_.cancel();
                                       });
                                   });
        // Outcome: completed by the delegate, or abandoned (shutdown deadline, delegate timeout).
        bool timed_out = false;
        bool completed = false;
        for (;;) {
            asio::error_code ec;
            {
                std::lock_guard lock(state->mu);
                if (state->completed) {
                    completed = true;
                    break;
                }
                if (hard_stop_ || deliver_timed_out_) {
                    state->abandoned = true;
                    timed_out = !hard_stop_;
                    break;
                }
            }
            co_await deliver_wait_.async_wait(asio::redirect_error(use_awaitable, ec));
            // Expiry without cancellation is the delegate timeout; a cancellation is either
            // done() or a shutdown (checked above on the next turn).
            deliver_timed_out_ = !ec;
        }
        deliver_timed_out_ = false;
        if (!completed) {
            log::Warn("smtp.deliver_abandoned")
                .Kv("session", info_.session_id)
                .Kv("reason", timed_out ? "deliver_timeout" : "shutdown");
            if (timed_out) {
                *next = protocol_.OnDelivered(MakeReply(ReplyId::kLocalError), bytes, &out_);
                co_return std::nullopt;
            }
            interrupt_ = Interrupt::kNone;
            Bump(shared_->counters.shutdown_closed);
            co_await Final(MakeReply(ReplyId::kServiceClosing));
            co_return std::string("shutdown_in_delivery");
        }
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
        log::Info("smtp.delivered")
            .Kv("session", info_.session_id)
            .Kv("code", state->reply.code)
            .Kv("enhanced", state->reply.enhanced)
            .Kv("bytes", bytes)
            .Kv("rcpts", rcpts)
            .Kv("ms", ms);
        *next = protocol_.OnDelivered(state->reply, bytes, &out_);
        co_return std::nullopt;
    }

    void Close() {
        asio::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
        watchdog_.cancel();
        deliver_wait_.cancel();
    }

    ServerShared* shared_;
    const Limits& limits_;
    tcp::socket socket_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    asio::steady_timer watchdog_;
    asio::steady_timer deliver_wait_;
    LineBuffer buffer_;
    std::string out_;
    SessionInfo info_;
    Protocol protocol_;

    Clock::time_point session_deadline_;
    Clock::time_point data_start_{};
    Interrupt deadline_cause_ = Interrupt::kTimeout;
    Interrupt interrupt_ = Interrupt::kNone;
    std::string error_;
    bool idle_ = false;  // waiting for a command outside a transaction
    bool shutdown_requested_ = false;
    bool hard_stop_ = false;
    bool deliver_timed_out_ = false;
};

struct Server::Impl {
    ServerShared shared;
    std::vector<std::unique_ptr<asio::io_context>> loops;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::vector<BoundEndpoint> endpoints;
    std::atomic<std::size_t> next_loop{0};
    std::mutex lifecycle_mu;
    bool started = false;
    bool stopped = false;

    awaitable<void> Accept(tcp::acceptor* acceptor) {
        for (;;) {
            asio::io_context& loop = *loops[next_loop.fetch_add(1, std::memory_order_relaxed) % loops.size()];
            asio::error_code ec;
            tcp::socket socket =
                co_await acceptor->async_accept(loop.get_executor(), asio::redirect_error(use_awaitable, ec));
            if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
            if (ec) {
                // EMFILE and friends: log, pause briefly, keep serving.
                log::Warn("smtp.accept_failed").Kv("error", ec.message());
                asio::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
                co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
                continue;
            }
            Admit(std::move(socket));
        }
    }

    void Admit(tcp::socket socket) {
        asio::error_code ec;
        const tcp::endpoint peer = socket.remote_endpoint(ec);
        if (ec) return;  // already gone
        asio::ip::address peer_addr = peer.address();
        if (peer_addr.is_v6() && peer_addr.to_v6().is_v4_mapped()) {
            peer_addr = asio::ip::make_address_v4(asio::ip::v4_mapped, peer_addr.to_v6());
        }
        std::string client = peer_addr.to_string();
        std::optional<ReplyId> refuse;
        {
            std::lock_guard lock(shared.mu);
            const Limits& l = shared.options.limits;
            if (shared.shutting_down) {
                refuse = ReplyId::kServiceClosing;
            } else if (shared.open_sessions >= l.max_connections) {
                refuse = ReplyId::kTooManyConnections;
            } else if (shared.per_client[client] >= l.max_connections_per_client) {
                refuse = ReplyId::kTooManyFromClient;
            } else {
                ++shared.per_client[client];
                ++shared.open_sessions;
            }
            if (refuse) {
                auto it = shared.per_client.find(client);
                if (it != shared.per_client.end() && it->second == 0) shared.per_client.erase(it);
            }
        }
        if (refuse) {
            Bump(shared.counters.connections_refused);
            log::Info("smtp.refused").Kv("client", client).Kv("reason", MakeReply(*refuse).text);
            // A fresh socket's send buffer is empty: a non-blocking write of one line succeeds.
            std::string line;
            AppendReply(&line, MakeReply(*refuse));
            socket.non_blocking(true, ec);
            asio::write(socket, asio::buffer(line), ec);
            socket.shutdown(tcp::socket::shutdown_both, ec);
            socket.close(ec);
            return;
        }
        socket.set_option(tcp::no_delay(true), ec);
        Bump(shared.counters.sessions);
        Bump(shared.counters.sessions_active);
        auto session = std::make_shared<Session>(&shared, std::move(socket), client, peer.port());
        {
            std::lock_guard lock(shared.mu);
            shared.sessions.insert(session);
        }
        asio::co_spawn(session->executor(), session->Run(), asio::detached);
    }

    void SignalSessions(bool hard) {
        std::vector<std::shared_ptr<Session>> all;
        {
            std::lock_guard lock(shared.mu);
            all.assign(shared.sessions.begin(), shared.sessions.end());
        }
        for (auto& s : all)
            asio::post(s->executor(), [s, hard] { s->RequestShutdown(hard); });
    }
};

Server::Server(ServerOptions options, Delegate* delegate) : impl_(std::make_unique<Impl>()) {
    impl_->shared.options = std::move(options);
    impl_->shared.delegate = delegate;
}

Server::~Server() {
    Shutdown(std::chrono::milliseconds(0));
}

const Counters& Server::counters() const {
    return impl_->shared.counters;
}

std::vector<BoundEndpoint> Server::endpoints() const {
    return impl_->endpoints;
}

absl::Status Server::Start() {
    std::lock_guard lifecycle(impl_->lifecycle_mu);
    if (impl_->started) return absl::FailedPreconditionError("smtp: server already started");
    const ServerOptions& o = impl_->shared.options;
    if (absl::Status s = ValidateOptions(o); !s.ok()) return s;
    if (impl_->shared.delegate == nullptr) return absl::InvalidArgumentError("smtp: no delegate");
    if (!o.tls_certificate.empty()) {
        if (absl::Status s = CheckKeyPair(o.tls_certificate, o.tls_key); !s.ok()) return s;
        auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                         asio::ssl::context::single_dh_use);
        asio::error_code ec;
        ctx->use_certificate_chain_file(o.tls_certificate, ec);
        if (!ec) ctx->use_private_key_file(o.tls_key, asio::ssl::context::pem, ec);
        if (ec) return absl::InvalidArgumentError(StrCat("smtp: cannot load TLS pair: ", ec.message()));
        impl_->shared.tls = std::move(ctx);
    }
    std::size_t threads = o.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < threads; ++i)
        impl_->loops.push_back(std::make_unique<asio::io_context>(1));

    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::vector<BoundEndpoint> endpoints;
    for (const std::string& text : o.listen) {
        absl::StatusOr<tcp::endpoint> ep = ParseListen(text);
        if (!ep.ok()) return ep.status();
        auto acceptor = std::make_unique<tcp::acceptor>(*impl_->loops[0]);
        asio::error_code ec;
        acceptor->open(ep->protocol(), ec);
        if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && ep->address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
        if (!ec) acceptor->bind(*ep, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return absl::UnavailableError(StrCat("smtp: cannot listen on ", text, ": ", ec.message()));
        const tcp::endpoint local = acceptor->local_endpoint(ec);
        endpoints.push_back(BoundEndpoint{local.address().to_string(), local.port()});
        acceptors.push_back(std::move(acceptor));
    }
    impl_->acceptors = std::move(acceptors);
    impl_->endpoints = endpoints;
    for (auto& acceptor : impl_->acceptors) {
        asio::co_spawn(*impl_->loops[0], impl_->Accept(acceptor.get()), asio::detached);
    }
    for (auto& loop : impl_->loops) {
        impl_->work.push_back(asio::make_work_guard(*loop));
        impl_->threads.emplace_back([l = loop.get()] { l->run(); });
        common::NameThread(impl_->threads.back(), "smtp-io");
    }
    impl_->started = true;
    for (const BoundEndpoint& e : endpoints) {
        log::Info("smtp.listening").Kv("address", e.address).Kv("port", e.port).Kv("threads", threads);
    }
    return absl::OkStatus();
}

void Server::Shutdown(std::chrono::milliseconds grace) {
    std::lock_guard lifecycle(impl_->lifecycle_mu);
    if (!impl_->started || impl_->stopped) return;
    impl_->stopped = true;
    ServerShared& shared = impl_->shared;
    log::Info("smtp.shutdown").Kv("grace_ms", static_cast<long long>(grace.count()));
    {
        std::lock_guard lock(shared.mu);
        shared.shutting_down = true;
    }
    // Close the acceptors on their own loop (acceptors are not thread-safe).
    {
        std::mutex done_mu;
        std::condition_variable done_cv;
        bool done = false;
        asio::post(*impl_->loops[0], [&] {
            for (auto& a : impl_->acceptors) {
                asio::error_code ec;
                a->close(ec);
            }
            std::lock_guard lock(done_mu);
            done = true;
            done_cv.notify_all();
        });
        std::unique_lock lock(done_mu);
        done_cv.wait(lock, [&] { return done; });
    }
    impl_->SignalSessions(/*hard=*/false);
    {
        std::unique_lock lock(shared.mu);
        shared.sessions_changed.wait_for(lock, grace, [&] { return shared.open_sessions == 0; });
    }
    // Sessions that were accepted during the first signal, or are still in a transaction.
    impl_->SignalSessions(/*hard=*/true);
    {
        std::unique_lock lock(shared.mu);
        shared.sessions_changed.wait(lock, [&] { return shared.open_sessions == 0; });
    }
    impl_->work.clear();
    for (auto& t : impl_->threads)
        t.join();
    impl_->threads.clear();
    impl_->acceptors.clear();
    log::Line line(log::Level::kInfo, "smtp.stopped");
    shared.counters.Visit([&line](const char* name, std::uint64_t value) { line.Kv(name, value); });
}

}  // namespace rebound::smtp
