// Pure parts of the SMTP server: line framing, command parsing, reply formatting.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "services/smtp/command.h"
#include "services/smtp/line_reader.h"
#include "services/smtp/reply.h"

namespace rebound::smtp {
namespace {

struct Framed {
    LineStatus status;
    std::string line;
};

// Feeds `input` in chunks of `chunk` octets and collects every framed line.
std::vector<Framed> Frame(const std::string& input, std::size_t limit, std::size_t chunk, std::size_t capacity = 64) {
    LineBuffer buf(capacity);
    std::vector<Framed> out;
    std::size_t off = 0;
    for (;;) {
        LineResult r = buf.Next(limit);
        if (r.status != LineStatus::kNeedMore) {
            out.push_back({r.status, std::string(r.line)});
            continue;
        }
        if (off == input.size()) break;
        const std::size_t n = std::min({chunk, input.size() - off, buf.WriteSize()});
        EXPECT_GT(n, 0u);
        std::copy_n(input.data() + off, n, buf.WriteData());
        buf.Commit(n);
        off += n;
    }
    return out;
}

TEST(LineBuffer, FramesLinesWhateverTheChunking) {
    const std::string input = "EHLO a\r\nMAIL FROM:<>\r\n\r\nQUIT\r\n";
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u}) {
        std::vector<Framed> got = Frame(input, 32, chunk);
        ASSERT_EQ(got.size(), 4u) << "chunk " << chunk;
        EXPECT_EQ(got[0].line, "EHLO a");
        EXPECT_EQ(got[1].line, "MAIL FROM:<>");
        EXPECT_EQ(got[2].line, "");
        EXPECT_EQ(got[3].line, "QUIT");
        for (const Framed& f : got)
            EXPECT_EQ(f.status, LineStatus::kLine);
    }
}

TEST(LineBuffer, ReportsBareLineEnds) {
    struct Case {
        std::string input;
        LineStatus status;
        std::string line;
    };
    const std::vector<Case> cases = {
        {"NOOP\n", LineStatus::kBareLf, "NOOP"},       {"\n", LineStatus::kBareLf, ""},
        {"NO\rOP\r\n", LineStatus::kBareCr, "NO\rOP"}, {"NOOP\r\r\n", LineStatus::kBareCr, "NOOP\r"},
        {"NOOP\r\n", LineStatus::kLine, "NOOP"},
    };
    for (const Case& c : cases) {
        for (std::size_t chunk : {1u, 100u}) {
            std::vector<Framed> got = Frame(c.input, 32, chunk);
            ASSERT_EQ(got.size(), 1u) << c.input;
            EXPECT_EQ(got[0].status, c.status) << c.input;
            EXPECT_EQ(got[0].line, c.line);
        }
    }
}

TEST(LineBuffer, LimitIncludesCrLf) {
    // limit 8: 6 octets + CR LF fit, 7 do not.
    std::vector<Framed> got = Frame("123456\r\n1234567\r\nok\r\n", 8, 3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].status, LineStatus::kLine);
    EXPECT_EQ(got[1].status, LineStatus::kTooLong);
    EXPECT_EQ(got[2].status, LineStatus::kLine);
    EXPECT_EQ(got[2].line, "ok");
}

TEST(LineBuffer, OverlongLineLargerThanBufferIsDiscardedWithoutGrowing) {
    const std::string input = std::string(10000, 'x') + "\r\nNOOP\r\n";
    for (std::size_t chunk : {1u, 5u, 40u}) {
        std::vector<Framed> got = Frame(input, 16, chunk, /*capacity=*/48);
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0].status, LineStatus::kTooLong);
        EXPECT_EQ(got[1].status, LineStatus::kLine);
        EXPECT_EQ(got[1].line, "NOOP");
    }
}

TEST(LineBuffer, ClearDropsBufferedInput) {
    LineBuffer buf(64);
    const std::string in = "STARTTLS\r\nRSET\r\n";
    std::copy(in.begin(), in.end(), buf.WriteData());
    buf.Commit(in.size());
    EXPECT_EQ(buf.Next(32).line, "STARTTLS");
    EXPECT_EQ(buf.Buffered(), 6u);
    buf.Clear();
    EXPECT_EQ(buf.Buffered(), 0u);
    EXPECT_EQ(buf.Next(32).status, LineStatus::kNeedMore);
}

