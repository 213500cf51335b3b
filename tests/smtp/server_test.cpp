// Scripted SMTP dialogues against the real Server on loopback sockets.

#include "services/smtp/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "services/smtp/tls.h"
#include "tests/smtp/test_support.h"
#include "tests/support/threads.h"

namespace rebound::smtp {
namespace {

using std::chrono::milliseconds;
using testing::Client;
using testing::CodeOf;
using testing::TestDelegate;
using Mode = TestDelegate::DeliverMode;

// "250 2.1.5 ..." (the last line of the reply) starts with code and enhanced code.
::testing::AssertionResult ReplyIs(const std::string& reply, int code, const std::string& enhanced = "") {
    if (CodeOf(reply) != code) {
        return ::testing::AssertionFailure() << "expected " << code << ", got \"" << reply << "\"";
    }
    if (!enhanced.empty()) {
        const std::size_t last = reply.rfind("\r\n", reply.size() - 3);
        const std::string line = reply.substr(last == std::string::npos ? 0 : last + 2);
        if (line.compare(4, enhanced.size() + 1, enhanced + " ") != 0) {
            return ::testing::AssertionFailure()
                   << "expected " << code << " " << enhanced << ", got \"" << reply << "\"";
        }
    }
    return ::testing::AssertionSuccess();
}

// Every line is "ddd[ -]c.s.d text" with class 2, 4 or 5 (no std::regex: GCC 12 warns
// inside it under -fsanitize).
bool HasEnhancedCode(const std::string& reply) {
    auto digits = [](std::string_view s, std::size_t* i, std::size_t min, std::size_t max) {
        std::size_t n = 0;
        while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9' && n < max)
            ++*i, ++n;
        return n >= min;
    };
    std::size_t pos = 0;
    while (pos < reply.size()) {
        const std::size_t eol = reply.find("\r\n", pos);
        const std::string_view line = std::string_view(reply).substr(pos, eol - pos);
        std::size_t i = 0;
        if (!digits(line, &i, 3, 3) || i >= line.size() || (line[i] != ' ' && line[i] != '-')) return false;
        ++i;
        if (i >= line.size() || (line[i] != '2' && line[i] != '4' && line[i] != '5')) return false;
        ++i;
        if (i >= line.size() || line[i++] != '.' || !digits(line, &i, 1, 3)) return false;
        if (i >= line.size() || line[i++] != '.' || !digits(line, &i, 1, 3)) return false;
        if (i >= line.size() || line[i] != ' ') return false;
        pos = eol + 2;
    }
    return true;
}

class SmtpServerTest : public ::testing::Test {
  protected:
    static ServerOptions DefaultOptions() {
        ServerOptions o;
        o.listen = {"127.0.0.1:0"};
        o.hostname = "mx.test";
        o.threads = 2;
        o.limits.command_timeout = milliseconds(3000);
        o.limits.session_deadline = milliseconds(60'000);
        o.limits.max_message_bytes = 64 * 1024;
        o.limits.max_recipients = 5;
        o.limits.max_messages_per_connection = 3;
        o.limits.max_errors = 20;
        o.limits.min_data_rate_bytes_per_second = 0;
        return o;
    }

    void StartServer(ServerOptions options) {
        server_ = std::make_unique<Server>(std::move(options), &delegate_);
        absl::Status s = server_->Start();
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_FALSE(server_->endpoints().empty());
        port_ = server_->endpoints()[0].port;
        ASSERT_NE(port_, 0);
    }

    void SetUp() override {
        if (!::testing::Test::HasFatalFailure() && start_in_setup_) StartServer(DefaultOptions());
    }

    // A connected client that has read the greeting.
    std::unique_ptr<Client> Connect() {
        auto c = std::make_unique<Client>();
        EXPECT_TRUE(c->Connect("127.0.0.1", port_));
        EXPECT_TRUE(ReplyIs(c->ReadReply(), 220));
        return c;
    }

    static std::string Cmd(Client& c, const std::string& line) {
        EXPECT_TRUE(c.Send(line + "\r\n"));
        return c.ReadReply();
    }

    // EHLO, MAIL, one RCPT, DATA, body, dot; returns the reply to the dot.
    static std::string SendMessage(Client& c, const std::string& body,
                                   const std::string& rcpt = "tok1@feedback.example") {
        EXPECT_TRUE(ReplyIs(Cmd(c, "MAIL FROM:<sender@origin.example>"), 250, "2.1.0"));
        EXPECT_TRUE(ReplyIs(Cmd(c, "RCPT TO:<" + rcpt + ">"), 250, "2.1.5"));
        EXPECT_TRUE(ReplyIs(Cmd(c, "DATA"), 354));
        EXPECT_TRUE(c.Send(body));
        return Cmd(c, ".");
    }

    bool start_in_setup_ = true;
    TestDelegate delegate_;
    std::unique_ptr<Server> server_;
    std::uint16_t port_ = 0;
};

TEST_F(SmtpServerTest, GreetingAndEhloAdvertiseExtensions) {
    Client c;
    ASSERT_TRUE(c.Connect("127.0.0.1", port_));
    const std::string greeting = c.ReadReply();
    EXPECT_EQ(greeting.rfind("220 mx.test ", 0), 0u) << greeting;
    const std::string ehlo = Cmd(c, "EHLO client.example");
    EXPECT_TRUE(ReplyIs(ehlo, 250));
    EXPECT_NE(ehlo.find("250-mx.test greets client.example\r\n"), std::string::npos) << ehlo;
    for (const char* ext : {"PIPELINING", "8BITMIME", "SIZE 65536", "ENHANCEDSTATUSCODES", "SMTPUTF8"}) {
        EXPECT_NE(ehlo.find(ext), std::string::npos) << ext;
    }
    EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << "no TLS configured";
    EXPECT_EQ(ehlo.find("CHUNKING"), std::string::npos);
    EXPECT_TRUE(ReplyIs(Cmd(c, "HELO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(c, "QUIT"), 221, "2.0.0"));
    EXPECT_TRUE(c.ReadEof());
}

TEST_F(SmtpServerTest, DeliversMessageWithDotStuffingRemoved) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    const std::string body = "Subject: bounce\r\n\r\n..leading dot\r\n.\tdot tab\r\nlast line\r\n";
    EXPECT_TRUE(ReplyIs(SendMessage(*c, body), 250, "2.0.0"));
    std::vector<TestDelegate::Delivery> d = delegate_.deliveries();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].message, "Subject: bounce\r\n\r\n.leading dot\r\n\tdot tab\r\nlast line\r\n");
    EXPECT_EQ(d[0].envelope.mail_from, "sender@origin.example");
    EXPECT_EQ(d[0].envelope.recipients, std::vector<std::string>{"tok1@feedback.example"});
    EXPECT_EQ(d[0].session.helo, "client.example");
    EXPECT_EQ(d[0].session.client_address, "127.0.0.1");
    EXPECT_FALSE(d[0].session.tls);
    EXPECT_EQ(server_->counters().messages_accepted.load(), 1u);
    EXPECT_EQ(server_->counters().bytes_accepted.load(), d[0].message.size());
}

TEST_F(SmtpServerTest, NullSenderParametersAndSeveralRecipients) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<> SIZE=100 BODY=8BITMIME SMTPUTF8"), 250, "2.1.0"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<a@feedback.example>"), 250, "2.1.5"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<Postmaster>"), 250, "2.1.5"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<b\xc3\xa9@feedback.example>"), 250, "2.1.5"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    ASSERT_TRUE(c->Send("Subject: x\r\n\r\n\xe2\x82\xac\r\n.\r\n"));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 250));
    std::vector<TestDelegate::Delivery> d = delegate_.deliveries();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].envelope.mail_from, "");
    EXPECT_TRUE(d[0].envelope.smtputf8);
    EXPECT_TRUE(d[0].envelope.eight_bit);
    EXPECT_EQ(d[0].envelope.recipients,
              (std::vector<std::string>{"a@feedback.example", "postmaster", "b\xc3\xa9@feedback.example"}));
}

