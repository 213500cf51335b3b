#include "tests/support/knot_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace rebound::testing {
namespace {

constexpr const char* kKnotd = "/usr/sbin/knotd";

// A port free for both UDP and TCP on 127.0.0.1 (the kernel picks it for UDP).
int FreePort() {
    for (int attempt = 0; attempt < 20; ++attempt) {
        int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ::close(udp);
            continue;
        }
        int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
        const bool tcp_ok = ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        const int port = ntohs(addr.sin_port);
        ::close(tcp);
        ::close(udp);
        if (tcp_ok) return port;
    }
    return 0;
}

// Sends one SOA query for `origin` over UDP; true on a NOERROR answer.
bool Answers(int port, const std::string& origin) {
    unsigned char q[512] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    std::size_t n = 12;
    std::size_t start = 0;
    while (start < origin.size()) {
        std::size_t dot = origin.find('.', start);
        if (dot == std::string::npos) dot = origin.size();
        q[n++] = static_cast<unsigned char>(dot - start);
        for (std::size_t i = start; i < dot; ++i)
            q[n++] = static_cast<unsigned char>(origin[i]);
        start = dot + 1;
    }
    q[n++] = 0;
    q[n++] = 0;
    q[n++] = 6;  // SOA
    q[n++] = 0;
    q[n++] = 1;  // IN
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    bool ok = false;
    if (::sendto(fd, q, n, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == static_cast<ssize_t>(n)) {
        unsigned char r[4096];
        const ssize_t got = ::recv(fd, r, sizeof r, 0);
        ok = got >= 12 && (r[3] & 0x0F) == 0 && (r[6] != 0 || r[7] != 0);
    }
    ::close(fd);
    return ok;
}

}  // namespace

KnotServer::KnotServer() {
    char tmpl[] = "/tmp/rebound-knot-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    dir_ = dir != nullptr ? dir : "/tmp/rebound-knot";
}

KnotServer::~KnotServer() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

bool KnotServer::Available() {
    return ::access(kKnotd, X_OK) == 0;
}

std::string KnotServer::address() const {
    return "127.0.0.1:" + std::to_string(port_);
}

