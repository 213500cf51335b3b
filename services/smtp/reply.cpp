#include "services/smtp/reply.h"

#include <cstddef>

#include "services/common/strings.h"

namespace rebound::smtp {
namespace {

struct Entry {
    ReplyId id;
    int code;
    const char* enhanced;
    const char* text;  // "%n" is replaced by the argument
};

constexpr Entry kTable[] = {
    {ReplyId::kOk, 250, "2.0.0", "OK"},
    {ReplyId::kSenderOk, 250, "2.1.0", "Sender OK"},
    {ReplyId::kRecipientOk, 250, "2.1.5", "Recipient OK"},
    {ReplyId::kResetOk, 250, "2.0.0", "Reset OK"},
    {ReplyId::kStartData, 354, "", "End data with <CR><LF>.<CR><LF>"},
    {ReplyId::kBye, 221, "2.0.0", "Bye"},
    {ReplyId::kHelp, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS"},
    {ReplyId::kCannotVerify, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"},
    {ReplyId::kReadyToStartTls, 220, "2.0.0", "Ready to start TLS"},
    {ReplyId::kServiceClosing, 421, "4.3.2", "Service shutting down, closing transmission channel"},
    {ReplyId::kTimeout, 421, "4.4.2", "Timeout exceeded, closing transmission channel"},
    {ReplyId::kDataTooSlow, 421, "4.4.2", "Data rate below %n bytes per second, closing transmission channel"},
    {ReplyId::kSessionTooLong, 421, "4.4.2", "Session time limit exceeded, closing transmission channel"},
    {ReplyId::kTooManyErrors, 421, "4.7.0", "Too many errors, closing transmission channel"},
    {ReplyId::kTooManyMessages, 421, "4.7.0",
     "Too many messages in one session (limit %n), closing transmission channel"},
    {ReplyId::kTooManyConnections, 421, "4.7.0", "Too many connections, try again later"},
    {ReplyId::kTooManyFromClient, 421, "4.7.0", "Too many connections from your address, try again later"},
    {ReplyId::kTooManyRecipients, 452, "4.5.3", "Too many recipients (limit %n)"},
    {ReplyId::kLocalError, 451, "4.3.0", "Local error in processing, try again later"},
    {ReplyId::kTlsUnavailable, 454, "4.7.0", "TLS not available"},
    {ReplyId::kUnknownCommand, 500, "5.5.1", "Command unrecognized"},
    {ReplyId::kLineTooLong, 500, "5.5.2", "Line too long (limit %n octets)"},
    {ReplyId::kBareLineEndCommand, 500, "5.5.2", "Bare <CR> or <LF> in command; lines must end with <CR><LF>"},
    {ReplyId::kSyntax, 501, "5.5.4", "Syntax error in parameters or arguments"},
    {ReplyId::kBadSenderSyntax, 501, "5.1.7", "Bad sender address syntax"},
    {ReplyId::kBadRecipientSyntax, 501, "5.1.3", "Bad recipient address syntax"},
    {ReplyId::kNotImplemented, 502, "5.5.1", "Command not implemented"},
    {ReplyId::kBadSequence, 503, "5.5.1", "Bad sequence of commands"},
    {ReplyId::kNeedHelo, 503, "5.5.1", "Send EHLO or HELO first"},
    {ReplyId::kNeedMail, 503, "5.5.1", "Need MAIL command first"},
    {ReplyId::kNeedRcpt, 503, "5.5.1", "Need RCPT command first"},
    {ReplyId::kNestedMail, 503, "5.5.1", "Sender already specified"},
    {ReplyId::kAlreadyTls, 503, "5.5.1", "TLS already active"},
    {ReplyId::kNonAsciiAddress, 553, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter"},
    {ReplyId::kMessageTooBig, 552, "5.3.4", "Message size exceeds fixed limit of %n bytes"},
    {ReplyId::kDeclaredTooBig, 552, "5.3.4", "Declared message size exceeds fixed limit of %n bytes"},
    {ReplyId::kBadParameter, 555, "5.5.4", "Unsupported or malformed parameter"},
    {ReplyId::kTalkedTooSoon, 554, "5.5.1", "Protocol error: data sent before the greeting"},
    {ReplyId::kBareLineEndData, 554, "5.6.11",
     "Message rejected: bare <CR> or <LF> in message data; lines must end with <CR><LF>"},
    {ReplyId::kDataLineTooLong, 554, "5.6.0", "Message rejected: line longer than %n octets"},
    {ReplyId::kNoValidRecipients, 554, "5.5.1", "No valid recipients"},
};

constexpr std::size_t kMaxLineText = 510;

void AppendLine(std::string* out, int code, bool last, std::string_view enhanced, std::string_view text) {
    StrAppend(out, code, last ? ' ' : '-');
    if (!enhanced.empty()) StrAppend(out, enhanced, ' ');
    if (text.size() > kMaxLineText) text = text.substr(0, kMaxLineText);
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        out->push_back(u < 0x20 || u == 0x7f ? ' ' : c);
    }
    out->append("\r\n");
}

}  // namespace

Reply MakeReply(ReplyId id, long long arg) {
    for (const Entry& e : kTable) {
        if (e.id != id) continue;
        std::string text = e.text;
        if (std::size_t pos = text.find("%n"); pos != std::string::npos) text.replace(pos, 2, StrCat(arg));
        return Reply{e.code, e.enhanced, std::move(text)};
    }
    return Reply{451, "4.3.0", "Local error in processing"};
}

void AppendReply(std::string* out, const Reply& reply) {
    int code = reply.code;
    std::string_view enhanced = reply.enhanced;
    std::string_view text = reply.text;
    if (code < 200 || code > 599) {
        code = 451;
        enhanced = "4.3.0";
        text = "Local error in processing";
    } else if (!enhanced.empty() && !ValidEnhancedCode(enhanced, code)) {
        enhanced = code < 400 ? "2.0.0" : (code < 500 ? "4.0.0" : "5.0.0");
    }
    // Every line but the last is a continuation line: "250-...".
    for (;;) {
        const std::size_t nl = text.find('\n');
        if (nl == std::string_view::npos) {
            AppendLine(out, code, true, enhanced, text);
            return;
        }
        AppendLine(out, code, false, enhanced, text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
}

bool ValidEnhancedCode(std::string_view enhanced, int code) {
    // class "." subject "." detail, subject and detail 1..3 digits (RFC 3463).
    if (enhanced.size() < 5 || enhanced[1] != '.') return false;
    const char cls = enhanced[0];
    if (cls != '2' && cls != '4' && cls != '5') return false;
    if (cls - '0' != code / 100 && !(cls == '2' && code / 100 == 3)) return false;
    std::vector<std::string_view> parts = Split(enhanced.substr(2), '.');
    if (parts.size() != 2) return false;
    for (std::string_view p : parts) {
        if (p.empty() || p.size() > 3) return false;
        for (char c : p)
            if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace rebound::smtp