TEST_F(SmtpServerTest, NonAsciiAddressNeedsSmtpUtf8) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<j\xc3\xb6rg@origin.example>"), 553, "5.6.7"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<sender@origin.example>"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<b\xc3\xa9@feedback.example>"), 553, "5.6.7"));
}

struct StateCase {
    std::string command;
    int init, ready, mail, rcpt;  // expected code in each state
};

TEST_F(SmtpServerTest, EveryCommandInEveryState) {
    const std::vector<std::string> setups[] = {
        {},
        {"EHLO client.example"},
        {"EHLO client.example", "MAIL FROM:<s@origin.example>"},
        {"EHLO client.example", "MAIL FROM:<s@origin.example>", "RCPT TO:<t@feedback.example>"},
    };
    const std::vector<StateCase> cases = {
        {"EHLO client.example", 250, 250, 250, 250},
        {"HELO client.example", 250, 250, 250, 250},
        {"EHLO", 501, 501, 501, 501},
        {"MAIL FROM:<a@b.example>", 503, 250, 503, 503},
        {"RCPT TO:<t2@feedback.example>", 503, 503, 250, 250},
        {"DATA", 503, 503, 503, 354},
        {"DATA now", 503, 503, 503, 501},
        {"RSET", 250, 250, 250, 250},
        {"RSET x", 501, 501, 501, 501},
        {"NOOP", 250, 250, 250, 250},
        {"NOOP anything", 250, 250, 250, 250},
        {"VRFY postmaster", 252, 252, 252, 252},
        {"VRFY", 501, 501, 501, 501},
        {"EXPN list", 502, 502, 502, 502},
        {"HELP", 214, 214, 214, 214},
        {"STARTTLS", 502, 502, 503, 503},
        {"BDAT 10 LAST", 502, 502, 502, 502},
        {"AUTH PLAIN", 502, 502, 502, 502},
        {"FOO bar", 500, 500, 500, 500},
        {"", 500, 500, 500, 500},
        {"QUIT", 221, 221, 221, 221},
    };
    for (const StateCase& sc : cases) {
        const int expected[] = {sc.init, sc.ready, sc.mail, sc.rcpt};
        for (int state = 0; state < 4; ++state) {
            SCOPED_TRACE(::testing::Message() << "state " << state << " command \"" << sc.command << "\"");
            auto c = Connect();
            for (const std::string& s : setups[state])
                ASSERT_EQ(CodeOf(Cmd(*c, s)), 250) << s;
            const std::string reply = Cmd(*c, sc.command);
            EXPECT_TRUE(ReplyIs(reply, expected[state]));
            const bool helo = sc.command.rfind("EHLO ", 0) == 0 || sc.command.rfind("HELO ", 0) == 0;
            if (!helo && expected[state] != 354) {
                EXPECT_TRUE(HasEnhancedCode(reply)) << reply;
            }
            if (expected[state] == 221) {
                EXPECT_TRUE(c->ReadEof());
            }
        }
    }
}

