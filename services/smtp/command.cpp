#include "services/smtp/command.h"

#include <array>

#include "services/common/strings.h"

namespace rebound::smtp {
namespace {

struct VerbEntry {
    std::string_view name;
    Verb verb;
};

constexpr std::array<VerbEntry, 16> kVerbs = {{
    {"EHLO", Verb::kEhlo},
    {"HELO", Verb::kHelo},
    {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},
    {"DATA", Verb::kData},
    {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},
    {"EXPN", Verb::kExpn},
    {"HELP", Verb::kHelp},
    {"STARTTLS", Verb::kStartTls},
    {"BDAT", Verb::kBdat},
    {"AUTH", Verb::kAuth},
    {"TURN", Verb::kTurn},
    {"ETRN", Verb::kEtrn},
}};

bool IsAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}
bool IsHigh(char c) {
    return static_cast<unsigned char>(c) >= 0x80;
}
bool IsAtext(char c) {
    if (IsAlpha(c) || IsDigit(c)) return true;
    constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
    return kSpecials.find(c) != std::string_view::npos;
}

// Dot-string = Atom *("." Atom), atext plus UTF-8 octets.
bool ValidDotString(std::string_view s, bool* non_ascii) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    char prev = 0;
    for (char c : s) {
        if (c == '.') {
            if (prev == '.') return false;
        } else if (IsHigh(c)) {
            *non_ascii = true;
        } else if (!IsAtext(c)) {
            return false;
        }
        prev = c;
    }
    return true;
}

// Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE.
bool ValidQuotedString(std::string_view s, bool* non_ascii) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    s = s.substr(1, s.size() - 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\\') {
            if (++i == s.size()) return false;
            const auto q = static_cast<unsigned char>(s[i]);
            if (q < 32 || q > 126) return false;
        } else if (c == '"') {
            return false;
        } else if (IsHigh(c)) {
            *non_ascii = true;
        } else {
            const auto u = static_cast<unsigned char>(c);
            if (u < 32 || u > 126) return false;
        }
    }
    return true;
}

bool ValidDomainName(std::string_view d, bool* non_ascii) {
    if (d.empty() || d.size() > kMaxDomain) return false;
    for (std::string_view label : Split(d, '.')) {
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            if (IsHigh(c)) {
                *non_ascii = true;
            } else if (!IsAlpha(c) && !IsDigit(c) && c != '-') {
                return false;
            }
        }
    }
    return true;
}

bool ValidAddressLiteral(std::string_view d) {
    if (d.size() < 3 || d.size() > kMaxDomain || d.front() != '[' || d.back() != ']') return false;
    std::string_view inner = d.substr(1, d.size() - 2);
    if (StartsWithIgnoreCase(inner, "IPv6:")) {
        inner.remove_prefix(5);
        if (inner.empty()) return false;
        for (char c : inner) {
            if (!IsDigit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') && c != ':' && c != '.') return false;
        }
        return true;
    }
    // IPv4 dotted quad, or General-address-literal (dcontent = %d33-90 / %d94-126).
    std::vector<std::string_view> parts = Split(inner, '.');
    bool ipv4 = parts.size() == 4;
    for (std::string_view p : parts) {
        unsigned v = 0;
        if (p.size() > 3 || !ParseInt(p, &v) || v > 255) ipv4 = false;
    }
    if (ipv4) return true;
    const std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    for (char c : inner) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126 || c == '[' || c == '\\' || c == ']') return false;
    }
    return true;
}

// Splits "<path> params" after the "FROM:" / "TO:" keyword. Returns false on syntax error.
bool SplitPathAndParams(std::string_view args, std::string_view keyword, std::string_view* path,
                        std::string_view* params) {
    if (!StartsWithIgnoreCase(args, keyword)) return false;
    args.remove_prefix(keyword.size());
    // Tolerate one space after the colon ("MAIL FROM: <a@b>"), as many clients send it.
    if (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    if (args.empty() || args.front() != '<') return false;
    // The path ends at the first '>' outside a quoted string.
    bool quoted = false;
    std::size_t end = std::string_view::npos;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const char c = args[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == '>') {
            end = i;
            break;
        }
    }
    if (end == std::string_view::npos) return false;
    *path = args.substr(1, end - 1);
    std::string_view rest = args.substr(end + 1);
    if (!rest.empty() && rest.front() != ' ') return false;
    *params = rest;
    return true;
}

// Removes an obsolete source route "@a,@b:" (RFC 5321 says to accept and ignore it).
bool StripSourceRoute(std::string_view* path) {
    if (path->empty() || path->front() != '@') return true;
    const std::size_t colon = path->find(':');
    if (colon == std::string_view::npos) return false;
    for (std::string_view hop : Split(path->substr(0, colon), ',')) {
        bool ignored = false;
        if (hop.size() < 2 || hop.front() != '@' || !ValidDomainName(hop.substr(1), &ignored)) return false;
    }
    path->remove_prefix(colon + 1);
    return true;
}

struct Param {
    std::string_view keyword;
    std::string_view value;
    bool has_value = false;
};

