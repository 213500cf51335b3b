#pragma once
// A blocking SMTP client for tests over loopback: raw lines out, parsed replies in.

#include <chrono>
#include <string>
#include <vector>

namespace rebound::testing {

struct SmtpReply {
    int code = 0;      // 0 when the connection closed or timed out
    std::string text;  // all lines joined by '\n', codes stripped
};

class SmtpClient {
  public:
    SmtpClient() = default;
    ~SmtpClient();
    SmtpClient(const SmtpClient&) = delete;
    SmtpClient& operator=(const SmtpClient&) = delete;

    bool Connect(const std::string& host, int port);
    void Close();
    // Sends bytes as they are (add "\r\n" yourself).
    bool SendRaw(const std::string& bytes);
    SmtpReply Read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Sends "line\r\n" and reads one reply.
    SmtpReply Command(const std::string& line);

    // Greeting + EHLO + one transaction with dot-stuffing; returns the reply to the final
    // dot (or the first failing reply). `message` may use LF or CRLF line ends.
    SmtpReply Send(const std::string& mail_from, const std::vector<std::string>& rcpts, const std::string& message);

  private:
    int fd_ = -1;
    std::string buffer_;
    bool greeted_ = false;
};

// LF -> CRLF (existing CRLF kept), and a final CRLF ensured.
std::string ToCrlf(const std::string& text);
// Reads a whole file; empty on failure.
std::string ReadFile(const std::string& path);

}  // namespace rebound::testing