TEST_F(SmtpServerTest, SequenceRepliesNameTheMissingStep) {
    auto c = Connect();
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<a@b.example>"), 503, "5.5.1"));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 503, "5.5.1"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<a@b.example>"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<a@b.example>"), 503, "5.5.1"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "DATA"), 503, "5.5.1"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RSET"), 250, "2.0.0"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 503, "5.5.1")) << "RSET ends the transaction";
}

TEST_F(SmtpServerTest, EhloInsideATransactionResetsIt) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "HELO again.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "DATA"), 503, "5.5.1"));
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "after helo\r\n"), 250));
    ASSERT_EQ(delegate_.deliveries().size(), 1u);
    EXPECT_EQ(delegate_.deliveries()[0].session.helo, "again.example");
}

TEST_F(SmtpServerTest, SessionCountersFollowConnections) {
    {
        auto a = Connect();
        auto b = Connect();
        EXPECT_TRUE(ReplyIs(Cmd(*a, "NOOP"), 250));
        EXPECT_TRUE(ReplyIs(Cmd(*b, "NOOP"), 250));
        EXPECT_EQ(server_->counters().sessions_active.load(), 2u);
    }
    for (int i = 0; i < 200 && server_->counters().sessions_active.load() != 0; ++i) {
        std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_EQ(server_->counters().sessions_active.load(), 0u) << "closed by the client, without QUIT";
    EXPECT_EQ(server_->counters().sessions.load(), 2u);
}

// One event loop thread per configured thread, named for `top -H` and perf, and joined at
// shutdown.
TEST_F(SmtpServerTest, EventLoopThreadsAreNamedAndEndWithTheServer) {
    EXPECT_EQ(rebound::testing::CountThreadsNamed("smtp-io"), 2);
    server_->Shutdown(milliseconds(0));
    EXPECT_EQ(rebound::testing::CountThreadsNamed("smtp-io"), 0);
}

TEST_F(SmtpServerTest, SyntaxErrors) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:sender@origin.example"), 501, "5.5.4"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<not an address>"), 501, "5.1.7"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<a@b.example> FOO=BAR"), 555, "5.5.4"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<a@b.example>"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<no-domain>"), 501, "5.1.3"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<a@feedback.example> NOTIFY=NEVER"), 555, "5.5.4"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO <a@feedback.example>"), 501, "5.5.4"));
    EXPECT_GE(server_->counters().syntax.load(), 6u);
}

TEST_F(SmtpServerTest, RecipientDecisionsComeFromTheDelegate) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<unknown1@feedback.example>"), 550, "5.1.1"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<x@elsewhere.example>"), 550, "5.7.1"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<tempfail@feedback.example>"), 451, "4.3.0"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "DATA"), 554, "5.5.1")) << "no valid recipients";
    EXPECT_EQ(server_->counters().rcpt_unknown.load(), 1u);
    EXPECT_EQ(server_->counters().relay_denied.load(), 1u);
    EXPECT_EQ(server_->counters().rcpt_temporary.load(), 1u);
    EXPECT_TRUE(delegate_.deliveries().empty());
}

TEST_F(SmtpServerTest, MalformedDelegateRepliesAreMadeSafe) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    const std::string bogus = Cmd(*c, "RCPT TO:<bogus@feedback.example>");
    EXPECT_TRUE(ReplyIs(bogus, 451, "4.3.0")) << bogus;
    EXPECT_EQ(bogus.find("injected"), std::string::npos);
    const std::string nocode = Cmd(*c, "RCPT TO:<nocode@feedback.example>");
    EXPECT_TRUE(ReplyIs(nocode, 550, "5.0.0")) << nocode;
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP"), 250)) << "no stray reply line was injected";
}

TEST_F(SmtpServerTest, ManyConcurrentSessions) {
    constexpr int kClients = 40;
    constexpr int kMessages = 3;  // the fixture allows 3 per connection
    std::vector<std::thread> clients;
    std::atomic<int> accepted{0};
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([this, i, &accepted] {
            Client c;
            if (!c.Connect("127.0.0.1", port_) || CodeOf(c.ReadReply()) != 220) return;
            std::string batch = "EHLO c" + std::to_string(i) + ".example\r\n";
            for (int m = 0; m < kMessages; ++m) {
                batch += "MAIL FROM:<>\r\nRCPT TO:<t" + std::to_string(i) + "@feedback.example>\r\nDATA\r\n";
                batch += "client " + std::to_string(i) + " message " + std::to_string(m) + "\r\n.\r\n";
            }
            batch += "QUIT\r\n";
            if (!c.Send(batch)) return;
            if (CodeOf(c.ReadReply()) != 250) return;
            for (int m = 0; m < kMessages; ++m) {
                if (c.ReadCode() != 250 || c.ReadCode() != 250 || c.ReadCode() != 354) return;
                if (c.ReadCode() == 250) ++accepted;
            }
            c.ReadReply();
        });
    }
    for (auto& t : clients)
        t.join();
    EXPECT_EQ(accepted.load(), kClients * kMessages);
    EXPECT_EQ(delegate_.deliveries().size(), static_cast<std::size_t>(kClients * kMessages));
    for (const auto& d : delegate_.deliveries()) {
        // Each message reached the delegate with its own session's envelope.
        const std::string rcpt = d.envelope.recipients.at(0);
        const std::string client = rcpt.substr(1, rcpt.find('@') - 1);
        EXPECT_EQ(d.message.rfind("client " + client + " message ", 0), 0u) << d.message;
        EXPECT_EQ(d.session.helo, "c" + client + ".example");
    }
}

