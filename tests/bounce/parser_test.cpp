#include "services/bounce/parser.h"

#include <gtest/gtest.h>

#include <string>

#include "services/bounce/mime.h"
#include "services/bounce/search.h"
#include "services/common/strings.h"

namespace rebound::bounce {
namespace {

std::string Crlf(const std::string& lf) {
    std::string out;
    for (char c : lf) {
        if (c == '\n') out.push_back('\r');
        out.push_back(c);
    }
    return out;
}

// A Postfix-style RFC 3464 DSN for one recipient; `status_block` replaces the per-recipient fields.
std::string Dsn(const std::string& status_block, const std::string& dsn_encoding = "") {
    std::string part_headers = "Content-Type: message/delivery-status\n";
    std::string fields =
        "Reporting-MTA: dns; mx.sender.example\n"
        "Arrival-Date: Fri, 13 Feb 2015 02:45:44 +0000\n"
        "\n" +
        status_block;
    if (dsn_encoding == "base64") {
        part_headers += "Content-Transfer-Encoding: base64\n";
        static const char* kTable = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string enc;
        std::size_t i = 0;
        for (; i + 2 < fields.size(); i += 3) {
            unsigned v = (static_cast<unsigned char>(fields[i]) << 16) |
                         (static_cast<unsigned char>(fields[i + 1]) << 8) | static_cast<unsigned char>(fields[i + 2]);
            enc += kTable[(v >> 18) & 63];
            enc += kTable[(v >> 12) & 63];
            enc += kTable[(v >> 6) & 63];
            enc += kTable[v & 63];
        }
        if (i < fields.size()) {
            unsigned v = static_cast<unsigned char>(fields[i]) << 16;
            if (i + 1 < fields.size()) v |= static_cast<unsigned char>(fields[i + 1]) << 8;
            enc += kTable[(v >> 18) & 63];
            enc += kTable[(v >> 12) & 63];
            enc += i + 1 < fields.size() ? kTable[(v >> 6) & 63] : '=';
            enc += '=';
        }
        std::string wrapped;
        for (std::size_t j = 0; j < enc.size(); j += 76)
            wrapped += enc.substr(j, 76) + "\n";
        fields = wrapped;
    }
    return "From: MAILER-DAEMON@mx.sender.example (Mail Delivery System)\n"
           "To: sender@sender.example\n"
           "Subject: Undelivered Mail Returned to Sender\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"BOUNDARY\"\n"
           "\n"
           "--BOUNDARY\n"
           "Content-Type: text/plain; charset=us-ascii\n"
           "\n"
           "I'm sorry to have to inform you that your message could not be delivered.\n"
           "\n"
           "--BOUNDARY\n" +
           part_headers + "\n" + fields +
           "\n"
           "--BOUNDARY\n"
           "Content-Type: message/rfc822\n"
           "\n"
           "Return-Path: <bounce+tok123@feedback.customer.example>\n"
           "From: News <news@customer.example>\n"
           "To: kijitora@example.jp\n"
           "Subject: Hello\n"
           "Message-ID: <orig-1@customer.example>\n"
           "List-Unsubscribe: <mailto:unsub+tok123@feedback.customer.example>\n"
           "\n"
           "body\n"
           "--BOUNDARY--\n";
}

const char kUserUnknownBlock[] =
    "Final-Recipient: rfc822; kijitora@example.jp\n"
    "Original-Recipient: rfc822;kijitora@example.jp\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; mx.example.jp\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <kijitora@example.jp>: Recipient address rejected:\n"
    "    User unknown in local recipient table\n"
    "Last-Attempt-Date: Fri, 13 Feb 2015 02:45:45 +0000\n";

TEST(BounceParser, RejectsNonMessage) {
    EXPECT_EQ(Parse("hello world, not a message\n").status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Parse("").status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Parse(std::string("\0\1\2", 3)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BounceParser, Rfc3464UserUnknown) {
    auto report = Parse(Dsn(kUserUnknownBlock));
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->records.size(), 1u);
    const Record& r = report->records[0];
    EXPECT_EQ(r.recipient, "kijitora@example.jp");
    EXPECT_EQ(r.original_recipient, "kijitora@example.jp");
    EXPECT_EQ(r.status, "5.1.1");
    EXPECT_EQ(r.reply_code, "550");
    EXPECT_EQ(r.action, "failed");
    EXPECT_EQ(r.reason, "userunknown");
    EXPECT_TRUE(r.hard_bounce);
    EXPECT_EQ(r.bounce_class, 10);
    EXPECT_EQ(r.disposition, "hard");
    EXPECT_EQ(r.kind, "dsn");
    EXPECT_EQ(r.remote_mta, "mx.example.jp");
    EXPECT_EQ(r.reporting_mta, "mx.sender.example");
    EXPECT_EQ(r.diagnostic,
              "550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table");
    EXPECT_EQ(r.last_attempt_date, "Fri, 13 Feb 2015 02:45:45 +0000");
    EXPECT_FALSE(r.rule_id.empty());
    EXPECT_EQ(report->reporting_mta, "mx.sender.example");
    EXPECT_EQ(report->arrival_date, "Fri, 13 Feb 2015 02:45:44 +0000");
    EXPECT_EQ(report->rules_version, RulesVersion());
    ASSERT_TRUE(report->original.has_value());
    EXPECT_EQ(report->original->message_id, "<orig-1@customer.example>");
    EXPECT_EQ(report->original->to, "kijitora@example.jp");
    const auto& c = report->original->candidate_addresses;
    EXPECT_NE(std::find(c.begin(), c.end(), "bounce+tok123@feedback.customer.example"), c.end());
    EXPECT_NE(std::find(c.begin(), c.end(), "unsub+tok123@feedback.customer.example"), c.end());
}

void ExpectSameRecords(const Report& a, const Report& b) {
    ASSERT_EQ(a.records.size(), b.records.size());
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        EXPECT_EQ(a.records[i].recipient, b.records[i].recipient);
        EXPECT_EQ(a.records[i].reason, b.records[i].reason);
        EXPECT_EQ(a.records[i].status, b.records[i].status);
        EXPECT_EQ(a.records[i].diagnostic, b.records[i].diagnostic);
        EXPECT_EQ(a.records[i].rule_id, b.records[i].rule_id);
    }
}

TEST(BounceParser, LfAndCrlfAreIdentical) {
    std::string lf = Dsn(kUserUnknownBlock);
    auto a = Parse(lf);
    auto b = Parse(Crlf(lf));
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    ExpectSameRecords(*a, *b);
}

TEST(BounceParser, Base64DeliveryStatus) {
    auto plain = Parse(Dsn(kUserUnknownBlock));
    auto b64 = Parse(Dsn(kUserUnknownBlock, "base64"));
    ASSERT_TRUE(b64.ok());
    ASSERT_EQ(b64->records.size(), 1u);
    ExpectSameRecords(*plain, *b64);
}

TEST(BounceParser, DelayedIsNotABounce) {
    auto report =
        Parse(Dsn("Final-Recipient: rfc822; slow@example.net\n"
                  "Action: delayed\n"
                  "Status: 4.2.2\n"
                  "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n"));
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    const Record& r = report->records[0];
    EXPECT_EQ(r.reason, "delayed");
    EXPECT_EQ(r.text_reason, "mailboxfull");
    EXPECT_EQ(r.disposition, "delayed");
    EXPECT_FALSE(r.hard_bounce);
}

TEST(BounceParser, DeliveredRelayedExpanded) {
    for (const char* action : {"delivered", "relayed", "expanded"}) {
        auto report =
            Parse(Dsn(std::string("Final-Recipient: rfc822; ok@example.net\nAction: ") + action + "\nStatus: 2.0.0\n"));
        ASSERT_TRUE(report.ok());
        ASSERT_EQ(report->records.size(), 1u);
        EXPECT_EQ(report->records[0].reason, "delivered") << action;
        EXPECT_FALSE(report->records[0].hard_bounce);
    }
}

TEST(BounceParser, SeveralRecipientsOneRecordEach) {
    auto report =
        Parse(Dsn("Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.1.1\n"
                  "Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n"
                  "Final-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 5.2.2\n"
                  "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n"));
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 2u);
    EXPECT_EQ(report->records[0].recipient, "a@example.net");
    EXPECT_EQ(report->records[0].reason, "userunknown");
    EXPECT_EQ(report->records[1].recipient, "b@example.net");
    EXPECT_EQ(report->records[1].reason, "mailboxfull");
    EXPECT_FALSE(report->records[1].hard_bounce);
}

TEST(BounceParser, BrokenBoundaryStillParses) {
    // The closing boundary is missing and the declared boundary has trailing junk.
    std::string msg = Dsn(kUserUnknownBlock);
    msg.erase(msg.rfind("--BOUNDARY--"));
    auto report = Parse(msg);
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    EXPECT_EQ(report->records[0].reason, "userunknown");

    // No boundary parameter at all: the text is read as a plain bounce.
    std::string no_boundary =
        "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/report; report-type=delivery-status\n\n"
        "<kijitora@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO "
        "command)\n";
    auto r2 = Parse(no_boundary);
    ASSERT_TRUE(r2.ok());
    ASSERT_EQ(r2->records.size(), 1u);
    EXPECT_EQ(r2->records[0].recipient, "kijitora@example.jp");
    EXPECT_EQ(r2->records[0].reason, "userunknown");
}

TEST(BounceParser, QuotedPrintableTextBounce) {
    std::string msg =
        "From: Mail Delivery System <Mailer-Daemon@mx.example>\n"
        "To: sender@sender.example\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: kijitora@example.jp\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "This message was created automatically by mail delivery software.\n"
        "\n"
        "  kijitora@example.jp\n"
        "    SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>:\n"
        "    host mx.example.jp [192.0.2.1]: 550 5.1.1 <kijitora@example.jp>: Recipient =\n"
        "address rejected: User unknown\n";
    auto report = Parse(msg);
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    const Record& r = report->records[0];
    EXPECT_EQ(r.recipient, "kijitora@example.jp");
    EXPECT_EQ(r.kind, "nonstandard");
    EXPECT_EQ(r.reason, "userunknown");
    EXPECT_EQ(r.reply_code, "550");
    EXPECT_EQ(r.status, "5.1.1");
    EXPECT_NE(r.diagnostic.find("Recipient address rejected"), std::string::npos);
}

TEST(BounceParser, NestedRfc822Original) {
    std::string msg =
        "From: MAILER-DAEMON@mx.example\n"
        "Subject: Undeliverable\n"
        "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
        "--outer\nContent-Type: text/plain\n\n<kijitora@example.jp>: 550 5.1.1 unknown user (in reply to RCPT TO)\n"
        "--outer\nContent-Type: message/rfc822\n\n"
        "From: forwarder@example.org\nTo: kijitora@example.jp\nMessage-ID: <outer@x>\n"
        "Content-Type: multipart/mixed; boundary=\"inner\"\n\n"
        "--inner\nContent-Type: text/plain\n\nsee attached\n"
        "--inner\nContent-Type: message/rfc822\n\n"
        "From: news@customer.example\nTo: kijitora@example.jp\nMessage-ID: <inner@x>\n\nhello\n"
        "--inner--\n"
        "--outer--\n";
    auto report = Parse(msg);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->records.size(), 1u);
    EXPECT_EQ(report->records[0].recipient, "kijitora@example.jp");
    ASSERT_TRUE(report->original.has_value());
    EXPECT_EQ(report->original->message_id, "<outer@x>");
}

