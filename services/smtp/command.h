#pragma once
// Pure parsing of SMTP command lines (RFC 5321 section 4.1, RFC 6531 for UTF-8 addresses).
// No I/O and no state: the session's command table decides what a parsed command means in
// its current state. Every function takes peer text and must not crash on any input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/smtp/reply.h"

namespace rebound::smtp {

enum class Verb {
    kEhlo,
    kHelo,
    kMail,
    kRcpt,
    kData,
    kRset,
    kNoop,
    kQuit,
    kVrfy,
    kExpn,
    kHelp,
    kStartTls,
    kBdat,
    kAuth,
    kTurn,
    kEtrn,
    kUnknown,
};

std::string_view VerbName(Verb verb);

struct Command {
    Verb verb = Verb::kUnknown;
    std::string_view args;  // the text after the verb and its separating space
};

// Splits a command line (without CR LF) into verb and arguments. Verbs are case-insensitive.
Command ParseCommand(std::string_view line);

// RFC 5321 length limits (section 4.5.3.1).
inline constexpr std::size_t kMaxLocalPart = 64;
inline constexpr std::size_t kMaxDomain = 255;
inline constexpr std::size_t kMaxPath = 256;
inline constexpr std::size_t kMaxParams = 16;

enum class BodyType { kUnspecified, k7Bit, k8BitMime };

struct MailArgs {
    std::string mailbox;  // "local@domain"; empty for the null sender <>
    bool non_ascii = false;
    std::optional<std::uint64_t> size;  // SIZE=
    BodyType body = BodyType::kUnspecified;
    bool smtputf8 = false;
};

struct RcptArgs {
    std::string mailbox;  // "local@domain", or "postmaster" for the special <Postmaster>
    bool non_ascii = false;
};

// Parses the arguments of MAIL ("FROM:<path> [params]"). On error returns the reply id to
// send: kBadSenderSyntax, kSyntax or kBadParameter.
std::optional<ReplyId> ParseMailArgs(std::string_view args, MailArgs* out);

// Parses the arguments of RCPT ("TO:<path> [params]"); no RCPT parameters are supported.
std::optional<ReplyId> ParseRcptArgs(std::string_view args, RcptArgs* out);

// Validates a mailbox "local@domain" (no angle brackets). Sets *non_ascii if it contains
// octets >= 0x80 (only valid with SMTPUTF8, which the caller checks).
bool ValidMailbox(std::string_view mailbox, bool* non_ascii);

// The EHLO/HELO argument: a domain or an address literal, at most 255 octets, printable.
bool ValidHeloArgument(std::string_view arg);

}  // namespace rebound::smtp