TEST_F(SmtpServerTest, PipelinedTransactionInOneWrite) {
    auto c = Connect();
    ASSERT_TRUE(c->Send(
        "EHLO client.example\r\nMAIL FROM:<>\r\nRCPT TO:<t1@feedback.example>\r\nRCPT TO:<unknown@feedback.example>\r\n"
        "RCPT TO:<t2@feedback.example>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\n"
        "MAIL FROM:<>\r\nRCPT TO:<t3@feedback.example>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n"));
    const int expected[] = {250, 250, 250, 550, 250, 354, 250, 250, 250, 354, 250, 221};
    for (int code : expected)
        EXPECT_EQ(c->ReadCode(), code);
    EXPECT_TRUE(c->ReadEof());
    std::vector<TestDelegate::Delivery> d = delegate_.deliveries();
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].envelope.recipients, (std::vector<std::string>{"t1@feedback.example", "t2@feedback.example"}));
    EXPECT_EQ(d[0].message, "Subject: p\r\n\r\nbody\r\n");
    EXPECT_EQ(d[1].message, "second\r\n");
}

TEST_F(SmtpServerTest, PipelinedRepliesAreBatched) {
    auto c = Connect();
    ASSERT_TRUE(c->Send("NOOP\r\nNOOP\r\nNOOP\r\n"));
    // All three replies arrive, in order, without waiting for more input.
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(ReplyIs(c->ReadReply(), 250, "2.0.0"));
}

TEST_F(SmtpServerTest, DeclaredSizeOverLimitIsRejectedAtMail) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<> SIZE=65537"), 552, "5.3.4"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<> SIZE=65536"), 250));
    EXPECT_EQ(server_->counters().size.load(), 1u);
}

TEST_F(SmtpServerTest, OversizeWithoutSizeIsRejectedAfterTheDataAndSessionContinues) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    std::string big;
    while (big.size() < 70 * 1024)
        big += std::string(70, 'x') + "\r\n";
    EXPECT_TRUE(ReplyIs(SendMessage(*c, big), 552, "5.3.4"));
    EXPECT_TRUE(delegate_.deliveries().empty());
    // The next transaction on the same connection works.
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "small\r\n"), 250));
    ASSERT_EQ(delegate_.deliveries().size(), 1u);
    EXPECT_EQ(delegate_.deliveries()[0].message, "small\r\n");
}

TEST_F(SmtpServerTest, OversizeWithUnderstatedSize) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<> SIZE=10"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    std::string big;
    while (big.size() < 66 * 1024)
        big += std::string(998, 'y') + "\r\n";
    ASSERT_TRUE(c->Send(big + ".\r\n"));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 552, "5.3.4"));
    EXPECT_TRUE(delegate_.deliveries().empty());
}

TEST_F(SmtpServerTest, MessageExactlyAtTheLimitIsAccepted) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    std::string body;
    while (body.size() + 100 <= 64 * 1024)
        body += std::string(98, 'z') + "\r\n";
    body += std::string(64 * 1024 - body.size() - 2, 'w') + "\r\n";
    ASSERT_EQ(body.size(), 64u * 1024);
    EXPECT_TRUE(ReplyIs(SendMessage(*c, body), 250));
}

TEST_F(SmtpServerTest, TooManyRecipients) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t" + std::to_string(i) + "@feedback.example>"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t9@feedback.example>"), 452, "4.5.3"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    ASSERT_TRUE(c->Send("x\r\n.\r\n"));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 250));
    ASSERT_EQ(delegate_.deliveries().size(), 1u);
    EXPECT_EQ(delegate_.deliveries()[0].envelope.recipients.size(), 5u);
    EXPECT_EQ(server_->counters().too_many_recipients.load(), 1u);
}

TEST_F(SmtpServerTest, TooManyMessagesPerConnection) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(ReplyIs(SendMessage(*c, "m\r\n"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 421, "4.7.0"));
    EXPECT_TRUE(c->ReadEof());
    EXPECT_EQ(server_->counters().too_many_messages.load(), 1u);
}

TEST_F(SmtpServerTest, CommandLineTooLong) {
    auto c = Connect();
    // 510 octets + CR LF = 512 is allowed; 511 + CR LF is not.
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP " + std::string(505, 'a')), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP " + std::string(506, 'a')), 500, "5.5.2"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP " + std::string(100'000, 'a')), 500, "5.5.2"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP"), 250)) << "the session goes on after the overlong line";
    EXPECT_EQ(server_->counters().line_too_long.load(), 2u);
}

TEST_F(SmtpServerTest, BareLfAndBareCrInCommands) {
    auto c = Connect();
    ASSERT_TRUE(c->Send("NOOP\n"));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 500, "5.5.2"));
    ASSERT_TRUE(c->Send("NO\rOP\r\n"));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 500, "5.5.2"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP"), 250));
    EXPECT_EQ(server_->counters().bare_lf.load(), 2u);
}