// Reference framing, written the obvious way: split at LF, classify, apply the limit.
std::vector<Framed> ReferenceFrame(const std::string& input, std::size_t limit) {
    std::vector<Framed> out;
    std::size_t pos = 0;
    for (;;) {
        const std::size_t lf = input.find('\n', pos);
        if (lf == std::string::npos) break;
        std::string line = input.substr(pos, lf - pos);
        pos = lf + 1;
        if (line.size() + 1 > limit) {
            out.push_back({LineStatus::kTooLong, ""});
        } else if (line.empty() || line.back() != '\r') {
            out.push_back({LineStatus::kBareLf, line});
        } else {
            line.pop_back();
            out.push_back({line.find('\r') == std::string::npos ? LineStatus::kLine : LineStatus::kBareCr, line});
        }
    }
    return out;
}

TEST(LineBuffer, AgreesWithAReferenceOnRandomInput) {
    std::mt19937 rng(12345);
    const char alphabet[] = {'a', 'b', '.', ' ', '\r', '\n', '\r', '\n'};
    for (int round = 0; round < 2000; ++round) {
        std::string input;
        const std::size_t len = rng() % 200;
        for (std::size_t i = 0; i < len; ++i)
            input.push_back(alphabet[rng() % sizeof alphabet]);
        const std::size_t limit = 2 + rng() % 20;
        const std::size_t chunk = 1 + rng() % 30;
        const std::vector<Framed> want = ReferenceFrame(input, limit);
        const std::vector<Framed> got = Frame(input, limit, chunk, limit + 8);
        ASSERT_EQ(got.size(), want.size()) << "round " << round;
        for (std::size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(got[i].status, want[i].status) << "round " << round << " line " << i;
            EXPECT_EQ(got[i].line, want[i].line) << "round " << round << " line " << i;
        }
    }
}

TEST(Command, VerbsAreCaseInsensitive) {
    EXPECT_EQ(ParseCommand("ehlo x").verb, Verb::kEhlo);
    EXPECT_EQ(ParseCommand("StartTLS").verb, Verb::kStartTls);
    EXPECT_EQ(ParseCommand("MAIL FROM:<>").args, "FROM:<>");
    EXPECT_EQ(ParseCommand("MAILX").verb, Verb::kUnknown);
    EXPECT_EQ(ParseCommand("").verb, Verb::kUnknown);
}

TEST(Command, MailArguments) {
    struct Case {
        std::string args;
        std::optional<ReplyId> error;
        std::string mailbox;
    };
    const std::vector<Case> cases = {
        {"FROM:<>", std::nullopt, ""},
        {"from:<a@b.example>", std::nullopt, "a@b.example"},
        {"FROM: <a@b.example>", std::nullopt, "a@b.example"},
        {"FROM:<@relay.example,@r2.example:a@b.example>", std::nullopt, "a@b.example"},
        {"FROM:<\"john smith\"@b.example>", std::nullopt, "\"john smith\"@b.example"},
        {"FROM:<a@[192.0.2.1]>", std::nullopt, "a@[192.0.2.1]"},
        {"FROM:<a@[IPv6:2001:db8::1]>", std::nullopt, "a@[IPv6:2001:db8::1]"},
        {"FROM:<a@b.example> SIZE=1000 BODY=8BITMIME", std::nullopt, "a@b.example"},
        {"FROM:a@b.example", ReplyId::kSyntax, ""},
        {"FROM:<a@b.example", ReplyId::kSyntax, ""},
        {"TO:<a@b.example>", ReplyId::kSyntax, ""},
        {"FROM:<a@b.example>x", ReplyId::kSyntax, ""},
        {"FROM:<a>", ReplyId::kBadSenderSyntax, ""},
        {"FROM:<a..b@c.example>", ReplyId::kBadSenderSyntax, ""},
        {"FROM:<a@-b.example>", ReplyId::kBadSenderSyntax, ""},
        {"FROM:<a b@c.example>", ReplyId::kBadSenderSyntax, ""},
        {"FROM:<" + std::string(65, 'a') + "@b.example>", ReplyId::kBadSenderSyntax, ""},
        {"FROM:<a@b.example> SIZE=", ReplyId::kBadParameter, ""},
        {"FROM:<a@b.example> SIZE=-1", ReplyId::kBadParameter, ""},
        {"FROM:<a@b.example> SIZE=1 SIZE=2", ReplyId::kBadParameter, ""},
        {"FROM:<a@b.example> BODY=BINARYMIME", ReplyId::kBadParameter, ""},
        {"FROM:<a@b.example> SMTPUTF8=yes", ReplyId::kBadParameter, ""},
        {"FROM:<a@b.example> AUTH=<>", ReplyId::kBadParameter, ""},
        {"FROM:<a@b.example> SIZE=99999999999999999999999", ReplyId::kBadParameter, ""},
    };
    for (const Case& c : cases) {
        MailArgs args;
        std::optional<ReplyId> err = ParseMailArgs(c.args, &args);
        EXPECT_EQ(err, c.error) << c.args;
        if (!c.error) {
            EXPECT_EQ(args.mailbox, c.mailbox) << c.args;
        }
    }
    MailArgs args;
    ASSERT_EQ(ParseMailArgs("FROM:<a@b.example> size=42 body=7bit smtputf8", &args), std::nullopt);
    EXPECT_EQ(args.size, 42u);
    EXPECT_EQ(args.body, BodyType::k7Bit);
    EXPECT_TRUE(args.smtputf8);
    MailArgs utf8;
    ASSERT_EQ(ParseMailArgs("FROM:<j\xc3\xb6rg@b\xc3\xbc.example> SMTPUTF8", &utf8), std::nullopt);
    EXPECT_TRUE(utf8.non_ascii);
}