TEST(BounceParser, EncodedWords) {
    EXPECT_EQ(DecodeEncodedWords("=?UTF-8?B?44GT44KT44Gr44Gh44Gv?="),
              "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf");
    EXPECT_EQ(DecodeEncodedWords("=?ISO-8859-1?Q?R=E9ponse_automatique?="), "R\xc3\xa9ponse automatique");
    EXPECT_EQ(DecodeEncodedWords("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");  // blanks between words vanish
    EXPECT_EQ(DecodeEncodedWords("plain =?broken"), "plain =?broken");
    EXPECT_EQ(DecodeEncodedWords("=?iso-2022-jp?B?GyRCJDMkcyRLJEEkTxsoQg==?="),
              "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf");
}

TEST(BounceParser, CharsetConversion) {
    EXPECT_EQ(ToUtf8("caf\xe9", "iso-8859-1"), "caf\xc3\xa9");
    EXPECT_EQ(ToUtf8("abc", "no-such-charset"), "abc");
}

std::string AutoReply(const std::string& subject, const std::string& extra_header = "") {
    return "From: Kijitora <kijitora@example.org>\nTo: news@customer.example\nSubject: " + subject + "\n" +
           extra_header + "Content-Type: text/plain; charset=utf-8\n\nI am away until Monday.\n";
}

TEST(BounceParser, AutoRepliesInSeveralLanguages) {
    for (const char* subject :
         {"Out of Office: Hello", "Automatic reply: Hello", "Afwezig: Hello", "Abwesenheitsnotiz: Hello",
          "=?UTF-8?Q?R=C3=A9ponse_automatique_:_Hello?=", "=?UTF-8?B?T2ZpcyBkxLHFn8SxbmRh?=", "Auto: Hello",
          "Risposta automatica: Hello", "=?UTF-8?B?6Ieq5Yqo5Zue5aSNOiBIZWxsbw==?="}) {
        auto report = Parse(AutoReply(subject));
        ASSERT_TRUE(report.ok());
        ASSERT_EQ(report->records.size(), 1u) << subject;
        const Record& r = report->records[0];
        EXPECT_EQ(r.reason, "vacation") << subject;
        EXPECT_EQ(r.recipient, "kijitora@example.org");
        EXPECT_EQ(r.kind, "autoreply");
        EXPECT_EQ(r.disposition, "auto_reply");
        EXPECT_EQ(r.bounce_class, 60);
        EXPECT_FALSE(r.hard_bounce);
    }
    for (const char* header :
         {"Auto-Submitted: auto-replied\n", "X-Autoreply: yes\n", "X-Autorespond: yes\n", "Precedence: auto_reply\n"}) {
        auto report = Parse(AutoReply("Re: Hello", header));
        ASSERT_TRUE(report.ok());
        ASSERT_EQ(report->records.size(), 1u) << header;
        EXPECT_EQ(report->records[0].reason, "vacation");
    }
    // An ordinary reply is nothing.
    auto plain = Parse(AutoReply("Re: Hello"));
    ASSERT_TRUE(plain.ok());
    EXPECT_TRUE(plain->records.empty());
}

std::string Arf(const std::string& feedback_type, const std::string& rcpt_field) {
    return "From: staff@hotmail.example\nTo: abuse@customer.example\nSubject: complaint\nMIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf\"\n\n"
           "--arf\nContent-Type: text/plain\n\nThis is an email abuse report.\n"
           "--arf\nContent-Type: message/feedback-report\n\n"
           "Feedback-Type: " +
           feedback_type + "\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n" + rcpt_field +
           "Reporting-MTA: dns; mail.receiver.example\n"
           "\n--arf\nContent-Type: text/rfc822-headers\n\n"
           "From: news@customer.example\nTo: complainer@receiver.example\nMessage-ID: <c1@customer.example>\n"
           "Return-Path: <bounce+tok9@feedback.customer.example>\n"
           "\n--arf--\n";
}

TEST(BounceParser, ArfFeedbackTypes) {
    for (const char* type : {"abuse", "fraud", "virus", "opt-out", "not-spam", "auth-failure", "other"}) {
        auto report = Parse(Arf(type, "Original-Rcpt-To: <rcpt@receiver.example>\n"));
        ASSERT_TRUE(report.ok());
        ASSERT_EQ(report->records.size(), 1u);
        const Record& r = report->records[0];
        EXPECT_EQ(r.reason, "feedback");
        EXPECT_EQ(r.feedback_type, type);
        EXPECT_EQ(r.recipient, "rcpt@receiver.example");
        EXPECT_EQ(r.kind, "arf");
        EXPECT_EQ(r.disposition, "complaint");
        EXPECT_FALSE(r.hard_bounce);
    }
    // Without Original-Rcpt-To the To of the attached original is the complainer.
    auto report = Parse(Arf("abuse", ""));
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    EXPECT_EQ(report->records[0].recipient, "complainer@receiver.example");
    ASSERT_TRUE(report->original.has_value());
    EXPECT_EQ(report->original->message_id, "<c1@customer.example>");
}

TEST(BounceParser, MicrosoftJmrp) {
    std::string msg =
        "From: staff@hotmail.com\nTo: fbl@customer.example\nSubject: complaint about message from 192.0.2.1\n"
        "Content-Type: multipart/mixed; boundary=\"j\"\n\n"
        "--j\nContent-Type: text/plain\n\nThis is a JMRP report.\n"
        "--j\nContent-Type: message/rfc822\n\n"
        "X-HmXmrOriginalRecipient: <complainer@hotmail.com>\nFrom: news@customer.example\nTo: x@hotmail.com\n\nhi\n"
        "--j--\n";
    auto report = Parse(msg);
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    EXPECT_EQ(report->records[0].reason, "feedback");
    EXPECT_EQ(report->records[0].recipient, "complainer@hotmail.com");
}

TEST(BounceParser, AutoReplyForADeadMailboxIsSuspend) {
    auto report = Parse(
        "From: <noreply@example.com>\nTo: news@customer.example\nSubject: Automatic reply: Hello\n"
        "Auto-Submitted: auto-replied\n\nThis email inbox kijitora@example.com is no longer in use.\n");
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    EXPECT_EQ(report->records[0].reason, "suspend");
    EXPECT_EQ(report->records[0].kind, "autoreply");
    EXPECT_FALSE(report->records[0].hard_bounce);
}

TEST(BounceParser, AppleMailUnsubscribeIsOptOut) {
    auto report = Parse(
        "From: someone@icloud.com\nTo: unsub-123@feedback.customer.example\nSubject: unsubscribe\n"
        "X-Apple-Unsubscribe: true\n\nApple Mail sent this email to unsubscribe.\n");
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->records.size(), 1u);
    EXPECT_EQ(report->records[0].reason, "feedback");
    EXPECT_EQ(report->records[0].feedback_type, "opt-out");
    EXPECT_EQ(report->records[0].recipient, "someone@icloud.com");
}