TEST_F(SmtpServerTest, BareLfInDataDropsTheWholeMessage) {
    // The smuggling pattern: "\n.\n" or "\n.\r\n" must not end the data; the whole
    // message is refused once the real end arrives, and nothing is delivered.
    const std::vector<std::string> payloads = {
        "Subject: a\r\n\r\nhello\n.\nMAIL FROM:<evil@x.example>\r\n",
        "Subject: a\r\n\r\nhello\n.\r\nMAIL FROM:<evil@x.example>\r\n",
        "Subject: a\r\n\r\nhello\r\n.\nRCPT TO:<evil@feedback.example>\r\n",
        "Subject: a\r\n\r\nhello\r\n.\r.\r\nbody\r\n",
    };
    for (const std::string& payload : payloads) {
        SCOPED_TRACE(payload);
        auto c = Connect();
        ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
        EXPECT_TRUE(ReplyIs(SendMessage(*c, payload), 554, "5.6.11"));
        EXPECT_TRUE(ReplyIs(Cmd(*c, "RSET"), 250)) << "only one reply for the whole data";
    }
    EXPECT_TRUE(delegate_.deliveries().empty());
    EXPECT_EQ(server_->counters().bare_lf.load(), payloads.size());
}

TEST_F(SmtpServerTest, DataLineTooLongRejectsTheMessage) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(SendMessage(*c, std::string(5000, 'q') + "\r\nok\r\n"), 554, "5.6.0"));
    EXPECT_TRUE(delegate_.deliveries().empty());
}

TEST_F(SmtpServerTest, DelegateTemporaryFailureIs451) {
    delegate_.set_mode(Mode::kTempFail);
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "x\r\n"), 451, "4.3.0"));
    EXPECT_EQ(server_->counters().messages_deferred.load(), 1u);
    delegate_.set_mode(Mode::kReject);
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "x\r\n"), 554, "5.6.0"));
    EXPECT_EQ(server_->counters().messages_rejected.load(), 1u);
    EXPECT_EQ(server_->counters().messages_accepted.load(), 0u);
}

TEST_F(SmtpServerTest, Delegate421ClosesTheConnection) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<closing@feedback.example>"), 421, "4.3.2"));
    EXPECT_TRUE(c->ReadEof());

    delegate_.set_mode(Mode::kClosing);
    auto d = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*d, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(SendMessage(*d, "x\r\n"), 421, "4.3.2"));
    EXPECT_TRUE(d->ReadEof());
    EXPECT_EQ(server_->counters().messages_deferred.load(), 1u);
}

TEST_F(SmtpServerTest, DeliverCompletingOnAnotherThreadAfterDelay) {
    delegate_.set_mode(Mode::kLaterThread, milliseconds(300));
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "x\r\n"), 250, "2.0.0"));
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(290)) << "no reply before done()";
    // Several sessions at once, all waiting on other threads.
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([this, &ok] {
            auto cc = Connect();
            if (CodeOf(Cmd(*cc, "EHLO c.example")) == 250 && CodeOf(SendMessage(*cc, "y\r\n")) == 250) ++ok;
        });
    }
    for (auto& t : clients)
        t.join();
    EXPECT_EQ(ok.load(), 8);
    EXPECT_EQ(server_->counters().messages_accepted.load(), 9u);
}

TEST_F(SmtpServerTest, ErrorLimitCloses) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.max_errors = 3;
    StartServer(o);
    auto c = Connect();
    EXPECT_TRUE(ReplyIs(Cmd(*c, "FOO"), 500));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "BAR"), 500));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<x@y.example>"), 503));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 421, "4.7.0"));
    EXPECT_TRUE(c->ReadEof());
    EXPECT_EQ(server_->counters().errors_exceeded.load(), 1u);
}

TEST_F(SmtpServerTest, CommandTimeout) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.command_timeout = milliseconds(600);
    StartServer(o);
    auto c = Connect();
    EXPECT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 421, "4.4.2"));
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(550));
    EXPECT_TRUE(c->ReadEof());
    EXPECT_EQ(server_->counters().timeout.load(), 1u);
}

TEST_F(SmtpServerTest, TimeoutInsideData) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.command_timeout = milliseconds(600);
    StartServer(o);
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    ASSERT_TRUE(c->Send("partial\r\n"));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 421, "4.4.2"));
    EXPECT_TRUE(delegate_.deliveries().empty());
}

TEST_F(SmtpServerTest, SessionDeadline) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.session_deadline = milliseconds(600);
    StartServer(o);
    auto c = Connect();
    // Busy but never idle long enough for the command timeout.
    std::string last;
    for (int i = 0; i < 30; ++i) {
        last = Cmd(*c, "NOOP");
        if (CodeOf(last) != 250) break;
        std::this_thread::sleep_for(milliseconds(50));
    }
    EXPECT_TRUE(ReplyIs(last, 421, "4.4.2")) << last;
    EXPECT_EQ(server_->counters().session_deadline.load(), 1u);
}

TEST_F(SmtpServerTest, MinimumDataRate) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.command_timeout = milliseconds(1000);
    o.limits.min_data_rate_bytes_per_second = 2000;
    StartServer(o);
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    // 11 octets every 100 ms: never a command timeout, but ~110 octets/s overall, so the
    // rate deadline (1 s grace + 0.5 ms per octet) comes first.
    std::string reply;
    std::thread trickle([&c] {
        for (int i = 0; i < 60; ++i) {
            if (!c->Send("123456789\r\n")) return;
            std::this_thread::sleep_for(milliseconds(100));
        }
    });
    reply = c->ReadReply();
    trickle.join();
    EXPECT_TRUE(ReplyIs(reply, 421, "4.4.2")) << reply;
    EXPECT_EQ(server_->counters().slow_data.load(), 1u);
}