TEST(Command, RcptArguments) {
    RcptArgs r;
    EXPECT_EQ(ParseRcptArgs("TO:<tok@feedback.example>", &r), std::nullopt);
    EXPECT_EQ(r.mailbox, "tok@feedback.example");
    EXPECT_EQ(ParseRcptArgs("TO:<Postmaster>", &r), std::nullopt);
    EXPECT_EQ(r.mailbox, "postmaster");
    EXPECT_EQ(ParseRcptArgs("TO:<>", &r), ReplyId::kBadRecipientSyntax);
    EXPECT_EQ(ParseRcptArgs("TO:<x>", &r), ReplyId::kBadRecipientSyntax);
    EXPECT_EQ(ParseRcptArgs("FROM:<a@b.example>", &r), ReplyId::kSyntax);
    EXPECT_EQ(ParseRcptArgs("TO:<a@b.example> NOTIFY=NEVER", &r), ReplyId::kBadParameter);
}

TEST(Command, HeloArgument) {
    EXPECT_TRUE(ValidHeloArgument("mx.example.com"));
    EXPECT_TRUE(ValidHeloArgument("[192.0.2.1]"));
    EXPECT_TRUE(ValidHeloArgument("[IPv6:::1]"));
    EXPECT_FALSE(ValidHeloArgument(""));
    EXPECT_FALSE(ValidHeloArgument("a b"));
    EXPECT_FALSE(ValidHeloArgument("[300.1.1.1]x"));
    EXPECT_FALSE(ValidHeloArgument(std::string(256, 'a')));
}

TEST(Reply, Formatting) {
    std::string out;
    AppendReply(&out, MakeReply(ReplyId::kRecipientOk));
    EXPECT_EQ(out, "250 2.1.5 Recipient OK\r\n");
    out.clear();
    AppendReply(&out, Reply{250, "", "host\nPIPELINING\nSIZE 10"});
    EXPECT_EQ(out, "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
    out.clear();
    AppendReply(&out, Reply{550, "5.1.1", "bad\rinjected"});
    EXPECT_EQ(out, "550 5.1.1 bad injected\r\n");
    out.clear();
    AppendReply(&out, Reply{999, "9.9.9", "nonsense"});
    EXPECT_EQ(out.substr(0, 10), "451 4.3.0 ");
    out.clear();
    AppendReply(&out, Reply{550, "2.0.0", "class mismatch"});
    EXPECT_EQ(out, "550 5.0.0 class mismatch\r\n");
    EXPECT_EQ(MakeReply(ReplyId::kMessageTooBig, 1234).text, "Message size exceeds fixed limit of 1234 bytes");
}

TEST(Reply, EveryTableEntryHasAValidEnhancedCode) {
    for (int id = static_cast<int>(ReplyId::kOk); id <= static_cast<int>(ReplyId::kNoValidRecipients); ++id) {
        const Reply r = MakeReply(static_cast<ReplyId>(id), 1);
        if (r.code == 354) continue;
        EXPECT_TRUE(ValidEnhancedCode(r.enhanced, r.code)) << id << " " << r.code << " " << r.enhanced;
    }
}

}  // namespace
}  // namespace rebound::smtp