bool KnotServer::Start(const std::map<std::string, std::string>& zones, std::string* error) {
    if (!Available()) {
        *error = std::string(kKnotd) + " is not installed (Debian package knot; tools/install-deps)";
        return false;
    }
    if (port_ == 0) port_ = FreePort();
    if (port_ == 0) {
        *error = "no free loopback port";
        return false;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_ + "/db", ec);
    std::filesystem::create_directories(dir_ + "/db", ec);
    std::ofstream conf(dir_ + "/knot.conf");
    conf << "server:\n    listen: 127.0.0.1@" << port_ << "\n    rundir: " << dir_ << "\n"
         << "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
         << "database:\n    storage: " << dir_ << "/db\n"
         << "log:\n  - target: stderr\n    any: info\n"
         << "template:\n  - id: default\n    storage: " << dir_ << "\n    semantic-checks: soft\n"
         << "    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n"
         << "zone:\n";
    for (const auto& [origin, text] : zones) {
        const std::string file = origin + ".zone";
        std::filesystem::remove(dir_ + "/" + file, ec);
        if (!text.empty()) std::ofstream(dir_ + "/" + file) << text;
        conf << "  - domain: " << origin << "\n    file: " << file << "\n";
    }
    conf.close();
    child_ = std::make_unique<ChildProcess>();
    if (!child_->Start({kKnotd, "-c", dir_ + "/knot.conf"})) {
        *error = "cannot start knotd";
        return false;
    }
    // Ready when every zone with a file answers its SOA.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (const auto& [origin, text] : zones) {
        if (text.empty()) continue;
        while (!Answers(port_, origin)) {
            if (std::chrono::steady_clock::now() > deadline || child_->Wait(std::chrono::milliseconds(0))) {
                child_->WaitForLine("\x01", std::chrono::milliseconds(200));  // collect what it printed
                *error = "knotd did not serve " + origin + ":\n" + child_->output();
                Stop();
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    return true;
}

bool KnotServer::Restart(const std::map<std::string, std::string>& zones, std::string* error) {
    Stop();
    return Start(zones, error);
}

void KnotServer::Stop() {
    if (!child_) return;
    child_->Signal(SIGTERM);
    if (!child_->Wait(std::chrono::seconds(10))) child_->Signal(SIGKILL);
    child_->Wait(std::chrono::seconds(5));
    child_.reset();
}

std::map<std::string, std::string> ScenarioZones() {
    const std::string soa =
        "@ SOA ns.rebound.test. hostmaster.rebound.test. 1 3600 600 86400 300\n@ NS ns.rebound.test.\n";
    std::map<std::string, std::string> zones;
    zones["rebound.test"] = "$ORIGIN rebound.test.\n$TTL 300\n" + soa +
                            "ns A 127.0.0.1\n"
                            "mx1 A 127.0.0.1\n"
                            "mx2 A 127.0.0.1\n"
                            "feedback 3600 MX 10 mx1\n"
                            "feedback 3600 MX 20 mx2\n"
                            "feedback 3600 TXT \"v=spf1 include:_spf.rebound.test ~all\"\n"
                            "_spf TXT \"v=spf1 ip4:127.0.0.0/8 -all\"\n";
    const std::string spf = " TXT \"v=spf1 include:_spf.rebound.test ~all\"\n";
    zones["customer.test"] = "$ORIGIN customer.test.\n$TTL 600\n" + soa +
                             // Correct: both of Rebound's hosts, the primary preferred, SPF.
                             "feedback.good 1800 MX 10 mx1.rebound.test.\n"
                             "feedback.good 1800 MX 20 mx2.rebound.test.\n"
                             "feedback.good" +
                             spf +
                             // Rebound's backup preferred over its primary.
                             "feedback.backup MX 20 mx1.rebound.test.\n"
                             "feedback.backup MX 10 mx2.rebound.test.\n"
                             "feedback.backup" +
                             spf +
                             // The customer's own host preferred over Rebound's.
                             "feedback.foreignfirst MX 5 mail.foreignfirst.customer.test.\n"
                             "feedback.foreignfirst MX 10 mx1.rebound.test.\n"
                             "mail.foreignfirst A 192.0.2.25\n"
                             // MX to an alias of Rebound's host.
                             "feedback.mxcname MX 10 mx.mxcname.customer.test.\n"
                             "mx.mxcname CNAME mx1.rebound.test.\n"
                             // MX written as an IP address.
                             "feedback.mxip MX 10 192.0.2.10.\n"
                             // The name exists (SPF only) but has no MX.
                             "feedback.missing" +
                             spf +
                             // No MX but an address.
                             "feedback.addr A 192.0.2.5\n"
                             // CNAME mode, directly and through a chain.
                             "feedback.cname CNAME feedback.rebound.test.\n"
                             "feedback.cnamechain CNAME alias.cnamechain.customer.test.\n"
                             "alias.cnamechain CNAME feedback.rebound.test.\n"
                             "feedback.cnamewrong CNAME mail.foreignfirst.customer.test.\n"
                             // A CNAME beside an MX (loaded thanks to semantic-checks: soft).
                             "feedback.cnameplus CNAME feedback.rebound.test.\n"
                             "feedback.cnameplus MX 10 mx1.rebound.test.\n"
                             // Created on the bare domain.
                             "bare MX 10 mx1.rebound.test.\n"
                             // Zone name typed into the name field: feedback.doubled.customer.test.doubled...
                             "feedback.doubled.customer.test.doubled MX 10 mx1.rebound.test.\n"
                             // Name and value swapped.
                             "mx1.rebound.test.backwards MX 10 feedback.backwards.customer.test.\n"
                             // Correct MX, SPF without Rebound's include.
                             "feedback.spfbad MX 10 mx1.rebound.test.\n"
                             "feedback.spfbad MX 20 mx2.rebound.test.\n"
                             "feedback.spfbad TXT \"v=spf1 mx -all\"\n";
    zones["broken.test"] = "";  // configured without a file: SERVFAIL
    return zones;
}

config::DnsConfig ScenarioDnsConfig(const std::string& resolver) {
    config::DnsConfig dns;
    dns.mx_hosts = {"10 mx1.rebound.test", "20 mx2.rebound.test"};
    dns.feedback_host = "feedback.rebound.test";
    dns.spf_include = "_spf.rebound.test";
    dns.resolvers = {resolver};
    dns.timeout_ms = 300;
    dns.tries = 1;
    return dns;
}

std::string DeadResolverAddress() {
    return "127.0.0.1:" + std::to_string(FreePort());
}

}  // namespace rebound::testing