TEST_F(SmtpServerTest, TalkingBeforeTheGreeting) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.greet_pause = milliseconds(300);
    StartServer(o);
    Client early;
    ASSERT_TRUE(early.Connect("127.0.0.1", port_));
    ASSERT_TRUE(early.Send("EHLO impatient.example\r\n"));
    EXPECT_TRUE(ReplyIs(early.ReadReply(), 554, "5.5.1"));
    EXPECT_TRUE(early.ReadEof());
    EXPECT_EQ(server_->counters().early_talker.load(), 1u);
    Client patient;
    ASSERT_TRUE(patient.Connect("127.0.0.1", port_));
    EXPECT_TRUE(ReplyIs(patient.ReadReply(), 220));
    EXPECT_TRUE(ReplyIs(Cmd(patient, "EHLO patient.example"), 250));
}

TEST_F(SmtpServerTest, ConnectionLimits) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.max_connections_per_client = 2;
    StartServer(o);
    auto a = Connect();
    auto b = Connect();
    Client third;
    ASSERT_TRUE(third.Connect("127.0.0.1", port_));
    EXPECT_TRUE(ReplyIs(third.ReadReply(), 421, "4.7.0"));
    EXPECT_TRUE(third.ReadEof());
    // Closing one makes room again.
    EXPECT_TRUE(ReplyIs(Cmd(*a, "QUIT"), 221));
    a->Close();
    bool admitted = false;
    for (int i = 0; i < 50 && !admitted; ++i) {
        Client again;
        ASSERT_TRUE(again.Connect("127.0.0.1", port_));
        admitted = CodeOf(again.ReadReply()) == 220;
        if (!admitted) std::this_thread::sleep_for(milliseconds(20));
    }
    EXPECT_TRUE(admitted);
    EXPECT_GE(server_->counters().connections_refused.load(), 1u);

    server_.reset();
    o.limits.max_connections_per_client = 50;
    o.limits.max_connections = 1;
    StartServer(o);
    auto only = Connect();
    Client second;
    ASSERT_TRUE(second.Connect("127.0.0.1", port_));
    EXPECT_TRUE(ReplyIs(second.ReadReply(), 421, "4.7.0"));
}

TEST_F(SmtpServerTest, ListensOnIpv6LoopbackWhenAvailable) {
    const int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (probe < 0) GTEST_SKIP() << "no IPv6";
    ::close(probe);
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.listen = {"127.0.0.1:0", "[::1]:0"};
    server_ = std::make_unique<Server>(o, &delegate_);
    absl::Status s = server_->Start();
    if (!s.ok()) GTEST_SKIP() << "cannot bind [::1]: " << s.ToString();
    ASSERT_EQ(server_->endpoints().size(), 2u);
    EXPECT_EQ(server_->endpoints()[1].address, "::1");
    Client c;
    ASSERT_TRUE(c.Connect("::1", server_->endpoints()[1].port));
    EXPECT_TRUE(ReplyIs(c.ReadReply(), 220));
    EXPECT_TRUE(ReplyIs(Cmd(c, "EHLO v6.example"), 250));
    EXPECT_TRUE(ReplyIs(SendMessage(c, "v6\r\n"), 250));
    ASSERT_EQ(delegate_.deliveries().size(), 1u);
    EXPECT_EQ(delegate_.deliveries()[0].session.client_address, "::1");
}

TEST_F(SmtpServerTest, StartFailsCleanlyOnBadAddress) {
    ServerOptions o = DefaultOptions();
    o.listen = {"not-an-ip:25"};
    Server bad(o, &delegate_);
    EXPECT_FALSE(bad.Start().ok());
    o.listen = {"127.0.0.1:" + std::to_string(port_)};  // already in use by the fixture's server
    Server busy(o, &delegate_);
    EXPECT_FALSE(busy.Start().ok());
}

// --- STARTTLS ---

