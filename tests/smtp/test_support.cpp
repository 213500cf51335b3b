#include "tests/smtp/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

namespace rebound::smtp::testing {

TestDelegate::~TestDelegate() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mu_);
        threads.swap(threads_);
    }
    for (auto& t : threads)
        t.join();
}

Reply TestDelegate::CheckRecipient(const SessionInfo& /*session*/, const std::string& address) {
    {
        std::lock_guard lock(mu_);
        checked_.push_back(address);
    }
    if (address == "postmaster") return Reply{250, "2.1.5", "OK"};
    const std::size_t at = address.rfind('@');
    const std::string local = address.substr(0, at);
    const std::string domain = at == std::string::npos ? "" : address.substr(at + 1);
    if (domain != "feedback.example") return Reply{550, "5.7.1", "Relaying denied"};
    if (local.rfind("unknown", 0) == 0) return Reply{550, "5.1.1", "Unknown token"};
    if (local.rfind("tempfail", 0) == 0) return Reply{451, "4.3.0", "Try later"};
    if (local.rfind("bogus", 0) == 0) return Reply{999, "x", "not a reply\r\n250 injected"};
    if (local.rfind("nocode", 0) == 0) return Reply{550, "", ""};
    if (local.rfind("closing", 0) == 0) return Reply{421, "4.3.2", "Shutting down"};
    return Reply{250, "2.1.5", "Recipient OK"};
}

void TestDelegate::Deliver(const SessionInfo& session, Envelope envelope, std::string message,
                           std::function<void(Reply)> done) {
    DeliverMode mode;
    std::chrono::milliseconds delay;
    {
        std::lock_guard lock(mu_);
        ++deliver_calls_;
        mode = mode_;
        delay = delay_;
        if (mode == DeliverMode::kAccept || mode == DeliverMode::kLaterThread) {
            deliveries_.push_back(Delivery{session, envelope, message});
        }
        if (mode == DeliverMode::kNever) pending_.push_back(done);
        if (mode == DeliverMode::kLaterThread) {
            threads_.emplace_back([done, delay] {
                std::this_thread::sleep_for(delay);
                done(Reply{250, "2.0.0", "Queued on another thread"});
            });
        }
        cv_.notify_all();
    }
    switch (mode) {
        case DeliverMode::kAccept:
            done(Reply{250, "2.0.0", "Stored"});
            break;
        case DeliverMode::kTempFail:
            done(Reply{451, "4.3.0", "Storage unavailable"});
            break;
        case DeliverMode::kReject:
            done(Reply{554, "5.6.0", "Rejected by storage"});
            break;
        case DeliverMode::kClosing:
            done(Reply{421, "4.3.2", "Shutting down"});
            break;
        case DeliverMode::kLaterThread:
        case DeliverMode::kNever:
            break;
    }
}

void TestDelegate::set_mode(DeliverMode mode, std::chrono::milliseconds delay) {
    std::lock_guard lock(mu_);
    mode_ = mode;
    delay_ = delay;
}

std::vector<TestDelegate::Delivery> TestDelegate::deliveries() {
    std::lock_guard lock(mu_);
    return deliveries_;
}

std::vector<std::string> TestDelegate::checked_recipients() {
    std::lock_guard lock(mu_);
    return checked_;
}

bool TestDelegate::WaitForDeliverCalls(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return deliver_calls_ >= n; });
}

std::size_t TestDelegate::CompletePending(const Reply& reply) {
    std::vector<std::function<void(Reply)>> pending;
    {
        std::lock_guard lock(mu_);
        pending.swap(pending_);
    }
    for (auto& done : pending)
        done(reply);
    return pending.size();
}

Client::~Client() {
    Close();
}

void Client::Close() {
    if (ssl_ != nullptr) {
        SSL_free(ssl_);
        ssl_ = nullptr;
    }
    if (ctx_ != nullptr) {
        SSL_CTX_free(ctx_);
        ctx_ = nullptr;
    }
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    pending_.clear();
}

bool Client::Connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    Close();
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (host.find(':') != std::string::npos) {
        auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1) return false;
        len = sizeof(sockaddr_in6);
    } else {
        auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) return false;
        len = sizeof(sockaddr_in);
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        Close();
        return false;
    }
    return true;
}

bool Client::Send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n;
        if (ssl_ != nullptr) {
            n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
        } else {
            n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        }
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

int Client::ReadSome(char* buf, std::size_t n) {
    if (ssl_ != nullptr) {
        const int r = SSL_read(ssl_, buf, static_cast<int>(n));
        if (r > 0) return r;
        const int err = SSL_get_error(ssl_, r);
        return err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ? 0 : -1;
    }
    const ssize_t r = ::recv(fd_, buf, n, 0);
    if (r < 0) return -1;
    return static_cast<int>(r);
}

std::string Client::ReadReply() {
    std::size_t start = 0;
    for (;;) {
        // Look for the last line of a reply: "ddd " or "ddd\r\n".
        std::size_t pos = start;
        while (true) {
            const std::size_t eol = pending_.find("\r\n", pos);
            if (eol == std::string::npos) break;
            if (eol - pos >= 3 && (eol - pos == 3 || pending_[pos + 3] == ' ')) {
                std::string reply = pending_.substr(0, eol + 2);
                pending_.erase(0, eol + 2);
                return reply;
            }
            pos = eol + 2;
        }
        start = 0;
        char buf[4096];
        const int n = ReadSome(buf, sizeof buf);
        if (n <= 0) return "";
        pending_.append(buf, static_cast<std::size_t>(n));
    }
}

int Client::ReadCode() {
    return CodeOf(ReadReply());
}

bool Client::ReadEof() {
    if (!pending_.empty()) return false;
    char buf[256];
    for (;;) {
        const int n = ReadSome(buf, sizeof buf);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
        pending_.append(buf, static_cast<std::size_t>(n));
        return false;
    }
}

bool Client::StartTls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return false;
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // self-signed test certificate
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return false;
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) return false;
    pending_.clear();
    return true;
}

int CodeOf(const std::string& reply) {
    if (reply.size() < 5) return 0;
    // The last line's code.
    std::size_t last = reply.rfind("\r\n", reply.size() - 3);
    last = last == std::string::npos ? 0 : last + 2;
    int code = 0;
    for (std::size_t i = last; i < last + 3 && i < reply.size(); ++i) {
        if (reply[i] < '0' || reply[i] > '9') return 0;
        code = code * 10 + (reply[i] - '0');
    }
    return code;
}

}  // namespace rebound::smtp::testing