bool ParseParams(std::string_view text, std::vector<Param>* out) {
    for (std::string_view token : Split(text, ' ', /*skip_empty=*/true)) {
        if (out->size() >= kMaxParams) return false;
        Param p;
        const std::size_t eq = token.find('=');
        p.keyword = token.substr(0, eq);
        if (eq != std::string_view::npos) {
            p.value = token.substr(eq + 1);
            p.has_value = true;
            if (p.value.empty()) return false;
            for (char c : p.value) {
                const auto u = static_cast<unsigned char>(c);
                if (u < 33 || u == '=' || u == 127) return false;
            }
        }
        if (p.keyword.empty() || !(IsAlpha(p.keyword.front()) || IsDigit(p.keyword.front()))) return false;
        for (char c : p.keyword)
            if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
        out->push_back(p);
    }
    return true;
}

}  // namespace

std::string_view VerbName(Verb verb) {
    for (const VerbEntry& e : kVerbs)
        if (e.verb == verb) return e.name;
    return "UNKNOWN";
}

Command ParseCommand(std::string_view line) {
    const std::size_t space = line.find(' ');
    const std::string_view word = line.substr(0, space);
    Command cmd;
    for (const VerbEntry& e : kVerbs) {
        if (EqualsIgnoreCase(word, e.name)) {
            cmd.verb = e.verb;
            break;
        }
    }
    if (space != std::string_view::npos) cmd.args = line.substr(space + 1);
    return cmd;
}

bool ValidMailbox(std::string_view mailbox, bool* non_ascii) {
    if (mailbox.size() > kMaxPath - 2) return false;
    const std::size_t at = mailbox.rfind('@');
    if (at == std::string_view::npos || at == 0) return false;
    const std::string_view local = mailbox.substr(0, at);
    const std::string_view domain = mailbox.substr(at + 1);
    if (local.size() > kMaxLocalPart) return false;
    bool high = false;
    if (local.front() == '"') {
        if (!ValidQuotedString(local, &high)) return false;
    } else if (!ValidDotString(local, &high)) {
        return false;
    }
    if (!domain.empty() && domain.front() == '[') {
        if (!ValidAddressLiteral(domain)) return false;
    } else if (!ValidDomainName(domain, &high)) {
        return false;
    }
    *non_ascii = high;
    return true;
}

bool ValidHeloArgument(std::string_view arg) {
    if (arg.empty() || arg.size() > kMaxDomain) return false;
    if (arg.front() == '[') return ValidAddressLiteral(arg);
    // Domain syntax, leniently: many clients send names with underscores or a trailing
    // dot; reject only what cannot be a name (spaces, controls, brackets).
    for (char c : arg) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 32 || u == 127 || c == '<' || c == '>' || c == '[' || c == ']' || c == '"' || c == '\\') return false;
    }
    return true;
}

std::optional<ReplyId> ParseMailArgs(std::string_view args, MailArgs* out) {
    std::string_view path, params_text;
    if (!SplitPathAndParams(args, "FROM:", &path, &params_text)) return ReplyId::kSyntax;
    if (!StripSourceRoute(&path)) return ReplyId::kBadSenderSyntax;
    if (path.empty()) {
        out->mailbox.clear();
    } else {
        if (!ValidMailbox(path, &out->non_ascii)) return ReplyId::kBadSenderSyntax;
        out->mailbox = std::string(path);
    }
    std::vector<Param> params;
    if (!ParseParams(params_text, &params)) return ReplyId::kBadParameter;
    bool seen_size = false, seen_body = false, seen_utf8 = false;
    for (const Param& p : params) {
        if (EqualsIgnoreCase(p.keyword, "SIZE")) {
            std::uint64_t size = 0;
            if (seen_size || !p.has_value || p.value.size() > 20 || !ParseInt(p.value, &size))
                return ReplyId::kBadParameter;
            for (char c : p.value)
                if (!IsDigit(c)) return ReplyId::kBadParameter;
            out->size = size;
            seen_size = true;
        } else if (EqualsIgnoreCase(p.keyword, "BODY")) {
            if (seen_body || !p.has_value) return ReplyId::kBadParameter;
            if (EqualsIgnoreCase(p.value, "7BIT")) {
                out->body = BodyType::k7Bit;
            } else if (EqualsIgnoreCase(p.value, "8BITMIME")) {
                out->body = BodyType::k8BitMime;
            } else {
                return ReplyId::kBadParameter;
            }
            seen_body = true;
        } else if (EqualsIgnoreCase(p.keyword, "SMTPUTF8")) {
            if (seen_utf8 || p.has_value) return ReplyId::kBadParameter;
            out->smtputf8 = true;
            seen_utf8 = true;
        } else {
            return ReplyId::kBadParameter;
        }
    }
    return std::nullopt;
}

std::optional<ReplyId> ParseRcptArgs(std::string_view args, RcptArgs* out) {
    std::string_view path, params_text;
    if (!SplitPathAndParams(args, "TO:", &path, &params_text)) return ReplyId::kSyntax;
    if (EqualsIgnoreCase(path, "postmaster")) {
        out->mailbox = "postmaster";
    } else {
        if (!StripSourceRoute(&path)) return ReplyId::kBadRecipientSyntax;
        if (path.empty() || !ValidMailbox(path, &out->non_ascii)) return ReplyId::kBadRecipientSyntax;
        out->mailbox = std::string(path);
    }
    std::vector<Param> params;
    if (!ParseParams(params_text, &params)) return ReplyId::kBadParameter;
    if (!params.empty()) return ReplyId::kBadParameter;
    return std::nullopt;
}

}  // namespace rebound::smtp