class SmtpTlsTest : public SmtpServerTest {
  protected:
    void SetUp() override {
        start_in_setup_ = false;
        dir_ =
            std::filesystem::temp_directory_path() / ("rebound-smtp-tls-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        cert_ = (dir_ / "cert.pem").string();
        key_ = (dir_ / "key.pem").string();
        absl::Status s = GenerateSelfSigned(cert_, key_, "mx.test");
        ASSERT_TRUE(s.ok()) << s.ToString();
        ServerOptions o = DefaultOptions();
        o.tls_certificate = cert_;
        o.tls_key = key_;
        StartServer(o);
    }
    void TearDown() override {
        server_.reset();
        std::filesystem::remove_all(dir_);
    }
    std::filesystem::path dir_;
    std::string cert_, key_;
};

TEST_F(SmtpTlsTest, GeneratedPairIsValidAndPrivate) {
    EXPECT_TRUE(CheckKeyPair(cert_, key_).ok());
    EXPECT_EQ(std::filesystem::status(key_).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
    const std::string other_cert = (dir_ / "other.pem").string(), other_key = (dir_ / "other.key").string();
    ASSERT_TRUE(GenerateSelfSigned(other_cert, other_key, "mx.test").ok());
    EXPECT_FALSE(CheckKeyPair(cert_, other_key).ok()) << "mismatched pair";
    EXPECT_FALSE(CheckKeyPair(cert_, (dir_ / "missing").string()).ok());
    // EnsureSelfSigned keeps a valid pair and replaces a broken one.
    const auto before = std::filesystem::last_write_time(cert_);
    ASSERT_TRUE(EnsureSelfSigned(cert_, key_, "mx.test").ok());
    EXPECT_EQ(std::filesystem::last_write_time(cert_), before);
    const std::string fresh_cert = (dir_ / "fresh.pem").string(), fresh_key = (dir_ / "fresh.key").string();
    ASSERT_TRUE(EnsureSelfSigned(fresh_cert, fresh_key, "mx.test").ok());
    EXPECT_TRUE(CheckKeyPair(fresh_cert, fresh_key).ok());
    ServerOptions o = DefaultOptions();
    o.tls_certificate = cert_;
    o.tls_key = other_key;
    Server mismatched(o, &delegate_);
    EXPECT_FALSE(mismatched.Start().ok());
}

TEST_F(SmtpTlsTest, StartTlsThenEhloAgain) {
    auto c = Connect();
    const std::string ehlo = Cmd(*c, "EHLO client.example");
    EXPECT_NE(ehlo.find("STARTTLS"), std::string::npos);
    ASSERT_TRUE(ReplyIs(Cmd(*c, "STARTTLS"), 220, "2.0.0"));
    ASSERT_TRUE(c->StartTls());
    // The state was reset: a transaction needs EHLO first.
    EXPECT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 503, "5.5.1"));
    const std::string ehlo2 = Cmd(*c, "EHLO client.example");
    EXPECT_TRUE(ReplyIs(ehlo2, 250));
    EXPECT_EQ(ehlo2.find("STARTTLS"), std::string::npos) << "not offered again";
    EXPECT_TRUE(ReplyIs(Cmd(*c, "STARTTLS"), 503, "5.5.1"));
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "secret\r\n"), 250));
    ASSERT_EQ(delegate_.deliveries().size(), 1u);
    EXPECT_TRUE(delegate_.deliveries()[0].session.tls);
    EXPECT_EQ(server_->counters().tls_sessions.load(), 1u);
    EXPECT_TRUE(ReplyIs(Cmd(*c, "QUIT"), 221));
}

TEST_F(SmtpTlsTest, StartTlsWithoutEhloIsAllowed) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "STARTTLS"), 220));
    ASSERT_TRUE(c->StartTls());
    EXPECT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
}

TEST_F(SmtpTlsTest, CommandsPipelinedAfterStartTlsAreDiscarded) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    // CVE-2011-0411 class: plaintext injected after STARTTLS must not run inside TLS.
    ASSERT_TRUE(c->Send("STARTTLS\r\nEHLO injected.example\r\nMAIL FROM:<evil@x.example>\r\n"));
    ASSERT_TRUE(ReplyIs(c->ReadReply(), 220));
    ASSERT_TRUE(c->StartTls());
    // Had the injected commands run, RCPT would be accepted (and extra replies queued).
    EXPECT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 503, "5.5.1"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP"), 250));
}

TEST_F(SmtpTlsTest, FailedHandshakeClosesTheSession) {
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "STARTTLS"), 220));
    ASSERT_TRUE(c->Send("this is not a TLS client hello\r\n\r\n"));
    EXPECT_TRUE(c->ReadEof());
    for (int i = 0; i < 100 && server_->counters().tls_failures.load() == 0; ++i)
        std::this_thread::sleep_for(milliseconds(10));
    EXPECT_EQ(server_->counters().tls_failures.load(), 1u);
}

TEST_F(SmtpTlsTest, TimeoutAndShutdownInsideTls) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.tls_certificate = cert_;
    o.tls_key = key_;
    o.limits.command_timeout = milliseconds(300);
    StartServer(o);
    auto slow = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*slow, "STARTTLS"), 220));
    ASSERT_TRUE(slow->StartTls());
    ASSERT_TRUE(ReplyIs(Cmd(*slow, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(slow->ReadReply(), 421, "4.4.2")) << "timeout cancels a TLS read";

    // A fresh server with the fixture's 3 s timeout, so only the shutdown can end the session.
    server_.reset();
    o.limits.command_timeout = DefaultOptions().limits.command_timeout;
    StartServer(o);
    auto idle = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*idle, "STARTTLS"), 220));
    ASSERT_TRUE(idle->StartTls());
    ASSERT_TRUE(ReplyIs(Cmd(*idle, "EHLO client.example"), 250));
    std::thread stopper([this] { server_->Shutdown(milliseconds(2000)); });
    EXPECT_TRUE(ReplyIs(idle->ReadReply(), 421, "4.3.2"));
    stopper.join();
}

// --- Shutdown ---

