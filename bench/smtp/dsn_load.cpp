// SMTP load of real-looking bounces: S sessions, each a connection reused for its share of
// N messages, every message a distinct RFC 3464 DSN of about SIZE bytes sent with the null
// sender to its own envelope token (mailing 1, recipient n), as an MX sees bounces of a
// mailing. Where smtp-source sends one fixed text, these are parsed into events, attributed
// and run through the suppression policy. The same messages can be sent to any SMTP server
// (smtp-sink for the reference); tokens need the account and master key of the target.
//
//   dsn_load --port P --sessions S --messages N [--size 4096] [--account A --master-key HEX
//            --domain feedback.example.test]     (without --account the tokens are fakes)
//   dsn_load --dump N [--size 4096]              (prints message N)
// Prints "<messages> <seconds> <messages/s> <non-2xx replies>".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "services/common/strings.h"
#include "services/envelope/codec.h"

namespace {

using namespace rebound;

struct Options {
    int port = 0;
    int sessions = 10;
    long messages = 10000;
    std::size_t size = 4096;
    std::uint64_t account = 0;
    std::string master_key;
    std::string domain = "feedback.example.test";
    long dump = -1;  // --dump N: print message N and exit, to check what is sent
};

class Conn {
  public:
    explicit Conn(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            std::perror("dsn_load: connect");
            std::exit(1);
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~Conn() { ::close(fd_); }

    void Send(const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) {
                std::perror("dsn_load: send");
                std::exit(1);
            }
            off += static_cast<std::size_t>(n);
        }
    }

    // The code of the next complete reply (multi-line replies read to their last line).
    int Reply() {
        while (true) {
            const std::size_t eol = buf_.find("\r\n");
            if (eol != std::string::npos) {
                const std::string line = buf_.substr(0, eol);
                buf_.erase(0, eol + 2);
                if (line.size() >= 4 && line[3] == '-') continue;
                return line.size() >= 3 ? std::atoi(line.substr(0, 3).c_str()) : 0;
            }
            char tmp[4096];
            const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n <= 0) {
                std::fprintf(stderr, "dsn_load: connection closed\n");
                std::exit(1);
            }
            buf_.append(tmp, static_cast<std::size_t>(n));
        }
    }

  private:
    int fd_;
    std::string buf_;
};