TEST(BounceParser, OrdinaryMessageGivesNoRecords) {
    auto report = Parse("From: a@example.org\nTo: b@example.org\nSubject: lunch?\n\nSee you at noon.\n");
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->records.empty());
}

TEST(BounceParser, LimitOnTotalSize) {
    Limits limits;
    limits.max_message_bytes = 1000;
    std::string msg = Dsn(kUserUnknownBlock);
    ASSERT_GT(msg.size(), 1000u);
    EXPECT_EQ(Parse(msg, limits).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(BounceParser, LimitOnHeaderSize) {
    Limits limits;
    limits.max_header_bytes = 200;
    std::string msg = "From: a@example.org\nX-Long: " + std::string(500, 'x') + "\n\nbody\n";
    EXPECT_EQ(Parse(msg, limits).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(BounceParser, LimitOnDepth) {
    std::string msg = "From: a@example.org\nSubject: deep\n";
    for (int i = 0; i < 20; ++i) {
        msg +=
            "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\n\n--b" + std::to_string(i) + "\n";
    }
    msg += "Content-Type: text/plain\n\nhello\n";
    EXPECT_EQ(Parse(msg).status().code(), absl::StatusCode::kResourceExhausted);
    Limits roomy;
    roomy.max_depth = 64;
    EXPECT_TRUE(Parse(msg, roomy).ok());
}

TEST(BounceParser, LimitOnParts) {
    std::string msg = "From: a@example.org\nSubject: many\nContent-Type: multipart/mixed; boundary=\"b\"\n\n";
    for (int i = 0; i < 300; ++i)
        msg += "--b\nContent-Type: text/plain\n\npart\n";
    msg += "--b--\n";
    EXPECT_EQ(Parse(msg).status().code(), absl::StatusCode::kResourceExhausted);
    // Parts without their own Content-Type are counted too.
    std::string bare = "From: a@example.org\nSubject: many\nContent-Type: multipart/mixed; boundary=\"b\"\n\n";
    for (int i = 0; i < 300; ++i)
        bare += "--b\n\npart\n";
    bare += "--b--\n";
    EXPECT_EQ(Parse(bare).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(BounceParser, RecordLimit) {
    std::string block;
    for (int i = 0; i < 50; ++i) {
        block += "Final-Recipient: rfc822; u" + std::to_string(i) + "@example.net\nAction: failed\nStatus: 5.1.1\n\n";
    }
    Limits limits;
    limits.max_records = 10;
    auto report = Parse(Dsn(block), limits);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->records.size(), 10u);
}

// ---------------------------------------------------------------------------------------------
// Rules added in rules version 2026.11.22-2 and the parser changes that go with them.

std::string Replace(std::string text, const std::string& from, const std::string& to) {
    std::size_t at = text.find(from);
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
}

// A non-standard bounce whose human-readable text is `body`.
std::string TextBounce(const std::string& body, const std::string& extra_headers = "") {
    return "From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\n"
           "To: sender@sender.example\n"
           "Subject: Undelivered Mail Returned to Sender\n" +
           extra_headers + "\n" + body;
}

Record OnlyRecord(const std::string& message) {
    auto report = Parse(message);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok() || report->records.size() != 1) {
        ADD_FAILURE() << "expected one record";
        return {};
    }
    return report->records[0];
}

TEST(BounceRules, UnindentedBoundaryParameterIsRepaired) {
    // "boundary=" on its own unindented line after "Content-Type: multipart/alternative;".
    std::string msg =
        "From: MAILER-DAEMON@mx.sender.example\n"
        "To: sender@sender.example\n"
        "Subject: Undeliverable\n"
        "Content-Type: multipart/mixed; boundary=\"outer\"\n"
        "\n"
        "--outer\n"
        "Content-Type: multipart/alternative;\n"
        "boundary=\"inner\"\n"
        "\n"
        "--inner\n"
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "<kijitora@example.jp>: 550 5.1.1 the email address wasn't found at the destina=\n"
        "tion domain\n"
        "--inner--\n"
        "--outer--\n";
    Record r = OnlyRecord(msg);
    EXPECT_EQ(r.recipient, "kijitora@example.jp");
    // Decoded (no "=\n" left), and the MIME headers of the inner part are not in the text.
    EXPECT_EQ(r.diagnostic.find("Content-Type"), std::string::npos) << r.diagnostic;
    EXPECT_NE(r.diagnostic.find("destination domain"), std::string::npos) << r.diagnostic;
    EXPECT_EQ(r.reason, "userunknown");
    Record crlf = OnlyRecord(Crlf(msg));
    EXPECT_EQ(crlf.diagnostic, r.diagnostic);
}

TEST(BounceRules, ReportingMtaProviderRules) {
    const std::string block =
        "Final-Recipient: rfc822; kijitora@example.jp\nAction: failed\nStatus: 5.0.0\n"
        "Diagnostic-Code: smtp; 550 kijitora@example.jp... No such user\n";
    // Without an SMTP command, a "no such user" text alone is read as filtered...
    Record plain = OnlyRecord(Dsn(block));
    EXPECT_EQ(plain.reason, "filtered");
    // ...but MessageLabs reports only RCPT-time rejections in this format.
    Record ml = OnlyRecord(Replace(Dsn(block), "dns; mx.sender.example", "dns; server-1.bemta-2.messagelabs.com"));
    EXPECT_EQ(ml.reason, "userunknown");
    EXPECT_EQ(ml.rule_id, "ml.nouser");
    EXPECT_TRUE(ml.hard_bounce);
    const std::string outlook =
        "Final-Recipient: rfc822; kijitora@example.jp\nAction: failed\nStatus: 5.5.0\n"
        "Diagnostic-Code: smtp; 550 Requested action not taken: mailbox unavailable (-1:2:-3)\n";
    Record ol = OnlyRecord(Replace(Dsn(outlook), "dns; mx.sender.example", "dns;BAY004-MC1F22.hotmail.com"));
    EXPECT_EQ(ol.reason, "userunknown");
    EXPECT_EQ(ol.rule_id, "ol.unavail");
}

TEST(BounceRules, SpectrumAupCodes) {
    Record r =
        OnlyRecord(Dsn("Final-Recipient: rfc822; kijitora@charter.example\nAction: failed\nStatus: 5.1.0\n"
                       "Diagnostic-Code: smtp; 550 5.1.0 <bounce@sender.example> sender rejected. AUP#In-1310\n"));
    EXPECT_EQ(r.reason, "toomanyconn");
    EXPECT_EQ(r.rule_id, "fmt.spectrum.13");
    Record big =
        OnlyRecord(Dsn("Final-Recipient: rfc822; kijitora@charter.example\nAction: failed\nStatus: 5.0.0\n"
                       "Diagnostic-Code: smtp; 552 message rejected. AUP#Out-1530\n"));
    EXPECT_EQ(big.reason, "mesgtoobig");
}

TEST(BounceRules, GmailSessionState) {
    Record r = OnlyRecord(TextBounce(
        "Delivery to the following recipient failed permanently:\n\n     kijitora@example.co.jp\n\n"
        "Technical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the "
        "recipient domain. The error that the other server returned was: 554 554 Header error (state 18).\n"));
    EXPECT_EQ(r.recipient, "kijitora@example.co.jp");
    EXPECT_EQ(r.reason, "filtered");
    EXPECT_EQ(r.rule_id, "fmt.gmail.state18");
}

TEST(BounceRules, HeaderErrorIsPolicyViolation) {
    Record r =
        OnlyRecord(Dsn("Final-Recipient: rfc822; kijitora@example.jp\nAction: failed\nStatus: 5.7.9\n"
                       "Diagnostic-Code: smtp; 554 5.7.9 Header error\n"));
    EXPECT_EQ(r.reason, "policyviolation");
}

TEST(BounceRules, NullMxAndCarrierExpiry) {
    Record mx =
        OnlyRecord(TextBounce("This message was created automatically by mail delivery software.\n\n"
                              "A message that you sent could not be delivered to one or more of its recipients.\n\n"
                              "  neko@example.org\n    an MX or SRV record indicated no SMTP service\n"));
    EXPECT_EQ(mx.recipient, "neko@example.org");
    EXPECT_EQ(mx.reason, "notaccept");
    EXPECT_TRUE(mx.hard_bounce);
    Record late = OnlyRecord(
        TextBounce("Your message was not delivered within 0 days and 1 hours.\nRemote host is not responding.\n\n"
                   "The following recipients did not receive this message:\n<neko@example.ne.jp>\n"));
    EXPECT_EQ(late.reason, "expired");
    EXPECT_EQ(late.rule_id, "exp.026");
}

TEST(BounceRules, ArfWithSeveralRecipients) {
    std::string msg =
        "From: abuse@reporter.example\nTo: abuse@sender.example\nSubject: complaint\n"
        "Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nA complaint.\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nVersion: 1\nOriginal-Rcpt-To: kijitora@example.com\n"
        "Original-Rcpt-To: sabatora@example.net\nOriginal-Rcpt-To: kijitora@example.com\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: news@sender.example\nTo: kijitora@example.org\n\nhi\n"
        "--b--\n";
    auto report = Parse(msg);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->records.size(), 2u);
    EXPECT_EQ(report->records[0].recipient, "kijitora@example.com");
    EXPECT_EQ(report->records[1].recipient, "sabatora@example.net");
    EXPECT_EQ(report->records[1].reason, "feedback");
    EXPECT_EQ(report->records[1].feedback_type, "abuse");
}

TEST(BounceRules, DsnRecipientWithoutDot) {
    Record r =
        OnlyRecord(Dsn("Final-Recipient: rfc822; kijitora@mailhub0\nOriginal-Recipient: rfc822;nekko@example.co.jp\n"
                       "Action: failed\nStatus: 5.2.0\nDiagnostic-Code: x-unix; procmail: Lock failure\n"));
    EXPECT_EQ(r.recipient, "kijitora@mailhub0");
    EXPECT_EQ(r.original_recipient, "nekko@example.co.jp");
    // Not an address at all: the original recipient stands in.
    Record bad =
        OnlyRecord(Dsn("Final-Recipient: rfc822; |/usr/bin/procmail\nOriginal-Recipient: rfc822;nekko@example.co.jp\n"
                       "Action: failed\nStatus: 5.2.0\n"));
    EXPECT_EQ(bad.recipient, "nekko@example.co.jp");
}

TEST(BounceRules, NameAddrRecipientIsTheBracketedAddress) {
    Record r = OnlyRecord(
        TextBounce("A message that you sent contained one or more recipient addresses that were\n"
                   "incorrectly constructed:\n\n"
                   "  kijitora@example.com <neko@example.net>: malformed address: <neko@example.net> may not follow "
                   "kijitora@example.com\n\n"
                   "This address has been ignored.\n"));
    EXPECT_EQ(r.recipient, "neko@example.net");
    EXPECT_EQ(r.reason, "syntaxerror");
}

TEST(BounceRules, SendmailTranscriptReplyAboveSummary) {
    Record r = OnlyRecord(TextBounce(
        "   ----- Transcript of session follows -----\n"
        "While talking to mailin1.example.org:\n"
        ">>> MAIL From:<sender@sender.example>\n"
        "<<< 501 <sender@sender.example>... no access from mail server [192.0.2.55] which is an open relay.\n"
        "554 <kijitora@example.org>... Remote protocol error\n"));
    EXPECT_EQ(r.recipient, "kijitora@example.org");
    EXPECT_EQ(r.reply_code, "554");
    EXPECT_EQ(r.smtp_command, "MAIL");
    EXPECT_EQ(r.reason, "blocked");
}

TEST(BounceRules, GreetingRefusedIsBlocked) {
    std::string msg =
        Dsn("Final-Recipient: rfc822; kijitora@example.org\nAction: failed\nStatus: 5.5.0\n"
            "Diagnostic-Code: smtp; 554 IP=192.0.2.254 - A problem occurred. (BL)\n");
    msg = Replace(msg, "I'm sorry to have to inform you that your message could not be delivered.\n",
                  "   ----- Transcript of session follows -----\n... while talking to mx03.example.org.:\n"
                  "<<< 554 IP=192.0.2.254 - A problem occurred. (BL)\n554 5.0.0 Service unavailable\n");
    Record r = OnlyRecord(msg);
    EXPECT_EQ(r.smtp_command, "CONN");
    EXPECT_EQ(r.reason, "blocked");
    EXPECT_EQ(r.rule_id, "fallback.conn");
}

TEST(BounceRules, RemoteStatusAfterReplyCodeWins) {
    Record r = OnlyRecord(
        Dsn("Final-Recipient: rfc822; kijitora@example.co.jp\nAction: failed\nStatus: 5.0.0\n"
            "Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.7.1 <b@ses.example>... Access denied'\n"));
    EXPECT_EQ(r.status, "5.7.1");
    EXPECT_EQ(r.reason, "securityerror");
    EXPECT_FALSE(r.hard_bounce);
}

TEST(BounceRules, ForwardedDeliveryReport) {
    std::string inner = Dsn(kUserUnknownBlock);
    std::string msg =
        "From: Mail Delivery Subsystem <MAILER-DAEMON@gateway.example>\n"
        "To: postmaster@gateway.example\n"
        "Subject: Returned mail: User unknown\n"
        "Content-Type: multipart/mixed; boundary=\"fwd\"\n\n"
        "--fwd\nContent-Type: text/plain\n\nThe original message was received at Thu Oct 13 2015\n\n"
        "--fwd\nContent-Type: message/rfc822\n\n" +
        inner + "--fwd--\n";
    Record r = OnlyRecord(msg);
    EXPECT_EQ(r.recipient, "kijitora@example.jp");
    EXPECT_EQ(r.reason, "userunknown");
    EXPECT_EQ(r.status, "5.1.1");
}

TEST(BounceRules, MailingListManagerRefusal) {
    std::string msg =
        "From: neko-admin@example.org\nTo: sironeko@example.net\n"
        "Subject: You sironeko@example.net are not member (neko ML)\n"
        "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\n\n"
        "You are not a member of this mailing list <neko@example.org>.\n\n"
        "If you know the general guide of this list, please send mail to the address\n\n"
        "\tneko-ctl@example.org\n";
    Record r = OnlyRecord(msg);
    EXPECT_EQ(r.recipient, "neko@example.org");
    EXPECT_EQ(r.reason, "rejected");
    EXPECT_EQ(r.rule_id, "fmt.fml.notmember");
    // The same text from an ordinary sender is not a bounce.
    auto other = Parse(Replace(msg, "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\n", ""));
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->records.empty());
}

TEST(BounceRules, VerizonFormatAndEnvelopeSummary) {
    const std::string body =
        "Error: Invalid user address\n\nError message below:\n"
        "550 - Requested action not taken: no such user here\n\nMessage details:\n"
        "  Subject: Test message\n  MAIL FROM: sender@sender.example\n  RCPT TO: straycat@vtext.com\n";
    std::string verizon =
        "From: post_master@vtext.com\nTo: sender@sender.example\nSubject: Re: Test message\n\n" + body;
    Record v = OnlyRecord(verizon);
    EXPECT_EQ(v.recipient, "straycat@vtext.com");
    EXPECT_EQ(v.reason, "userunknown");
    EXPECT_EQ(v.rule_id, "vz.nouser");
    // The same text from another system: the MAIL FROM / RCPT TO lines summarise the envelope and do
    // not say the failure came after RCPT, so "no such user" is read as a filter (Sisimai's rule).
    Record other = OnlyRecord(Replace(verizon, "post_master@vtext.com", "post_master@mail.example.net"));
    EXPECT_EQ(other.smtp_command, "");
    EXPECT_EQ(other.reason, "filtered");
}

TEST(BounceRules, BoilerplateIsNoDiagnostic) {
    Record r = OnlyRecord(
        TextBounce("      This is an automatically generated Delivery Status Notification.\n\n"
                   "Delivery to the following recipients failed permanently:\n\n   * kijitora@example.or.jp\n"));
    EXPECT_EQ(r.recipient, "kijitora@example.or.jp");
    EXPECT_EQ(r.diagnostic, "");
    EXPECT_EQ(r.reason, "undefined");
    // Any text beyond the boilerplate is kept as the diagnostic.
    Record t = OnlyRecord(
        TextBounce("Delivery to the following recipients failed permanently:\n\n   * kijitora@example.or.jp\n\n"
                   "Mailbox quota exceeded\n"));
    EXPECT_EQ(t.reason, "mailboxfull");
}

TEST(BounceMime, QuotedPrintableMatchesMimetic) {
    EXPECT_EQ(DecodeQuotedPrintable("caf=C3=A9 =\nau lait"), "caf\xc3\xa9 au lait");
    EXPECT_EQ(DecodeQuotedPrintable("a=3db"), "a=b");
    EXPECT_EQ(DecodeQuotedPrintable("bad =ZZ end"), "bad =ZZ end");
    EXPECT_EQ(DecodeQuotedPrintable("line one\nline two\n"), "line one\nline two\n");
    EXPECT_EQ(DecodeQuotedPrintable("soft   =  \nbreak"), "soft   break");
    EXPECT_EQ(DecodeQuotedPrintable("ends with ="), "ends with =");
}

TEST(BounceMime, TraceFieldsAreLeftOut) {
    std::string msg =
        "Received: from a\n\tby b\nFrom: x@example.org\nDKIM-Signature: v=1;\n  b=abc\nSubject: s\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nReceived: in the body stays\n"
        "--b\nContent-Type: message/rfc822\n\nReceived: from c\nTo: y@example.org\n\nbody\n--b--\n";
    absl::StatusOr<FlatMessage> flat = FlattenMessage(msg, {});
    ASSERT_TRUE(flat.ok()) << flat.status();
    ASSERT_EQ(flat->headers.fields().size(), 3u);
    EXPECT_EQ(flat->headers.Get("subject"), "s");
    EXPECT_FALSE(flat->headers.Has("received"));
    ASSERT_EQ(flat->parts.size(), 2u);
    EXPECT_EQ(flat->parts[0].body, "Received: in the body stays");
    ASSERT_EQ(flat->attached.size(), 1u);
    ASSERT_EQ(flat->attached[0].headers.fields().size(), 1u);
    EXPECT_EQ(flat->attached[0].headers.Get("to"), "y@example.org");
    EXPECT_TRUE(IsTraceField("ARC-Seal"));
    EXPECT_FALSE(IsTraceField("Return-Path"));
}

// Bodies no parser reads (binary attachments, HTML after a text/plain part) are not decoded; the
// parts themselves stay listed.
TEST(BounceMime, UnreadBodiesAreNotDecoded) {
    std::string msg =
        "From: x@example.org\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\nplain text\n"
        "--b\nContent-Type: text/html\n\n<p>html</p>\n"
        "--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
        "--b\nContent-Type: application/pdf;\n name=\"a.pdf\"\n\nJVBERi0=\n"
        "--b--\n";
    absl::StatusOr<FlatMessage> flat = FlattenMessage(msg, {});
    ASSERT_TRUE(flat.ok()) << flat.status();
    ASSERT_EQ(flat->parts.size(), 4u);
    EXPECT_EQ(flat->parts[0].body, "plain text");
    EXPECT_EQ(flat->parts[1].content_type, "text/html");
    EXPECT_EQ(flat->parts[1].body, "");
    EXPECT_EQ(flat->parts[2].content_type, "image/png");
    EXPECT_EQ(flat->parts[2].body, "");
    EXPECT_EQ(flat->parts[3].content_type, "application/pdf");
    EXPECT_EQ(flat->parts[3].headers.Get("content-type"), "application/pdf; name=\"a.pdf\"");

    // HTML is the text when no text/plain comes before or after it; text/plainish is not text/plain.
    std::string html_only =
        "From: x@example.org\nContent-Type: multipart/alternative; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plainish\n\nodd\n"
        "--b\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
        "<p>caf=E9</p>\n"
        "--b\nContent-Type: text/html\n\n<p>second</p>\n"
        "--b--\n";
    flat = FlattenMessage(html_only, {});
    ASSERT_TRUE(flat.ok()) << flat.status();
    ASSERT_EQ(flat->parts.size(), 3u);
    EXPECT_EQ(flat->parts[0].content_type, "text/plainish");
    EXPECT_EQ(flat->parts[1].body, "<p>caf\xc3\xa9</p>");
    EXPECT_EQ(flat->parts[2].body, "");
}

// The structure of broken messages: each case gives the parts the parsers need.
TEST(BounceMime, BrokenMultiparts) {
    auto parts = [](const std::string& msg) {
        absl::StatusOr<FlatMessage> flat = FlattenMessage(msg, {});
        std::string out;
        if (!flat.ok()) return std::string(flat.status().message());
        for (const MimePart& p : flat->parts)
            out += StrCat(p.content_type, "@", p.depth, "/", p.message_level, "=", p.body, "|");
        return out;
    };
    const std::string head = "From: a@example.org\nContent-Type: multipart/mixed; boundary=\"b\"\n\n";
    // Preamble text, transport padding after delimiters, epilogue ignored.
    EXPECT_EQ(parts(head + "pre\n--b   \nContent-Type: text/plain\n\nhello\n--b\t\n\nsecond\n--b--  \nepilogue\n"),
              "text/x-preamble@0/0=pre|text/plain@1/0=hello|text/plain@1/0=second|");
    // No close delimiter: the last part runs to the end.
    EXPECT_EQ(parts(head + "--b\n\none\n--b\n\ntwo\n"), "text/plain@1/0=one|text/plain@1/0=two\n|");
    // Lost boundary parameter, or delimiters never found: the body is the text.
    EXPECT_EQ(parts("From: a@example.org\nContent-Type: multipart/mixed;\n\ntext -- with dashes\n--x\n\nhi\n"),
              "text/x-preamble@0/0=text -- with dashes\n--x\n\nhi\n|");
    EXPECT_EQ(parts(head + "just text\n--c\n"), "text/x-preamble@0/0=just text\n--c\n|");
    // Delimiters only at the start of a line, and not when the boundary goes on.
    EXPECT_EQ(parts(head + "--b\n\ntext with --b inside\n--bb\n--b--\n"), "text/plain@1/0=text with --b inside\n--bb|");
    // A folded Content-Type value is still a multipart.
    EXPECT_EQ(parts("From: a@example.org\nContent-Type:\n multipart/mixed; boundary=b\n\n--b\n\nhello\n--b--\n"),
              "text/plain@1/0=hello|");
    // A header line that is not a field starts the body.
    EXPECT_EQ(parts(head + "--b\nContent-Type: text/plain\nBad Header Line\n\ntext\n--b--\n"),
              "text/plain@1/0=Bad Header Line\n\ntext|");
    // Nested multipart whose close delimiter is missing: it ends at the enclosing delimiter.
    EXPECT_EQ(parts(head + "--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\n\ninner\n"
                           "--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n"),
              "text/plain@2/0=inner|text/html@1/0=|");
    // An attached original: its header is read, its body is not split; a forwarded delivery
    // report is read like the top level.
    // (A FlatMessage views its message: the texts are kept in variables.)
    const std::string attached =
        head +
        "--b\nContent-Type: message/rfc822\n\nTo: u@example.net\n"
        "Content-Type: multipart/mixed; boundary=o\n\n--o\n\noriginal\n--o--\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: gw@example.org\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
        "--r\n\ninner text\n--r\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--r--\n--b--\n";
    absl::StatusOr<FlatMessage> flat = FlattenMessage(attached, {});
    ASSERT_TRUE(flat.ok()) << flat.status();
    ASSERT_EQ(flat->attached.size(), 2u);
    EXPECT_EQ(flat->attached[0].headers.Get("to"), "u@example.net");
    EXPECT_EQ(flat->attached[1].headers.Get("from"), "gw@example.org");
    ASSERT_EQ(flat->parts.size(), 2u);
    EXPECT_EQ(flat->parts[0].body, "inner text");
    EXPECT_EQ(flat->parts[0].message_level, 1);
    EXPECT_EQ(flat->parts[1].body, "Status: 5.1.1");
    // text/rfc822-headers and message/global are read as attached headers.
    const std::string headers_parts = head +
                                      "--b\nContent-Type: text/rfc822-headers\n\nTo: a@example.net\n"
                                      "--b\nContent-Type: message/global\n\nTo: b@example.net\n\nbody\n--b--\n";
    flat = FlattenMessage(headers_parts, {});
    ASSERT_TRUE(flat.ok()) << flat.status();
    ASSERT_EQ(flat->attached.size(), 2u);
    EXPECT_EQ(flat->attached[0].headers.Get("to"), "a@example.net");
    EXPECT_EQ(flat->attached[1].headers.Get("to"), "b@example.net");
}

TEST(BounceMime, LimitsWhileSplitting) {
    // Multiparts nested 12 deep (the splitter stops at the limit, not at the end of the input).
    std::string deep = "From: a@example.org\n";
    for (int i = 0; i < 12; ++i)
        deep += StrCat("Content-Type: multipart/mixed; boundary=b", i, "\n\n--b", i, "\n");
    deep += "\ntext\n";
    MimeLimits limits;
    EXPECT_EQ(FlattenMessage(deep, limits).status().code(), absl::StatusCode::kResourceExhausted);
    limits.max_depth = 20;
    EXPECT_TRUE(FlattenMessage(deep, limits).ok());
    std::string many = "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n";
    for (int i = 0; i < 10; ++i)
        many += "--b\n\npart\n";
    limits.max_parts = 10;
    EXPECT_EQ(FlattenMessage(many, limits).status().code(), absl::StatusCode::kResourceExhausted);
    limits.max_parts = 11;
    EXPECT_TRUE(FlattenMessage(many, limits).ok());
}

// LF and CRLF input still give the same records when unread bodies are left out.
TEST(BounceParser, UnreadBodiesLineEnds) {
    std::string msg =
        "From: MAILER-DAEMON@example.org\nTo: sender@example.com\nSubject: Undelivered Mail Returned to Sender\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
        "--b\nContent-Type: text/plain\n\n<user@example.net>: host mx.example.net said: 550 5.1.1 User unknown\n"
        "--b\nContent-Type: text/html\n\n<p>550 5.7.1 blocked</p>\n"
        "--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
        "--b--\n";
    std::string crlf;
    for (char c : msg) {
        if (c == '\n') crlf.push_back('\r');
        crlf.push_back(c);
    }
    absl::StatusOr<Report> lf_report = Parse(msg);
    absl::StatusOr<Report> crlf_report = Parse(crlf);
    ASSERT_TRUE(lf_report.ok() && crlf_report.ok());
    ASSERT_EQ(lf_report->records.size(), 1u);
    ASSERT_EQ(crlf_report->records.size(), 1u);
    EXPECT_EQ(lf_report->records[0].recipient, "user@example.net");
    EXPECT_EQ(lf_report->records[0].status, "5.1.1");
    EXPECT_EQ(lf_report->records[0].reason, crlf_report->records[0].reason);
    EXPECT_EQ(lf_report->records[0].diagnostic, crlf_report->records[0].diagnostic);
}

TEST(BounceSearch, LowerAsciiMatchesAsciiLower) {
    std::string all;
    for (int c = 0; c < 256; ++c)
        all.push_back(static_cast<char>(c));
    for (std::size_t len = 0; len <= all.size(); len += 7) {
        for (std::size_t start = 0; start < 9 && start + len <= all.size(); ++start) {
            std::string_view piece = std::string_view(all).substr(start, len);
            EXPECT_EQ(LowerAscii(piece), AsciiLower(piece));
        }
    }
    EXPECT_EQ(LowerAscii("Content-Type: TEXT/Plain; Charset=UTF-8 @[`{"),
              "content-type: text/plain; charset=utf-8 @[`{");
    EXPECT_EQ(FindBytes(std::string(600, 'a') + "needle", "needle"), 600u);
    EXPECT_EQ(FindBytes(std::string(600, 'a') + "needle", "needle", 601), std::string_view::npos);
    EXPECT_EQ(FindBytes("short needle", "needle", 3), 6u);
    EXPECT_EQ(FindBytes("abc", "", 2), 2u);
    EXPECT_EQ(FindBytes("abc", "c", 4), std::string_view::npos);
}

TEST(BounceSearch, FindBytesMatchesFind) {
    // A text with many near misses of the needles, at every offset around the 16-byte blocks.
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += (i % 7 == 0) ? "rcpt" : (i % 5 == 0) ? "rcp to " : (i % 3 == 0) ? "r" : "data after ";
    text += "in reply to rcpt to";
    for (std::string_view needle : {"rcpt to", "in reply to rcpt to", "r", "rc", "data", "after d", "xyz", "to"}) {
        for (std::size_t from = 0; from < 40; ++from) {
            EXPECT_EQ(FindBytes(text, needle, from), std::string_view(text).find(needle, from)) << needle << from;
        }
        for (std::size_t len = 0; len < 40; ++len) {
            std::string_view cut = std::string_view(text).substr(text.size() - len);
            EXPECT_EQ(FindBytes(cut, needle), cut.find(needle)) << needle << len;
        }
    }
}

TEST(BounceMime, HeaderBlockUnfolds) {
    const std::string block =
        "Subject: one\n   two\n\tthree  \nX-Empty:\nTo:  <a@example.org>\r\n  , b@example.org\r\n"
        "Long: " +
        std::string(70000, 'x') + "\n\n";
    Headers h = ParseHeaderBlock(block);  // views `block`
    EXPECT_EQ(h.Get("subject"), "one two three");
    EXPECT_EQ(h.Get("x-empty"), "");
    EXPECT_EQ(h.Get("to"), "<a@example.org> , b@example.org");
    EXPECT_LE(h.Get("long").size(), 64u * 1024u + 1u);
    EXPECT_GE(h.Get("long").size(), 64u * 1024u - 1u);
}

// Squeeze() is exercised through diagnostics: collapsed whitespace, cut at 1000 bytes.
TEST(BounceParser, LongDiagnosticIsCut) {
    std::string words;
    for (int i = 0; i < 400; ++i)
        words += "word\t  ";
    std::string msg =
        "From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n\n"
        "<user@example.net>: host mx.example.net said: 550 5.1.1 User unknown " +
        words + "\n";
    absl::StatusOr<Report> report = Parse(msg);
    ASSERT_TRUE(report.ok());
    ASSERT_FALSE(report->records.empty());
    const std::string& d = report->records[0].diagnostic;
    EXPECT_LE(d.size(), 1000u);
    EXPECT_EQ(d.find("  "), std::string::npos);
    EXPECT_EQ(d.find('\t'), std::string::npos);
}

}  // namespace
}  // namespace rebound::bounce