TEST_F(SmtpServerTest, ShutdownLetsTheTransactionFinishAndClosesIdleSessions) {
    auto idle = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*idle, "EHLO idle.example"), 250));
    auto busy = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*busy, "EHLO busy.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*busy, "MAIL FROM:<>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*busy, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*busy, "DATA"), 354));
    ASSERT_TRUE(busy->Send("first half\r\n"));

    std::thread stopper([this] { server_->Shutdown(milliseconds(5000)); });
    // The idle session is told at once.
    EXPECT_TRUE(ReplyIs(idle->ReadReply(), 421, "4.3.2"));
    EXPECT_TRUE(idle->ReadEof());
    // New connections are no longer accepted (refused or 421).
    Client late;
    if (late.Connect("127.0.0.1", port_)) {
        const std::string r = late.ReadReply();
        EXPECT_TRUE(r.empty() || CodeOf(r) == 421) << r;
    }
    // The transaction in flight completes normally, then the session is closed.
    ASSERT_TRUE(busy->Send("second half\r\n.\r\n"));
    EXPECT_TRUE(ReplyIs(busy->ReadReply(), 250));
    EXPECT_TRUE(ReplyIs(busy->ReadReply(), 421, "4.3.2"));
    EXPECT_TRUE(busy->ReadEof());
    stopper.join();
    ASSERT_EQ(delegate_.deliveries().size(), 1u);
    EXPECT_EQ(delegate_.deliveries()[0].message, "first half\r\nsecond half\r\n");
}

TEST_F(SmtpServerTest, ShutdownGraceExpiresDuringData) {
    auto busy = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*busy, "EHLO busy.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*busy, "MAIL FROM:<>"), 250));
    const auto start = std::chrono::steady_clock::now();
    std::thread stopper([this] { server_->Shutdown(milliseconds(300)); });
    EXPECT_TRUE(ReplyIs(busy->ReadReply(), 421, "4.3.2"));
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(250)) << "the transaction had its grace";
    stopper.join();
    EXPECT_TRUE(delegate_.deliveries().empty());
}

TEST_F(SmtpServerTest, ShutdownWhileTheDelegateNeverAnswers) {
    delegate_.set_mode(Mode::kNever);
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    ASSERT_TRUE(c->Send("x\r\n.\r\n"));
    ASSERT_TRUE(delegate_.WaitForDeliverCalls(1, milliseconds(5000)));
    server_->Shutdown(milliseconds(200));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 421, "4.3.2"));
    // The late answer is ignored without harm, even after the server is gone.
    server_.reset();
    EXPECT_EQ(delegate_.CompletePending(Reply{250, "2.0.0", "late"}), 1u);
}

TEST_F(SmtpServerTest, DelegateAnswerArrivingDuringGraceIsDelivered) {
    delegate_.set_mode(Mode::kLaterThread, milliseconds(400));
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "MAIL FROM:<>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "RCPT TO:<t@feedback.example>"), 250));
    ASSERT_TRUE(ReplyIs(Cmd(*c, "DATA"), 354));
    ASSERT_TRUE(c->Send("x\r\n.\r\n"));
    ASSERT_TRUE(delegate_.WaitForDeliverCalls(1, milliseconds(5000)));
    std::thread stopper([this] { server_->Shutdown(milliseconds(5000)); });
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 250));
    EXPECT_TRUE(ReplyIs(c->ReadReply(), 421, "4.3.2"));
    stopper.join();
}

TEST_F(SmtpServerTest, DeliverTimeoutGives451) {
    server_.reset();
    ServerOptions o = DefaultOptions();
    o.limits.deliver_timeout = milliseconds(300);
    StartServer(o);
    delegate_.set_mode(Mode::kNever);
    auto c = Connect();
    ASSERT_TRUE(ReplyIs(Cmd(*c, "EHLO client.example"), 250));
    EXPECT_TRUE(ReplyIs(SendMessage(*c, "x\r\n"), 451, "4.3.0"));
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP"), 250)) << "the session goes on";
    EXPECT_EQ(delegate_.CompletePending(Reply{250, "2.0.0", "late"}), 1u);
    EXPECT_TRUE(ReplyIs(Cmd(*c, "NOOP"), 250)) << "a late answer sends nothing";
}

TEST(SmtpOptions, SettingsComeFromTheConfigurationFile) {
    absl::StatusOr<config::Config> c = config::LoadFromString(
        "[smtp]\nlisten = [\"[::1]:2525\"]\ngreet_pause_ms = 500\ndeliver_timeout_seconds = 30\nmax_recipients = 7\n",
        "test.toml");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ServerOptions o = OptionsFromConfig(c->smtp);
    EXPECT_EQ(o.limits.greet_pause, milliseconds(500));
    EXPECT_EQ(o.limits.deliver_timeout, milliseconds(30'000));
    EXPECT_EQ(o.limits.max_recipients, 7u);
    EXPECT_EQ(o.listen, std::vector<std::string>{"[::1]:2525"});
    EXPECT_FALSE(config::LoadFromString("[smtp]\ngreet_pause_ms = -1\n", "bad.toml").ok());
}

TEST(SmtpOptions, FromConfig) {
    config::SmtpConfig c;
    c.listen = {"[::1]:25", "127.0.0.1:2525"};
    c.command_timeout_seconds = 7;
    c.greet_pause_ms = 250;
    ServerOptions o = OptionsFromConfig(c);
    EXPECT_EQ(o.listen, c.listen);
    EXPECT_EQ(o.limits.command_timeout, milliseconds(7000));
    EXPECT_EQ(o.limits.greet_pause, milliseconds(250));
    EXPECT_EQ(o.limits.command_line_max, 512u);
    EXPECT_TRUE(ValidateOptions(o).ok());
    o.limits.text_line_max = 10;
    EXPECT_FALSE(ValidateOptions(o).ok());
}

}  // namespace
}  // namespace rebound::smtp