// The bounced address is user<n>.<pid>: distinct across runs, so each run's hard bounces
// suppress new recipients.
std::string Dsn(long n, const std::string& rcpt, std::size_t size) {
    const std::string id = StrCat(n, ".", ::getpid());
    const std::string user = StrCat("user", n, ".", ::getpid());
    std::string m = StrCat(
        "Return-Path: <>\r\nReceived: from mx.example.org (mx.example.org [192.0.2.25]) by bench\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: <",
        rcpt, ">\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: Sun, 22 Nov 2026 07:00:00 +0000\r\n",
        "Message-ID: <dsn.", id, "@mx.example.org>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b-", id, "\"\r\n\r\n",
        "This is a MIME-encapsulated message.\r\n\r\n--b-", id,
        "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        "This is the mail system at host mx.example.org.\r\n\r\n",
        "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more "
        "recipients.\r\n\r\n",
        "<", user, "@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1\r\n", "    <", user,
        "@example.org>: Recipient address rejected: User unknown in\r\n    local recipient table\r\n");
    // Pad the human-readable part so the whole message is about `size` bytes.
    const std::size_t tail = 700;
    while (m.size() + tail < size)
        m += "    (the mail system keeps this text for your records; nothing to do here)\r\n";
    StrAppend(&m, "\r\n--b-", id, "\r\nContent-Type: message/delivery-status\r\n\r\n",
              "Reporting-MTA: dns; mx.example.org\r\nArrival-Date: Sun, 22 Nov 2026 06:59:58 +0000\r\n\r\n",
              "Final-Recipient: rfc822; ", user, "@example.org\r\nOriginal-Recipient: rfc822;", user,
              "@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n",
              "Remote-MTA: dns; mx.example.org\r\nDiagnostic-Code: smtp; 550 5.1.1 <", user,
              "@example.org>: Recipient\r\n    address rejected: User unknown in local recipient table\r\n\r\n--b-", id,
              "\r\nContent-Type: text/rfc822-headers\r\n\r\n", "Return-Path: <", rcpt,
              ">\r\nFrom: News <news@customer.example>\r\nTo: <", user, "@example.org>\r\n",
              "Subject: Our November offers\r\nMessage-ID: <m1.r", n, "@customer.example>\r\n\r\n--b-", id, "--\r\n");
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string f = argv[i];
        const char* v = argv[i + 1];
        if (f == "--port") {
            o.port = std::atoi(v);
        } else if (f == "--sessions") {
            o.sessions = std::atoi(v);
        } else if (f == "--messages") {
            o.messages = std::atol(v);
        } else if (f == "--size") {
            o.size = static_cast<std::size_t>(std::atol(v));
        } else if (f == "--account") {
            o.account = std::strtoull(v, nullptr, 10);
        } else if (f == "--master-key") {
            o.master_key = v;
        } else if (f == "--domain") {
            o.domain = v;
        } else if (f == "--dump") {
            o.dump = std::atol(v);
        } else {
            std::fprintf(stderr, "dsn_load: unknown option %s\n", f.c_str());
            return 2;
        }
    }
    if (o.dump >= 0) {
        std::fputs(Dsn(o.dump, StrCat("b", o.dump, "@", o.domain), o.size).c_str(), stdout);
        return 0;
    }
    if (o.port <= 0 || o.sessions <= 0 || o.messages <= 0) {
        std::fprintf(stderr,
                     "usage: dsn_load --port P --sessions S --messages N [--size B] [--account A "
                     "--master-key HEX --domain D]\n");
        return 2;
    }
    // Envelope addresses of the target account (mailing 1, recipient n), made up front.
    std::vector<std::string> rcpts(static_cast<std::size_t>(o.messages));
    const auto today = static_cast<std::uint32_t>(std::time(nullptr) / 86400);
    if (o.account != 0) {
        auto codec = envelope::Codec::Create(o.master_key, "", 60);
        if (!codec.ok()) {
            std::fprintf(stderr, "dsn_load: %s\n", codec.status().ToString().c_str());
            return 2;
        }
        auto encoder = codec->ForAccount({o.account, 1, {}});
        if (!encoder.ok()) return 2;
        for (long n = 0; n < o.messages; ++n)
            rcpts[static_cast<std::size_t>(n)] =
                StrCat(encoder->Encode(1, static_cast<std::uint64_t>(n), today), "@", o.domain);
    } else {
        for (long n = 0; n < o.messages; ++n)
            rcpts[static_cast<std::size_t>(n)] = StrCat("b", n, "@", o.domain);
    }
    std::atomic<long> next{0};
    std::atomic<long> failures{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int s = 0; s < o.sessions; ++s) {
        threads.emplace_back([&] {
            Conn c(o.port);
            if (c.Reply() != 220) std::exit(1);
            c.Send("EHLO load.example\r\n");
            if (c.Reply() != 250) std::exit(1);
            for (long n = next.fetch_add(1); n < o.messages; n = next.fetch_add(1)) {
                const std::string& rcpt = rcpts[static_cast<std::size_t>(n)];
                const std::string body = Dsn(n, rcpt, o.size);
                // PIPELINING: the envelope and DATA in one write, then the message.
                c.Send(StrCat("MAIL FROM:<>\r\nRCPT TO:<", rcpt, ">\r\nDATA\r\n"));
                c.Reply();  // MAIL
                c.Reply();  // RCPT
                if (c.Reply() != 354) {
                    failures.fetch_add(1);
                    c.Send("RSET\r\n");
                    c.Reply();
                    continue;
                }
                c.Send(body + ".\r\n");
                if (c.Reply() / 100 != 2) failures.fetch_add(1);
            }
            c.Send("QUIT\r\n");
            c.Reply();
        });
    }
    for (auto& t : threads)
        t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%ld %.3f %.0f %ld\n", o.messages, secs, static_cast<double>(o.messages) / secs, failures.load());
    return failures.load() == 0 ? 0 : 1;
}
