#pragma once
// SMTP replies: one typed table for every reply the server itself sends (code, RFC 3463
// enhanced status code, text), and the formatter that puts a reply on the wire.

#include <string>
#include <string_view>

namespace rebound::smtp {

struct Reply {
    int code = 0;          // 200..599
    std::string enhanced;  // "2.1.5"; empty only for the greeting, EHLO and HELO
    std::string text;      // may contain '\n' to make a multi-line reply

    bool Positive() const { return code >= 200 && code < 400; }
    bool Transient() const { return code >= 400 && code < 500; }
    bool Permanent() const { return code >= 500 && code < 600; }
};

// The server's own replies. Each id maps to exactly one entry of the table in reply.cpp.
enum class ReplyId {
    kOk,                  // 250 2.0.0
    kSenderOk,            // 250 2.1.0
    kRecipientOk,         // 250 2.1.5
    kResetOk,             // 250 2.0.0
    kStartData,           // 354
    kBye,                 // 221 2.0.0
    kHelp,                // 214 2.0.0
    kCannotVerify,        // 252 2.5.0
    kReadyToStartTls,     // 220 2.0.0
    kServiceClosing,      // 421 4.3.2 shutting down
    kTimeout,             // 421 4.4.2
    kDataTooSlow,         // 421 4.4.2
    kSessionTooLong,      // 421 4.4.2
    kTooManyErrors,       // 421 4.7.0
    kTooManyMessages,     // 421 4.7.0
    kTooManyConnections,  // 421 4.7.0
    kTooManyFromClient,   // 421 4.7.0
    kTooManyRecipients,   // 452 4.5.3
    kLocalError,          // 451 4.3.0
    kTlsUnavailable,      // 454 4.7.0
    kUnknownCommand,      // 500 5.5.1
    kLineTooLong,         // 500 5.5.2
    kBareLineEndCommand,  // 500 5.5.2
    kSyntax,              // 501 5.5.4
    kBadSenderSyntax,     // 501 5.1.7
    kBadRecipientSyntax,  // 501 5.1.3
    kNotImplemented,      // 502 5.5.1
    kBadSequence,         // 503 5.5.1
    kNeedHelo,            // 503 5.5.1
    kNeedMail,            // 503 5.5.1
    kNeedRcpt,            // 503 5.5.1
    kNestedMail,          // 503 5.5.1
    kAlreadyTls,          // 503 5.5.1
    kNonAsciiAddress,     // 553 5.6.7
    kMessageTooBig,       // 552 5.3.4
    kDeclaredTooBig,      // 552 5.3.4
    kBadParameter,        // 555 5.5.4
    kTalkedTooSoon,       // 554 5.5.1
    kBareLineEndData,     // 554 5.6.11
    kDataLineTooLong,     // 554 5.6.0
    kNoValidRecipients,   // 554 5.5.1
};

// The reply for `id`. Entries whose text mentions a number take it from `arg` (e.g. the
// maximum size); otherwise `arg` is ignored.
Reply MakeReply(ReplyId id, long long arg = 0);

// Appends `reply` in wire format: "250 2.1.5 text\r\n", or "250-first\r\n250 last\r\n" for
// text with several lines. Control characters in the text are replaced with spaces, so a
// reply built from peer or delegate text cannot inject lines; the text of one line is cut
// at 510 octets. A code outside 200..599 is sent as 451 4.3.0.
void AppendReply(std::string* out, const Reply& reply);

// True if `enhanced` is a valid RFC 3463 code whose class matches `code` (2xx -> "2.").
bool ValidEnhancedCode(std::string_view enhanced, int code);

}  // namespace rebound::smtp
