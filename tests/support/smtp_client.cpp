#include "tests/support/smtp_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace rebound::testing {

SmtpClient::~SmtpClient() {
    Close();
}

bool SmtpClient::Connect(const std::string& host, int port) {
    Close();
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return false;
    fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok = fd_ >= 0 && ::connect(fd_, res->ai_addr, res->ai_addrlen) == 0;
    ::freeaddrinfo(res);
    if (!ok) Close();
    greeted_ = false;
    buffer_.clear();
    return ok;
}

void SmtpClient::Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool SmtpClient::SendRaw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

SmtpReply SmtpClient::Read(std::chrono::milliseconds timeout) {
    SmtpReply reply;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        // Complete lines in the buffer: a reply ends with a line whose 4th char is a space.
        std::size_t nl;
        while ((nl = buffer_.find("\r\n")) != std::string::npos) {
            const std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 2);
            if (line.size() < 3) continue;
            if (!reply.text.empty()) reply.text += '\n';
            reply.text += line.size() > 4 ? line.substr(4) : "";
            if (line.size() == 3 || line[3] == ' ') {
                reply.code = std::atoi(line.substr(0, 3).c_str());
                return reply;
            }
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (fd_ < 0 || left.count() <= 0) return SmtpReply{};
        pollfd pfd{fd_, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return SmtpReply{};
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return SmtpReply{};
        buffer_.append(buf, static_cast<std::size_t>(n));
    }
}

SmtpReply SmtpClient::Command(const std::string& line) {
    if (!SendRaw(line + "\r\n")) return SmtpReply{};
    return Read();
}

SmtpReply SmtpClient::Send(const std::string& mail_from, const std::vector<std::string>& rcpts,
                           const std::string& message) {
    if (!greeted_) {
        SmtpReply greeting = Read();
        if (greeting.code != 220) return greeting;
        SmtpReply ehlo = Command("EHLO client.test");
        if (ehlo.code != 250) return ehlo;
        greeted_ = true;
    }
    SmtpReply r = Command("MAIL FROM:<" + mail_from + ">");
    if (r.code != 250) return r;
    bool any = false;
    SmtpReply last;
    for (const auto& rcpt : rcpts) {
        last = Command("RCPT TO:<" + rcpt + ">");
        any = any || last.code == 250;
    }
    if (!any) {
        Command("RSET");
        return last;
    }
    r = Command("DATA");
    if (r.code != 354) return r;
    std::string data;
    std::istringstream in(ToCrlf(message));
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty() && line[0] == '.') data += '.';
        data += line + "\r\n";
    }
    data += ".\r\n";
    if (!SendRaw(data)) return SmtpReply{};
    return Read(std::chrono::seconds(30));
}

std::string ToCrlf(const std::string& text) {
    std::string out;
    out.reserve(text.size() + text.size() / 30);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
    return out;
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

}  // namespace rebound::testing
