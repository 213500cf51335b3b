#include "services/smtp/protocol.h"

#include <algorithm>
#include <utility>

#include "services/common/log.h"
#include "services/common/strings.h"

namespace rebound::smtp {

namespace {

constexpr unsigned Bit(State s) {
    return 1u << static_cast<unsigned>(s);
}
constexpr unsigned kAnyState = Bit(State::kInit) | Bit(State::kReady) | Bit(State::kMail) | Bit(State::kRcpt);

// A delegate reply goes to the peer: make sure it is a usable SMTP reply (code range,
// class-matching enhanced code, some text) before sending it.
Reply SanitizeDelegateReply(Reply reply, const char* positive_enhanced) {
    if (reply.code < 200 || reply.code > 599 || reply.code / 100 == 3) return MakeReply(ReplyId::kLocalError);
    if (!ValidEnhancedCode(reply.enhanced, reply.code)) {
        reply.enhanced = reply.code < 300 ? positive_enhanced : (reply.code < 500 ? "4.0.0" : "5.0.0");
    }
    if (reply.text.empty()) reply.text = reply.Positive() ? "OK" : "Rejected";
    return reply;
}

// Upper bound for the buffer reserved from a declared SIZE (peer-controlled).
constexpr std::uint64_t kMaxReserve = 1 << 20;

}  // namespace

struct Protocol::CommandSpec {
    Verb verb;
    unsigned allowed;  // bit set of states
    std::optional<Reply> (Protocol::*check)(std::string_view args);
    Next (Protocol::*proceed)(std::string* out);
};

const Protocol::CommandSpec* Protocol::FindSpec(Verb verb) {
    static const CommandSpec kSpecs[] = {
        {Verb::kEhlo, kAnyState, &Protocol::CheckHelo, &Protocol::ProceedEhlo},
        {Verb::kHelo, kAnyState, &Protocol::CheckHelo, &Protocol::ProceedHelo},
        {Verb::kMail, Bit(State::kReady), &Protocol::CheckMail, &Protocol::ProceedMail},
        {Verb::kRcpt, Bit(State::kMail) | Bit(State::kRcpt), &Protocol::CheckRcpt, &Protocol::ProceedRcpt},
        {Verb::kData, Bit(State::kRcpt), &Protocol::CheckNoArgs, &Protocol::ProceedData},
        {Verb::kRset, kAnyState, &Protocol::CheckNoArgs, &Protocol::ProceedRset},
        {Verb::kNoop, kAnyState, &Protocol::CheckAny, &Protocol::ProceedNoop},
        {Verb::kQuit, kAnyState, &Protocol::CheckNoArgs, &Protocol::ProceedQuit},
        {Verb::kVrfy, kAnyState, &Protocol::CheckVrfy, &Protocol::ProceedVrfy},
        {Verb::kHelp, kAnyState, &Protocol::CheckAny, &Protocol::ProceedHelp},
        {Verb::kStartTls, Bit(State::kInit) | Bit(State::kReady), &Protocol::CheckStartTls, &Protocol::ProceedStartTls},
        {Verb::kExpn, kAnyState, &Protocol::CheckAny, &Protocol::ProceedNotImplemented},
        {Verb::kBdat, kAnyState, &Protocol::CheckAny, &Protocol::ProceedNotImplemented},
        {Verb::kAuth, kAnyState, &Protocol::CheckAny, &Protocol::ProceedNotImplemented},
        {Verb::kTurn, kAnyState, &Protocol::CheckAny, &Protocol::ProceedNotImplemented},
        {Verb::kEtrn, kAnyState, &Protocol::CheckAny, &Protocol::ProceedNotImplemented},
    };
    for (const CommandSpec& spec : kSpecs)
        if (spec.verb == verb) return &spec;
    return nullptr;
}

std::string_view StateName(State state) {
    switch (state) {
        case State::kInit:
            return "init";
        case State::kReady:
            return "ready";
        case State::kMail:
            return "mail";
        case State::kRcpt:
            return "rcpt";
        case State::kData:
            return "data";
        case State::kClosed:
            return "closed";
    }
    return "unknown";
}

Protocol::Protocol(const ServerOptions& options, bool tls_available, Delegate* delegate, Counters* counters,
                   SessionInfo* info)
    : options_(options),
      limits_(options.limits),
      tls_available_(tls_available),
      delegate_(delegate),
      counters_(counters),
      info_(info) {}

void Protocol::Greet(std::string* out) const {
    AppendReply(out, Reply{220, "", StrCat(options_.hostname, " ESMTP Rebound")});
}

void Protocol::EnterState(State next) {
    if (next == state_) return;
    log::Debug("smtp.state").Kv("session", info_->session_id).Kv("from", StateName(state_)).Kv("to", StateName(next));
    state_ = next;
}

void Protocol::ResetTransaction() {
    transaction_.reset();
    message_.clear();
    message_.shrink_to_fit();
    if (state_ != State::kInit && state_ != State::kClosed) EnterState(State::kReady);
}

Next Protocol::Error(const Reply& reply, std::string* out) {
    AppendReply(out, reply);
    ++errors_;
    log::Info("smtp.client_error")
        .Kv("session", info_->session_id)
        .Kv("state", StateName(state_))
        .Kv("code", reply.code)
        .Kv("enhanced", reply.enhanced)
        .Kv("errors", errors_);
    if (errors_ >= limits_.max_errors) {
        Bump(counters_->errors_exceeded);
        log::Info("smtp.errors_exceeded").Kv("session", info_->session_id).Kv("errors", errors_);
        AppendReply(out, MakeReply(ReplyId::kTooManyErrors));
        EnterState(State::kClosed);
        return Next::kClose;
    }
    return Next::kReadCommand;
}

ReplyId Protocol::WrongStateReply(Verb verb) const {
    if (state_ == State::kInit && verb != Verb::kStartTls) return ReplyId::kNeedHelo;
    switch (verb) {
        case Verb::kMail:
            return ReplyId::kNestedMail;
        case Verb::kRcpt:
            return ReplyId::kNeedMail;
        case Verb::kData:
            if (state_ == State::kReady) return ReplyId::kNeedMail;
            if (transaction_ && transaction_->rcpt_attempts > 0) return ReplyId::kNoValidRecipients;
            return ReplyId::kNeedRcpt;
        default:
            return ReplyId::kBadSequence;
    }
}

Next Protocol::OnCommandLine(const LineResult& line, std::string* out) {
    switch (line.status) {
        case LineStatus::kLine:
            break;
        case LineStatus::kTooLong:
            Bump(counters_->line_too_long);
            return Error(MakeReply(ReplyId::kLineTooLong, static_cast<long long>(limits_.command_line_max)), out);
        case LineStatus::kBareLf:
        case LineStatus::kBareCr:
            Bump(counters_->bare_lf);
            log::Info("smtp.bare_line_end").Kv("session", info_->session_id).Kv("where", "command");
            return Error(MakeReply(ReplyId::kBareLineEndCommand), out);
        case LineStatus::kNeedMore:
            return Next::kReadCommand;
    }
    const Command cmd = ParseCommand(line.line);
    if (log::MinLevel() <= log::Level::kDebug) {
        log::Debug("smtp.command")
            .Kv("session", info_->session_id)
            .Kv("state", StateName(state_))
            .Kv("line", line.line.substr(0, 80));
    }
    const CommandSpec* spec = FindSpec(cmd.verb);
    if (spec == nullptr) {
        Bump(counters_->syntax);
        return Error(MakeReply(ReplyId::kUnknownCommand), out);
    }
    if ((spec->allowed & Bit(state_)) == 0) {
        Bump(counters_->syntax);
        return Error(MakeReply(WrongStateReply(cmd.verb)), out);
    }
    if (std::optional<Reply> err = (this->*spec->check)(cmd.args)) {
        if (err->code == 552) {
            Bump(counters_->size);
            AppendReply(out, *err);
            return Next::kReadCommand;
        }
        if (err->code == 452) {
            Bump(counters_->too_many_recipients);
            AppendReply(out, *err);
            return Next::kReadCommand;
        }
        Bump(counters_->syntax);
        return Error(*err, out);
    }
    return (this->*spec->proceed)(out);
}

std::optional<Reply> Protocol::CheckHelo(std::string_view args) {
    args = StripWhitespace(args);
    if (!ValidHeloArgument(args)) return MakeReply(ReplyId::kSyntax);
    pending_helo_ = std::string(args);
    return std::nullopt;
}

std::optional<Reply> Protocol::CheckMail(std::string_view args) {
    pending_mail_ = MailArgs{};
    if (std::optional<ReplyId> err = ParseMailArgs(args, &pending_mail_)) return MakeReply(*err);
    if (pending_mail_.non_ascii && !pending_mail_.smtputf8) return MakeReply(ReplyId::kNonAsciiAddress);
    if (pending_mail_.size && *pending_mail_.size > limits_.max_message_bytes) {
        return MakeReply(ReplyId::kDeclaredTooBig, static_cast<long long>(limits_.max_message_bytes));
    }
    return std::nullopt;
}

std::optional<Reply> Protocol::CheckRcpt(std::string_view args) {
    pending_rcpt_ = RcptArgs{};
    if (std::optional<ReplyId> err = ParseRcptArgs(args, &pending_rcpt_)) return MakeReply(*err);
    if (pending_rcpt_.non_ascii && !transaction_->mail.smtputf8) return MakeReply(ReplyId::kNonAsciiAddress);
    if (transaction_->recipients.size() >= limits_.max_recipients) {
        return MakeReply(ReplyId::kTooManyRecipients, static_cast<long long>(limits_.max_recipients));
    }
    return std::nullopt;
}

std::optional<Reply> Protocol::CheckNoArgs(std::string_view args) {
    if (!StripWhitespace(args).empty()) return MakeReply(ReplyId::kSyntax);
    return std::nullopt;
}

std::optional<Reply> Protocol::CheckAny(std::string_view /*args*/) {
    return std::nullopt;
}

std::optional<Reply> Protocol::CheckVrfy(std::string_view args) {
    if (StripWhitespace(args).empty()) return MakeReply(ReplyId::kSyntax);
    return std::nullopt;
}

std::optional<Reply> Protocol::CheckStartTls(std::string_view args) {
    if (!StripWhitespace(args).empty()) return MakeReply(ReplyId::kSyntax);
    if (info_->tls) return MakeReply(ReplyId::kAlreadyTls);
    if (!tls_available_) return MakeReply(ReplyId::kNotImplemented);
    return std::nullopt;
}

Next Protocol::ProceedEhlo(std::string* out) {
    ResetTransaction();
    info_->helo = std::move(pending_helo_);
    log::Info("smtp.helo").Kv("session", info_->session_id).Kv("helo", info_->helo).Kv("esmtp", true);
    EnterState(State::kReady);
    std::string text = StrCat(options_.hostname, " greets ", info_->helo);
    StrAppend(&text, "\nPIPELINING\n8BITMIME\nSIZE ", limits_.max_message_bytes, "\nENHANCEDSTATUSCODES\nSMTPUTF8");
    if (tls_available_ && !info_->tls) text.append("\nSTARTTLS");
    AppendReply(out, Reply{250, "", std::move(text)});
    return Next::kReadCommand;
}

Next Protocol::ProceedHelo(std::string* out) {
    ResetTransaction();
    info_->helo = std::move(pending_helo_);
    log::Info("smtp.helo").Kv("session", info_->session_id).Kv("helo", info_->helo).Kv("esmtp", false);
    EnterState(State::kReady);
    AppendReply(out, Reply{250, "", options_.hostname});
    return Next::kReadCommand;
}

Next Protocol::ProceedMail(std::string* out) {
    if (messages_ >= limits_.max_messages_per_connection) {
        Bump(counters_->too_many_messages);
        AppendReply(out, MakeReply(ReplyId::kTooManyMessages, static_cast<long long>(messages_)));
        EnterState(State::kClosed);
        return Next::kClose;
    }
    transaction_.emplace();
    transaction_->mail = std::move(pending_mail_);
    EnterState(State::kMail);
    AppendReply(out, MakeReply(ReplyId::kSenderOk));
    return Next::kReadCommand;
}

Next Protocol::ProceedRcpt(std::string* out) {
    ++transaction_->rcpt_attempts;
    Reply reply = SanitizeDelegateReply(delegate_->CheckRecipient(*info_, pending_rcpt_.mailbox), "2.1.5");
    if (reply.Positive()) {
        transaction_->recipients.push_back(std::move(pending_rcpt_.mailbox));
        Bump(counters_->recipients_accepted);
        EnterState(State::kRcpt);
    } else {
        if (reply.Transient()) {
            Bump(counters_->rcpt_temporary);
        } else if (reply.enhanced == "5.7.1") {
            Bump(counters_->relay_denied);
        } else if (reply.enhanced.starts_with("5.1.")) {
            Bump(counters_->rcpt_unknown);
        } else {
            Bump(counters_->rcpt_other);
        }
        log::Info("smtp.rcpt_rejected")
            .Kv("session", info_->session_id)
            .Kv("rcpt", std::string_view(pending_rcpt_.mailbox).substr(0, 128))
            .Kv("code", reply.code)
            .Kv("enhanced", reply.enhanced);
    }
    AppendReply(out, reply);
    if (reply.code == 421) {
        EnterState(State::kClosed);
        return Next::kClose;
    }
    return Next::kReadCommand;
}

Next Protocol::ProceedData(std::string* out) {
    message_.clear();
    const std::uint64_t hint = std::min({transaction_->mail.size.value_or(0), limits_.max_message_bytes, kMaxReserve});
    message_.reserve(static_cast<std::size_t>(hint));
    data_bytes_ = 0;
    prev_crlf_ = true;
    oversize_ = false;
    bare_line_end_ = false;
    data_line_too_long_ = false;
    EnterState(State::kData);
    AppendReply(out, MakeReply(ReplyId::kStartData));
    return Next::kReadData;
}

Next Protocol::OnDataLine(const LineResult& line, std::string* out) {
    switch (line.status) {
        case LineStatus::kNeedMore:
            return Next::kReadData;
        case LineStatus::kTooLong:
            data_line_too_long_ = true;
            // Whether the discarded line ended with CR LF is unknown; the message is
            // rejected either way, so a following "." may end it.
            prev_crlf_ = true;
            return Next::kReadData;
        case LineStatus::kBareLf:
            bare_line_end_ = true;
            data_bytes_ += line.line.size() + 1;
            prev_crlf_ = false;
            return Next::kReadData;
        case LineStatus::kBareCr:
            bare_line_end_ = true;
            data_bytes_ += line.line.size() + 2;
            prev_crlf_ = true;
            return Next::kReadData;
        case LineStatus::kLine:
            break;
    }
    std::string_view text = line.line;
    data_bytes_ += text.size() + 2;
    // Only CR LF "." CR LF ends the data (RFC 5321 4.1.1.4); "." after a bare LF does not.
    if (text == "." && prev_crlf_) {
        ++messages_;
        ++data_bytes_;
        if (bare_line_end_ || data_line_too_long_ || oversize_) {
            Reply reply;
            if (bare_line_end_) {
                Bump(counters_->bare_lf);
                reply = MakeReply(ReplyId::kBareLineEndData);
            } else if (data_line_too_long_) {
                Bump(counters_->line_too_long);
                reply = MakeReply(ReplyId::kDataLineTooLong, static_cast<long long>(limits_.text_line_max));
            } else {
                Bump(counters_->size);
                reply = MakeReply(ReplyId::kMessageTooBig, static_cast<long long>(limits_.max_message_bytes));
            }
            Bump(counters_->messages_rejected);
            log::Info("smtp.message_rejected")
                .Kv("session", info_->session_id)
                .Kv("code", reply.code)
                .Kv("enhanced", reply.enhanced)
                .Kv("bytes", data_bytes_);
            ResetTransaction();
            EnterState(State::kReady);
            if (bare_line_end_ || data_line_too_long_) return Error(reply, out);
            AppendReply(out, reply);
            return Next::kReadCommand;
        }
        return Next::kDeliver;
    }
    prev_crlf_ = true;
    if (!text.empty() && text.front() == '.') text.remove_prefix(1);
    if (oversize_) return Next::kReadData;
    if (message_.size() + text.size() + 2 > limits_.max_message_bytes) {
        // Keep reading to the end of the data, but store nothing more.
        oversize_ = true;
        message_.clear();
        message_.shrink_to_fit();
        return Next::kReadData;
    }
    message_.append(text);
    message_.append("\r\n");
    return Next::kReadData;
}

Protocol::Delivery Protocol::TakeDelivery() {
    Delivery d;
    d.envelope.mail_from = std::move(transaction_->mail.mailbox);
    d.envelope.recipients = std::move(transaction_->recipients);
    d.envelope.smtputf8 = transaction_->mail.smtputf8;
    d.envelope.eight_bit = transaction_->mail.body == BodyType::k8BitMime;
    d.message = std::move(message_);
    message_ = std::string();
    ResetTransaction();
    EnterState(State::kReady);
    return d;
}

Next Protocol::OnDelivered(const Reply& delegate_reply, std::size_t message_bytes, std::string* out) {
    const Reply reply = SanitizeDelegateReply(delegate_reply, "2.0.0");
    if (reply.Positive()) {
        Bump(counters_->messages_accepted);
        Bump(counters_->bytes_accepted, message_bytes);
    } else if (reply.Transient()) {
        Bump(counters_->messages_deferred);
    } else {
        Bump(counters_->messages_rejected);
    }
    AppendReply(out, reply);
    // RFC 5321 4.2.2: 421 means the service is closing the transmission channel.
    if (reply.code == 421) {
        EnterState(State::kClosed);
        return Next::kClose;
    }
    return Next::kReadCommand;
}

void Protocol::OnTlsStarted() {
    info_->tls = true;
    info_->helo.clear();
    transaction_.reset();
    EnterState(State::kInit);
}

Next Protocol::ProceedRset(std::string* out) {
    ResetTransaction();
    AppendReply(out, MakeReply(ReplyId::kResetOk));
    return Next::kReadCommand;
}

Next Protocol::ProceedNoop(std::string* out) {
    AppendReply(out, MakeReply(ReplyId::kOk));
    return Next::kReadCommand;
}

Next Protocol::ProceedQuit(std::string* out) {
    AppendReply(out, MakeReply(ReplyId::kBye));
    EnterState(State::kClosed);
    return Next::kClose;
}

Next Protocol::ProceedVrfy(std::string* out) {
    AppendReply(out, MakeReply(ReplyId::kCannotVerify));
    return Next::kReadCommand;
}

Next Protocol::ProceedHelp(std::string* out) {
    AppendReply(out, MakeReply(ReplyId::kHelp));
    return Next::kReadCommand;
}

Next Protocol::ProceedStartTls(std::string* out) {
    AppendReply(out, MakeReply(ReplyId::kReadyToStartTls));
    return Next::kStartTls;
}

Next Protocol::ProceedNotImplemented(std::string* out) {
    Bump(counters_->syntax);
    return Error(MakeReply(ReplyId::kNotImplemented), out);
}

}  // namespace rebound::smtp
