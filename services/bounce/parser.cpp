#include "services/bounce/parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "services/bounce/mime.h"
#include "services/bounce/rules.h"
#include "services/bounce/search.h"
#include "services/common/strings.h"

namespace rebound::bounce {
namespace {

constexpr std::size_t kMaxDiagnosticBytes = 1000;
constexpr std::size_t kMaxSectionBytes = 64 * 1024;
constexpr std::size_t kMaxAddressBytes = 320;
// Recipient mentions collected from one bounce text (grouping them is quadratic).
constexpr std::size_t kMaxMentions = 2048;

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}
bool IsAlnum(char c) {
    return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Byte classes of addresses as tables: FindAddress looks at every byte around each '@'.
// Letters, digits, bytes of UTF-8 sequences, and `more`.
constexpr std::array<bool, 256> AddressBytes(std::string_view more) {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
        t[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    for (char c : more)
        t[static_cast<unsigned char>(c)] = true;
    return t;
}
// The local part or domain of a plain address (no quoted local parts).
constexpr std::array<bool, 256> kAddressChar = AddressBytes(".-_+=/'&%!#$*?^`{|}~");
// What FindAddress takes into a domain.
constexpr std::array<bool, 256> kDomainChar = AddressBytes(".-_");
// What ValidAddress allows in a domain.
constexpr std::array<bool, 256> kValidDomainChar = AddressBytes(".-[]:");

bool IsAddressChar(char c) {
    return kAddressChar[static_cast<unsigned char>(c)];
}

std::string Lower(std::string_view s) {
    return LowerAscii(s);
}

bool Contains(std::string_view haystack, std::string_view needle) {
    return FindBytes(haystack, needle) != std::string_view::npos;
}

// IsSpace() as a table, for the loops over every byte of a text.
constexpr std::array<bool, 256> kSpaceTable = [] {
    std::array<bool, 256> t{};
    t[' '] = t['\t'] = t['\r'] = t['\n'] = true;
    return t;
}();

// Collapses whitespace and cuts at `max` bytes without splitting a UTF-8 sequence (and, as it always
// has, drops a complete multi-byte character at the very end too).
std::string Squeeze(std::string_view text, std::size_t max = kMaxDiagnosticBytes) {
    // The result is the first `max` bytes of the collapsed text, which is never longer than `text`.
    std::string out;
    out.resize(std::min(text.size(), max));
    char* const begin = out.data();
    char* const end = begin + out.size();
    char* o = begin;
    bool space = false;  // whitespace seen since the last byte written
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n && o < end) {
#if defined(__SSE2__)
        // Of the next sixteen bytes, those before the first that is a tab, CR or LF, the first of two
        // spaces, or a space at the start (most of a diagnostic): copied as they are, with a space at
        // their end left pending; the byte loop below takes the one after them.
        if (i + 16 <= n && end - o > 16) {
            __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
            __m128i sp = _mm_cmpeq_epi8(block, _mm_set1_epi8(' '));
            __m128i other = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('\t')), _mm_cmpeq_epi8(block, _mm_set1_epi8('\r'))),
                _mm_cmpeq_epi8(block, _mm_set1_epi8('\n')));
            auto spaces = static_cast<unsigned>(_mm_movemask_epi8(sp));
            unsigned stop = static_cast<unsigned>(_mm_movemask_epi8(other)) | (spaces & 1) | (spaces & (spaces >> 1));
            std::size_t k = stop == 0 ? 16 : static_cast<std::size_t>(__builtin_ctz(stop));
            if (k > 0) {
                if (space) *o++ = ' ';
                _mm_storeu_si128(reinterpret_cast<__m128i*>(o), block);
                space = ((spaces >> (k - 1)) & 1) != 0;
                o += space ? k - 1 : k;
                i += k;
                if (k == 16) continue;
            }
        }
#endif
        char c = text[i++];
        if (kSpaceTable[static_cast<unsigned char>(c)]) {
            space = o != begin;
            continue;
        }
        if (space) {
            *o++ = ' ';
            space = false;
            if (o == end) break;
        }
        *o++ = c;
    }
    out.resize(static_cast<std::size_t>(o - begin));
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
        out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    return out;
}

// An address found in text: [begin, end) of its characters.
struct AddressSpan {
    std::size_t begin = std::string_view::npos;
    std::size_t end = 0;
};

bool ValidAddress(std::string_view a) {
    std::size_t at = a.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= a.size() || a.size() > kMaxAddressBytes) return false;
    std::string_view domain = a.substr(at + 1);
    if (domain.find('.') == std::string_view::npos && domain != "localhost") return false;
    if (domain.front() == '.' || domain.back() == '.' || domain.front() == '-') return false;
    return std::all_of(domain.begin(), domain.end(),
                       [](char c) { return kValidDomainChar[static_cast<unsigned char>(c)]; });
}

// Finds the first address at or after `from`.
AddressSpan FindAddress(std::string_view text, std::size_t from = 0) {
    std::size_t at = text.find('@', from);
    while (at != std::string_view::npos) {
        std::size_t b = at;
        while (b > from && IsAddressChar(text[b - 1]))
            --b;
        std::size_t e = at + 1;
        while (e < text.size() && kDomainChar[static_cast<unsigned char>(text[e])])
            ++e;
        while (e > at + 1 && (text[e - 1] == '.' || text[e - 1] == '-'))
            --e;
        while (b < at && (text[b] == '.' || text[b] == '\'' || text[b] == '='))
            ++b;
        if (at > from + 1 && text[at - 1] == '"') {
            // Quoted local part: "neko..nyaan"@example.org
            std::size_t q = text.rfind('"', at - 2);
            if (q != std::string_view::npos && q >= from && at - q <= 66 && q + 1 < at - 1) b = q;
        }
        if (b < at && e > at + 1 && ValidAddress(text.substr(b, e - b))) return {b, e};
        at = text.find('@', at + 1);
    }
    return {};
}

std::string NormalizeAddress(std::string_view a) {
    std::string s = Lower(a);
    if (s.size() > kMaxAddressBytes) s.resize(kMaxAddressBytes);
    return s;
}

// First address of a header-like value ("rfc822; <a@b>", "Name <a@b>").
std::string FirstAddress(std::string_view value) {
    AddressSpan span = FindAddress(value);
    if (span.begin == std::string_view::npos) return {};
    return NormalizeAddress(value.substr(span.begin, span.end - span.begin));
}

std::vector<std::string> AllAddresses(std::string_view value, std::size_t max = 64) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (out.size() < max) {
        AddressSpan span = FindAddress(value, pos);
        if (span.begin == std::string_view::npos) break;
        out.push_back(NormalizeAddress(value.substr(span.begin, span.end - span.begin)));
        pos = span.end;
    }
    return out;
}

// The first position in [i, end) of a byte that can start a reply or status code ('2', '4' or '5'),
// else `end`; sixteen bytes at a time (the code scanners look at every byte of a diagnostic).
std::size_t NextCodeLead(std::string_view text, std::size_t i, std::size_t end) {
    const char* s = text.data();
#if defined(__SSE2__)
    for (; i < end && i + 16 <= text.size(); i += 16) {
        __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        __m128i leads = _mm_or_si128(
            _mm_cmpeq_epi8(block, _mm_set1_epi8('2')),
            _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('4')), _mm_cmpeq_epi8(block, _mm_set1_epi8('5'))));
        auto mask = static_cast<unsigned>(_mm_movemask_epi8(leads));
        if (mask != 0) return std::min(i + static_cast<std::size_t>(__builtin_ctz(mask)), end);
    }
#endif
    while (i < end && s[i] != '2' && s[i] != '4' && s[i] != '5')
        ++i;
    return std::min(i, end);
}

// Enhanced status code "d.ddd.ddd" with a class of 2, 4 or 5.
std::string FindStatusFrom(std::string_view text, std::size_t* next) {
    const std::size_t limit = text.size() > 4 ? text.size() - 4 : 0;
    for (std::size_t i = NextCodeLead(text, 0, limit); i < limit; i = NextCodeLead(text, i + 1, limit)) {
        if (text[i + 1] != '.') continue;
        if (i > 0 && (IsDigit(text[i - 1]) || text[i - 1] == '.')) continue;
        std::size_t j = i + 2;
        std::size_t d1 = j;
        while (j < text.size() && IsDigit(text[j]) && j - d1 < 3)
            ++j;
        if (j == d1 || j >= text.size() || text[j] != '.') continue;
        std::size_t d2 = ++j;
        while (j < text.size() && IsDigit(text[j]) && j - d2 < 3)
            ++j;
        if (j == d2) continue;
        if (j < text.size() && (IsDigit(text[j]) || (text[j] == '.' && j + 1 < text.size() && IsDigit(text[j + 1])))) {
            continue;
        }
        *next = j;
        return std::string(text.substr(i, j - i));
    }
    *next = text.size();
    return {};
}

// The first failure code (class 4 or 5), else the first code: a transcript may show "250 2.1.5 Ok"
// before the reply that failed.
std::string FindStatus(std::string_view text) {
    std::string first;
    std::size_t pos = 0;
    for (int n = 0; n < 16 && pos < text.size(); ++n) {
        std::size_t next = 0;
        std::string code = FindStatusFrom(text.substr(pos), &next);
        if (code.empty()) break;
        if (code[0] != '2') return code;
        if (first.empty()) first = code;
        pos += next;
    }
    return first;
}

// SMTP reply code: three digits starting with 2, 4 or 5, standing alone or followed by '-'.
std::string FindReplyCodeFrom(std::string_view text, std::size_t* next) {
    const std::size_t limit = text.size() > 2 ? text.size() - 2 : 0;
    for (std::size_t i = NextCodeLead(text, 0, limit); i < limit; i = NextCodeLead(text, i + 1, limit)) {
        if (!IsDigit(text[i + 1]) || !IsDigit(text[i + 2])) continue;
        if (text[i + 1] > '5') continue;
        if (i > 0) {
            char p = text[i - 1];
            if (IsAlnum(p) || p == '.' || p == '-' || p == '_' || p == '/' || p == '=' || p == '@' || p == '+' ||
                p == ',' || p == '%' || p == '$' || p == '#') {
                continue;
            }
        }
        std::size_t e = i + 3;
        if (e < text.size()) {
            char n = text[e];
            if (!(n == ' ' || n == '-' || n == '\t' || n == '\n' || n == ')' || n == ']' || n == ';' || n == ',' ||
                  (n == ':' && (e + 1 >= text.size() || text[e + 1] == ' '))))
                continue;
            if (n == '-' && e + 1 < text.size() && !IsAlnum(text[e + 1])) continue;
        }
        // Not a port, an id or a size: the (at most six) bytes before it, lower-cased.
        std::string_view before = text.substr(i >= 6 ? i - 6 : 0, i >= 6 ? 6 : i);
        char lowered[6];
        for (std::size_t k = 0; k < before.size(); ++k) {
            char b = before[k];
            lowered[k] = (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : b;
        }
        std::string_view lb(lowered, before.size());
        if (Contains(lb, "port") || Contains(lb, "id=") || Contains(lb, "size")) continue;
        *next = i + 3;
        return std::string(text.substr(i, 3));
    }
    *next = text.size();
    return {};
}

std::string FindReplyCode(std::string_view text) {
    std::string first;
    std::size_t pos = 0;
    for (int n = 0; n < 16 && pos < text.size(); ++n) {
        std::size_t next = 0;
        std::string code = FindReplyCodeFrom(text.substr(pos), &next);
        if (code.empty()) break;
        if (code[0] != '2') return code;
        if (first.empty()) first = code;
        pos += next;
    }
    return first;
}

// The words one of which every command FindCommand returns needs.
constexpr std::string_view kCommandWords[] = {
    "rcpt", "data", "mail from", "helo", "ehlo", "initial connection", "while talking to"};

// Whether `text`, ignoring ASCII case, has one of kCommandWords: one pass that compares the first and
// last bytes of all seven at sixteen positions at once (seven searches, and lower-casing the text
// first, cost more, and most texts have none of them).
bool HasCommandWord(std::string_view text) {
    // Their first letters differ: the word that may start at `at` is the one with its first letter.
    auto verify = [&](std::string_view t, std::size_t at) {
        const char first = static_cast<char>(t[at] | 0x20);
        for (std::string_view w : kCommandWords) {
            if (w[0] == first) return at + w.size() <= t.size() && EqualsNoCase(t.substr(at, w.size()), w);
        }
        return false;
    };
#if defined(__SSE2__)
    // Bytes OR 0x20: A-Z become a-z, and no other byte becomes a letter.
    auto block_at = [](const char* p) {
        return _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), _mm_set1_epi8(0x20));
    };
    auto eq = [](__m128i b, char c) { return _mm_cmpeq_epi8(b, _mm_set1_epi8(c)); };
    // Start positions p[0, 16) where a word may start, by its first two and its last letter (reads
    // p[0, 33)).
    auto candidates = [&](const char* p) {
        __m128i b0 = block_at(p);
        __m128i b1 = block_at(p + 1);
        __m128i b3 = block_at(p + 3);
        auto word = [&](char c0, char c1, __m128i last, char c_last) {
            return _mm_and_si128(_mm_and_si128(eq(b0, c0), eq(b1, c1)), eq(last, c_last));
        };
        __m128i m = _mm_or_si128(word('r', 'c', b3, 't'), word('d', 'a', b3, 'a'));
        m = _mm_or_si128(m, _mm_or_si128(word('h', 'e', b3, 'o'), word('e', 'h', b3, 'o')));
        m = _mm_or_si128(m, word('m', 'a', block_at(p + 8), 'm'));
        m = _mm_or_si128(m, word('w', 'h', block_at(p + 15), 'o'));
        m = _mm_or_si128(m, word('i', 'n', block_at(p + 17), 'n'));
        return static_cast<unsigned>(_mm_movemask_epi8(m));
    };
    const char* s = text.data();
    const std::size_t n = text.size();
    std::size_t i = 0;
    for (; i + 33 <= n; i += 16) {
        for (unsigned mask = candidates(s + i); mask != 0; mask &= mask - 1) {
            if (verify(text, i + static_cast<std::size_t>(__builtin_ctz(mask)))) return true;
        }
    }
    // The last (at most 32) start positions in a copy padded with NUL bytes, which match no word.
    char padded[80] = {};
    std::string_view tail = text.substr(i, 32);  // all of the rest
    if (!tail.empty()) std::memcpy(padded, tail.data(), tail.size());
    for (std::size_t b = 0; b < tail.size(); b += 16) {
        for (unsigned mask = candidates(padded + b); mask != 0; mask &= mask - 1) {
            if (verify(tail, b + static_cast<std::size_t>(__builtin_ctz(mask)))) return true;
        }
    }
    return false;
#else
    for (std::size_t at = 0; at < text.size(); ++at) {
        if (verify(text, at)) return true;
    }
    return false;
#endif
}

// The SMTP command a bounce text says failed, or "". `has_command_word`: HasCommandWord(text), when the
// caller knows it.
std::string FindCommand(std::string_view text, std::optional<bool> has_command_word = std::nullopt) {
    if (!(has_command_word ? *has_command_word : HasCommandWord(text))) return {};
    const std::string lowered = Lower(text);
    const std::string_view lower = lowered;
    struct Probe {
        std::string_view needle;
        std::string_view command;
    };
    static constexpr std::array<Probe, 16> kProbes{{
        {"in reply to rcpt to", "RCPT"},
        {"after rcpt to", "RCPT"},
        {">>> rcpt to", "RCPT"},
        {"in reply to end of data", "DATA"},
        {"after end of data", "DATA"},
        {"in reply to data", "DATA"},
        {">>> data", "DATA"},
        {"after data", "DATA"},
        {"in reply to mail from", "MAIL"},
        {"after mail from", "MAIL"},
        {">>> mail from", "MAIL"},
        {"in reply to ehlo", "EHLO"},
        {"in reply to helo", "HELO"},
        {"after ehlo", "EHLO"},
        {"after helo", "HELO"},
        {"after initial connection", "CONN"},
    }};
    std::size_t best = std::string_view::npos;
    std::string_view command;
    // Every probe starts with one of these three; most texts have none of them.
    const bool in_reply = Contains(lower, "in reply to ");
    const bool after = Contains(lower, "after ");
    const bool transcript = Contains(lower, ">>> ");
    // Each probe of RCPT has "rcpt", of DATA "data", of MAIL "mail from"; so do the phrases looked for
    // after the probes (a text without the word is not searched for them).
    const bool rcpt = Contains(lower, "rcpt");
    const std::size_t mail_from = FindBytes(lower, "mail from");
    for (const Probe& p : kProbes) {
        if (p.needle[0] == 'i' ? !in_reply : p.needle[0] == 'a' ? !after : !transcript) continue;
        if ((p.command == "RCPT" && !rcpt) || (p.command == "MAIL" && mail_from == std::string_view::npos)) continue;
        std::size_t at = FindBytes(lower, p.needle);
        if (at != std::string_view::npos && (best == std::string_view::npos || at < best)) {
            best = at;
            command = p.command;
        }
    }
    if (command.empty()) {
        // "MAIL FROM: a@b  RCPT TO: c@d" with no reply in between is a summary of the envelope
        // (e.g. Apache James's "Message details"), not a transcript of the command that failed.
        const std::size_t rcpt_to = rcpt ? FindBytes(lower, "rcpt to") : std::string_view::npos;
        if (mail_from != std::string_view::npos && rcpt_to != std::string_view::npos && mail_from < rcpt_to &&
            FindReplyCode(lower.substr(mail_from, rcpt_to - mail_from)).empty()) {
            return {};
        }
        if (rcpt_to != std::string_view::npos ||
            (rcpt && (Contains(lower, "after rcpt") || Contains(lower, "rcpt_to") || Contains(lower, "smtp:rcpt") ||
                      Contains(lower, "rcpt command")))) {
            return "RCPT";
        }
        if (mail_from != std::string_view::npos) return "MAIL";
        if (Contains(lower, "data") && (Contains(lower, "final data") || Contains(lower, "end of data"))) return "DATA";
        // Sendmail transcript: "... while talking to mx.example.org.:" then the server's reply
        // ("<<< 554 ...") with no command sent (">>>"): the greeting refused the connection.
        if (std::size_t at = FindBytes(lower, "while talking to"); at != std::string_view::npos) {
            std::size_t reply = FindBytes(lower, "<<< ", at);
            std::size_t sent = FindBytes(lower, ">>> ", at);
            if (reply != std::string_view::npos && sent == std::string_view::npos) return "CONN";
        }
    }
    return std::string(command);
}

std::vector<std::string_view> Lines(std::string_view text) {
    std::vector<std::string_view> lines;
    lines.reserve(text.size() / 32 + 8);  // bounce texts: lines of 30 to 80 bytes
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        pos = eol + 1;
    }
    return lines;
}

// Splits a DSN body into blocks separated by blank lines.
std::vector<std::string_view> Blocks(std::string_view text) {
    std::vector<std::string_view> blocks;
    std::size_t start = std::string_view::npos;
    std::size_t pos = 0;
    std::size_t last_end = 0;
    while (pos <= text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        if (Strip(line).empty()) {
            if (start != std::string_view::npos) {
                blocks.push_back(text.substr(start, last_end - start));
                start = std::string_view::npos;
            }
        } else {
            if (start == std::string_view::npos) start = pos;
            last_end = eol;
        }
        pos = eol + 1;
    }
    if (start != std::string_view::npos) blocks.push_back(text.substr(start, last_end - start));
    return blocks;
}

// "dns; mx.example.com" -> "mx.example.com"
std::string AfterType(std::string_view value) {
    std::size_t semi = value.find(';');
    std::string_view v = semi == std::string_view::npos ? value : value.substr(semi + 1);
    v = Strip(v);
    if (!v.empty() && v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
    return std::string(v.substr(0, std::min<std::size_t>(v.size(), 255)));
}

// Working state for one recipient before classification.
struct Draft {
    Record record;
    std::string format_reason;
    std::string format_rule;
};

std::string_view ErrorSection(std::string_view text);

struct Context {
    const Limits& limits;
    const RuleSet& rules;
    FlatMessage flat;
    Report report;
    std::string bounce_from;   // lower-case address of the bounce's sender
    std::string bounce_to;     // lower-case address of the bounce's recipient (the original sender)
    std::string text_command;  // SMTP command named anywhere in the bounce text
    // ErrorSection() of the body text, computed once per message (parsers ask several times).
    std::string_view body;
    std::string_view body_section;
    std::string_view Section(std::string_view text) {
        if (text.data() == body.data() && text.size() == body.size()) return body_section;
        return ErrorSection(text);
    }
    // HasCommandWord(Section(text)), kept for the body's section (FillFromText and Parse both ask).
    std::optional<bool> body_section_command_word;
    bool SectionHasCommandWord(std::string_view text) {
        if (text.data() != body.data() || text.size() != body.size()) return HasCommandWord(ErrorSection(text));
        if (!body_section_command_word) body_section_command_word = HasCommandWord(body_section);
        return *body_section_command_word;
    }
};

// ---------------------------------------------------------------------------------------------
// Text sections

constexpr std::string_view kOriginalMarkers[] = {
    "------ this is a copy of the message",
    "--- below this line is a copy of the message",
    "----- original message",
    "-----original message-----",
    "------- returned message",
    "----- returned message",
    "--- returned message",
    "original message follows",
    "----- unsent message below",
    "----- unsent message follows",
    "----- message header follows",
    "------ original message",
    "--- the header of the original message",
    "------ the header of the original message",
    "the headers of your message",
    "your message reads (in part)",
    "-------- original message",
    "----- the following is a copy of",
    "------------- original message header",
    "the message you sent",
    "--- original message",
    "----- original message header",
    "original message header",
    "this is a copy of the headers that were received",
    "content-type: message/rfc822",
    "message headers follow",
    "original message headers",
    "the original message headers",
    "below is a copy of the original",
    "--- message headers",
    "header of original message",
    "original message:",
    "content-type: text/rfc822-headers",
};

bool IsDecoration(char c) {
    return IsSpace(c) || c == '-' || c == '=' || c == '>' || c == '*';
}

// kOriginalMarkers split into their leading decoration and the rest, which starts with a letter.
struct MarkerTable {
    struct Entry {
        std::string_view marker;
        std::size_t decoration;  // length of the marker's own leading decoration ("----- ")
    };
    std::vector<Entry> by_first[26];
    MarkerTable() {
        for (std::string_view m : kOriginalMarkers) {
            std::size_t d = 0;
            while (d < m.size() && IsDecoration(m[d]))
                ++d;
            by_first[m[d] - 'a'].push_back({m, d});
        }
    }
};

// The part of a bounce text before the copy of the original message: everything before the
// first line that, after leading blanks and decoration ("-", "=", ">", "*"), starts with a marker.
// A marker's own decoration ("----- original message") must be the end of the line's decoration.
std::string_view ErrorSection(std::string_view text) {
    static const MarkerTable table;
    text = text.substr(0, std::min(text.size(), kMaxSectionBytes));
    constexpr std::size_t kMaxMarkerLine = 96;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::size_t n = std::min<std::size_t>(eol - pos, kMaxMarkerLine);
        std::size_t decoration = 0;
        while (decoration < n && IsDecoration(text[pos + decoration]))
            ++decoration;
        if (decoration < n) {
            char first = text[pos + decoration];
            if (first >= 'A' && first <= 'Z') first = static_cast<char>(first + 32);
            if (first >= 'a' && first <= 'z') {
                // Markers are lower-case: compared with the line ignoring its case, within its first
                // kMaxMarkerLine bytes.
                std::string_view line = text.substr(pos, n);
                for (const MarkerTable::Entry& e : table.by_first[first - 'a']) {
                    if (e.decoration <= decoration &&
                        StartsWithNoCase(line.substr(decoration - e.decoration), e.marker)) {
                        return text.substr(0, pos);
                    }
                }
            }
        }
        pos = eol + 1;
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// RFC 3464

// Multi-line replies repeat the codes on every line ("550-5.7.1 text 550-5.7.1 more"); keep the
// first occurrence so the text reads as one sentence.
std::string DropRepeatedCodes(std::string_view text, std::string_view reply, std::string_view status) {
    if (reply.empty()) return std::string(text);
    std::string out;
    std::size_t pos = 0;
    bool first = true;
    while (pos < text.size()) {
        std::size_t at = FindBytes(text, reply, pos);
        if (at == std::string_view::npos) break;
        std::size_t e = at + reply.size();
        bool boundary_before = at == 0 || text[at - 1] == ' ';
        bool sep = e < text.size() && (text[e] == '-' || text[e] == ' ');
        if (!boundary_before || !sep) {
            out.append(text.substr(pos, e - pos));
            pos = e;
            continue;
        }
        std::size_t end = e + 1;
        if (!status.empty() && text.substr(end).starts_with(status)) {
            end += status.size();
            if (end < text.size() && text[end] == ' ') ++end;
        }
        if (first) {
            out.append(text.substr(pos, end - pos));
            first = false;
        } else {
            out.append(text.substr(pos, at - pos));
        }
        pos = end;
    }
    out.append(text.substr(std::min(pos, text.size())));
    return Squeeze(out);
}

// The enhanced status code the remote server gave with its reply ("550 5.7.1", "550-'5.7.1",
// "550 #5.1.0"), which is more precise than a code the reporting MTA put before it; "" if none.
std::string FindReplyStatus(std::string_view text) {
    const std::size_t limit = text.size() >= 9 ? text.size() - 8 : 0;
    for (std::size_t i = NextCodeLead(text, 0, limit); i < limit; i = NextCodeLead(text, i + 1, limit)) {
        char c = text[i];
        if (c == '2' || !IsDigit(text[i + 1]) || !IsDigit(text[i + 2])) continue;
        if (i > 0 && (IsAlnum(text[i - 1]) || text[i - 1] == '.' || text[i - 1] == '-')) continue;
        std::size_t j = i + 3;
        if (text[j] != ' ' && text[j] != '-') continue;
        ++j;
        while (j < text.size() && j < i + 6 && (text[j] == '\'' || text[j] == '"' || text[j] == '#' || text[j] == ' '))
            ++j;
        if (j + 5 > text.size() || text[j] != c || text[j + 1] != '.') continue;
        std::size_t next = 0;
        std::string code = FindStatusFrom(text.substr(j, 12), &next);
        if (next > 0 && !code.empty() && text.compare(j, code.size(), code) == 0) return code;
    }
    return {};
}

void FillFromDiagnostic(Record& r) {
    std::string_view d = r.diagnostic;
    if (r.reply_code.empty()) r.reply_code = FindReplyCode(d);
    std::string in_text = FindReplyStatus(d);
    if (in_text.empty()) in_text = FindStatus(d);
    if (r.status.empty()) {
        r.status = in_text;
    } else if (!in_text.empty() && in_text != r.status && in_text[0] == r.status[0]) {
        r.status = in_text;  // the code the remote server gave is more precise than the reporting MTA's
    }
    if (r.smtp_command.empty()) r.smtp_command = FindCommand(d);
    if (!r.reply_code.empty()) r.diagnostic = DropRepeatedCodes(r.diagnostic, r.reply_code, r.status);
}

// The address of a DSN recipient field ("rfc822; user@host"). RFC 3464 takes the address as the
// reporting MTA wrote it, so a local host name without a dot ("kijitora@mailhub0") is kept.
std::string DsnAddress(std::string_view value) {
    std::string address = FirstAddress(value);
    if (!address.empty()) return address;
    std::size_t semi = value.find(';');
    std::string_view v = Strip(semi == std::string_view::npos ? value : value.substr(semi + 1));
    if (!v.empty() && v.front() == '<' && v.back() == '>') v = Strip(v.substr(1, v.size() - 2));
    std::size_t at = v.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= v.size() || v.size() > kMaxAddressBytes) return {};
    std::string_view local = v.substr(0, at);
    std::string_view domain = v.substr(at + 1);
    if (!std::all_of(local.begin(), local.end(), IsAddressChar)) return {};
    if (!IsAlnum(domain.front()) ||
        !std::all_of(domain.begin(), domain.end(), [](char c) { return IsAlnum(c) || c == '-' || c == '.'; })) {
        return {};
    }
    return NormalizeAddress(v);
}

bool ParseDeliveryStatus(Context& ctx, std::string_view body, std::vector<Draft>& drafts) {
    std::vector<std::string_view> blocks = Blocks(body.substr(0, std::min(body.size(), kMaxSectionBytes)));
    std::vector<Headers> parsed;
    parsed.reserve(blocks.size());
    const Headers no_fields;
    const Headers* per_message = &no_fields;
    bool found = false;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        parsed.push_back(ParseHeaderBlock(blocks[b]));
        const Headers& h = parsed.back();
        bool is_recipient = h.Has("final-recipient") || h.Has("original-recipient") || h.Has("x-actual-recipient");
        if (!is_recipient) {
            if (b == 0 || per_message->empty()) per_message = &h;
            continue;
        }
        if (b == 0) per_message = &h;
        if (static_cast<int>(drafts.size()) >= ctx.limits.max_records) break;
        Draft d;
        Record& r = d.record;
        r.kind = "dsn";
        r.recipient = DsnAddress(h.Get("final-recipient"));
        r.original_recipient = FirstAddress(h.Get("original-recipient"));
        if (r.recipient.empty()) r.recipient = r.original_recipient;
        if (r.recipient.empty()) r.recipient = FirstAddress(h.Get("x-actual-recipient"));
        r.action = Lower(Strip(h.Get("action")));
        if (std::size_t sp = r.action.find_first_of(" ("); sp != std::string::npos) r.action.resize(sp);
        r.status = FindStatus(h.Get("status"));
        std::string_view diag = h.Get("diagnostic-code");
        if (std::size_t semi = diag.find(';'); semi != std::string_view::npos && semi < 20) {
            r.diagnostic_type = Lower(Strip(diag.substr(0, semi)));
            diag = diag.substr(semi + 1);
        }
        r.diagnostic = Squeeze(diag);
        r.remote_mta = AfterType(h.Get("remote-mta"));
        r.reporting_mta = AfterType(per_message->Get("reporting-mta"));
        if (h.Has("last-attempt-date")) r.last_attempt_date = std::string(Strip(h.Get("last-attempt-date")));
        std::string_view x_status = h.Get("x-postfix-sender");
        (void)x_status;
        FillFromDiagnostic(r);
        drafts.push_back(std::move(d));
        found = true;
    }
    if (ctx.report.reporting_mta.empty()) ctx.report.reporting_mta = AfterType(per_message->Get("reporting-mta"));
    if (ctx.report.arrival_date.empty()) {
        ctx.report.arrival_date = std::string(Strip(per_message->Get("arrival-date")));
    }
    return found;
}

// ---------------------------------------------------------------------------------------------
// Non-standard bounces: recipients and their error text from the human-readable part.

struct Mention {
    std::string address;
    std::size_t line;
};

bool IsSenderLike(const Context& ctx, std::string_view address) {
    if (address == ctx.bounce_from) return true;
    std::string_view local = address.substr(0, address.find('@'));
    return local == "mailer-daemon" || local == "mailerdaemon";
}

// Recipient mentions in the lines of a bounce text: "<a@b>:", "a@b" alone, "a@b... text",
// "RCPT TO:<a@b>", and "a@b: text".
std::vector<Mention> FindMentions(const Context& ctx, const std::vector<std::string_view>& lines) {
    std::vector<Mention> mentions;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string_view raw = lines[i];
        // Every mention below is an address: a line without '@' has none (most lines of a text).
        if (raw.find('@') == std::string_view::npos) continue;
        std::string_view t = Strip(raw);
        std::string address;
        if (std::size_t at = FindNoCase(t, "rcpt to:"); at != std::string_view::npos) {
            address = FirstAddress(t.substr(at + 8));
        }
        if (address.empty()) {
            std::string_view u = t;
            // Sendmail: "554 <a@b>... Remote protocol error"; drop a leading reply code.
            if (u.size() > 4 && IsDigit(u[0]) && IsDigit(u[1]) && IsDigit(u[2]) && (u[3] == ' ' || u[3] == '-')) {
                u.remove_prefix(4);
            }
            while (!u.empty() && (u.front() == '>' || u.front() == '*' || u.front() == '-' || u.front() == '"' ||
                                  u.front() == '\'' || u.front() == ' ')) {
                u.remove_prefix(1);
            }
            bool bracket = !u.empty() && u.front() == '<';
            if (bracket) u.remove_prefix(1);
            AddressSpan span = FindAddress(u);
            if (span.begin == 0 && !bracket) {
                // "a@b <c@d>: text": a name-addr whose display name looks like an address; the
                // address is the one in angle brackets.
                std::string_view after = u.substr(span.end);
                if (after.starts_with(" <")) {
                    AddressSpan inner = FindAddress(after);
                    if (inner.begin == 2 && inner.end < after.size() && after[inner.end] == '>') {
                        u = after.substr(2);
                        bracket = true;
                        span = {0, inner.end - 2};
                    }
                }
            }
            if (span.begin == 0) {
                std::string_view rest = u.substr(span.end);
                if (bracket && !rest.empty() && rest.front() == '>') rest.remove_prefix(1);
                if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) rest.remove_prefix(1);
                rest = Strip(rest);
                bool ok = rest.empty() || rest.front() == ':' || rest.starts_with("...") || rest.front() == '(' ||
                          rest.front() == ',' || rest.front() == ';' || (bracket && rest.front() != '@') ||
                          StartsWithNoCase(rest, "on ") || rest.front() == '<' || rest.front() == '[';
                bool indented = raw.size() > t.size() && (raw.front() == ' ' || raw.front() == '\t');
                if (ok || indented) address = NormalizeAddress(u.substr(span.begin, span.end - span.begin));
            }
        }
        if (address.empty()) {
            // "Unknown user: a@b", "Could not be delivered to: <a@b>": a short label naming a
            // recipient, then the address ending the line.
            AddressSpan span = FindAddress(t);
            std::size_t colon = t.find(':');
            if (span.begin != std::string_view::npos && colon != std::string_view::npos && colon < span.begin &&
                colon < 48) {
                std::string label = Lower(t.substr(0, colon));
                std::string_view tail = Strip(t.substr(span.end));
                bool ends = tail.empty() || tail == ">" || tail == ">." || tail == ".";
                bool names_recipient = Contains(label, "user") || Contains(label, "recipient") ||
                                       Contains(label, "delivered to") || Contains(label, "mailbox") ||
                                       Contains(label, "failed address") || Contains(label, "invalid address") ||
                                       Contains(label, "delivery failed");
                if (ends && names_recipient && label.find('@') == std::string::npos) {
                    address = NormalizeAddress(t.substr(span.begin, span.end - span.begin));
                }
            }
        }
        if (address.empty()) continue;
        if (address == ctx.bounce_from) continue;
        mentions.push_back({std::move(address), i});
        if (mentions.size() >= kMaxMentions) break;
    }
    if (!mentions.empty()) return mentions;
    // Second pass: addresses inside a sentence ("... delivering your mail to <a@b>.").
    for (int pass = 0; pass < 3 && mentions.empty(); ++pass) {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            std::string_view line = lines[i];
            std::size_t pos = 0;
            while (true) {
                AddressSpan span = FindAddress(line, pos);
                if (span.begin == std::string_view::npos) break;
                pos = span.end;
                bool bracketed =
                    span.begin > 0 && line[span.begin - 1] == '<' && span.end < line.size() && line[span.end] == '>';
                if (pass == 0 && !bracketed) continue;
                std::string before = Lower(Strip(line.substr(0, span.begin)));
                // Pass 1: "... delivered to a@b", "recipients: a@b"; pass 2 (last resort): the indented
                // "  To: a@b" of a message summary inside the bounce text (not a quoted header block).
                if (pass == 1 && (before == "to:" || before == "cc:")) continue;
                if (pass == 1 &&
                    !(before.ends_with(" to") || before.ends_with(" to:") || before.ends_with("for") ||
                      before.ends_with("recipient:") || before.ends_with("recipients:") ||
                      before.ends_with("recipient") || before.ends_with("user") || before.ends_with("to:") ||
                      before.ends_with("rcpt") || before.ends_with("errors:") || before.ends_with("failed:"))) {
                    continue;
                }
                if (pass == 2 && (before != "to:" || line.empty() || (line[0] != ' ' && line[0] != '\t'))) continue;
                std::string address = NormalizeAddress(line.substr(span.begin, span.end - span.begin));
                if (IsSenderLike(ctx, address) || address == ctx.bounce_to) continue;
                std::string lower = Lower(line.substr(0, span.begin));
                if (Contains(lower, "from:") || Contains(lower, "sender") || Contains(lower, "mail from") ||
                    Contains(lower, "envelope-from") || Contains(lower, "message-id") || Contains(lower, "reply-to")) {
                    continue;
                }
                mentions.push_back({std::move(address), i});
                break;
            }
        }
    }
    return mentions;
}

// Sentences DSN generators put before every recipient list, whatever went wrong.
constexpr std::string_view kBoilerplate[] = {
    "this is an automatically generated delivery status notification.",
    "delivery to the following recipients failed permanently:",
    "delivery to the following recipient failed permanently:",
    "delivery to the following recipients failed.",
    "delivery to the following recipient failed.",
};

// True if `text`, without the boilerplate sentences and the recipient's address, has no words.
bool OnlyBoilerplate(std::string_view text, std::string_view address) {
    std::string rest = Squeeze(Lower(text), 4 * kMaxDiagnosticBytes);
    for (std::string_view b : kBoilerplate) {
        for (std::size_t at = FindBytes(rest, b); at != std::string::npos; at = FindBytes(rest, b))
            rest.erase(at, b.size());
    }
    for (std::size_t at = FindBytes(rest, address); at != std::string::npos; at = FindBytes(rest, address))
        rest.erase(at, address.size());
    return std::none_of(rest.begin(), rest.end(), [](char c) { return IsAlnum(c); });
}

// `commands_only`: the records get their recipient, diagnostic and SMTP command only (FillFromText
// needs no more when the DSN records have their diagnostic and status).
std::vector<Draft> ParseNonStandard(Context& ctx, std::string_view text, bool commands_only = false) {
    std::vector<Draft> drafts;
    std::string_view section = ctx.Section(text);
    std::vector<std::string_view> lines = Lines(section);
    std::vector<Mention> mentions = FindMentions(ctx, lines);
    std::vector<std::string> failed = AllAddresses(ctx.flat.headers.Get("x-failed-recipients"));
    if (!failed.empty()) {
        std::vector<Mention> kept;
        for (Mention& m : mentions) {
            if (std::find(failed.begin(), failed.end(), m.address) != failed.end()) kept.push_back(std::move(m));
        }
        mentions = std::move(kept);
    }
    // Group consecutive mentions of the same address; each recipient's text runs to the next
    // mention of a different address.
    std::vector<std::pair<std::string, std::string>> found;  // address, diagnostic
    for (std::size_t k = 0; k < mentions.size(); ++k) {
        std::size_t end_line = lines.size();
        for (std::size_t n = k + 1; n < mentions.size(); ++n) {
            if (mentions[n].address != mentions[k].address) {
                end_line = mentions[n].line;
                break;
            }
        }
        std::string diag;
        {
            // Sendmail: "554 <a@b>... Remote protocol error" is complete on its own line.
            std::string_view own = lines[mentions[k].line];
            std::size_t dots = FindBytes(own, ">... ");
            if (dots == std::string_view::npos) dots = FindBytes(own, "... ");
            if (dots != std::string_view::npos && own.size() - dots > 12 && end_line > mentions[k].line + 1) {
                end_line = mentions[k].line + 1;
            }
        }
        for (std::size_t l = mentions[k].line; l < end_line && diag.size() < 4 * kMaxDiagnosticBytes; ++l) {
            diag.append(lines[l]);
            diag.push_back(' ');
        }
        {
            // Sendmail transcript: "554 <a@b>... Remote protocol error" sums up the reply right above
            // it ("<<< 501 ... open relay"), which followed the command above that (">>> MAIL From:").
            auto starts = [&](std::size_t l, std::string_view p) { return Strip(lines[l]).starts_with(p); };
            std::size_t m = mentions[k].line;
            if (m > 0 && starts(m - 1, "<<< ")) {
                if (m > 1 && starts(m - 2, ">>> ")) StrAppend(&diag, lines[m - 2], " ");
                StrAppend(&diag, lines[m - 1], " ");
            }
        }
        auto existing =
            std::find_if(found.begin(), found.end(), [&](const auto& p) { return p.first == mentions[k].address; });
        if (existing == found.end()) {
            found.emplace_back(mentions[k].address, std::move(diag));
        }
        // Skip the other mentions of the same address in this run.
        while (k + 1 < mentions.size() && mentions[k + 1].address == mentions[k].address)
            ++k;
    }
    for (const std::string& f : failed) {
        if (std::none_of(found.begin(), found.end(), [&](const auto& p) { return p.first == f; })) {
            found.emplace_back(f, std::string(section.substr(0, 4 * kMaxDiagnosticBytes)));
        }
    }
    // One recipient and its error text above it (e.g. "550 5.1.1 ..." then "<a@b>").
    auto failure = [](const std::string& code) { return !code.empty() && code[0] != '2'; };
    if (found.size() == 1 && !failure(FindReplyCode(found[0].second)) && !failure(FindStatus(found[0].second))) {
        found[0].second = std::string(section.substr(0, 4 * kMaxDiagnosticBytes));
        // A text that only introduces the list of recipients gives no reason: no diagnostic.
        if (OnlyBoilerplate(found[0].second, found[0].first)) found[0].second.clear();
    }
    for (auto& [address, diag] : found) {
        if (static_cast<int>(drafts.size()) >= ctx.limits.max_records) break;
        Draft d;
        d.record.kind = "nonstandard";
        d.record.recipient = address;
        d.record.diagnostic = Squeeze(diag);
        if (commands_only) {
            d.record.smtp_command = FindCommand(d.record.diagnostic);  // as FillFromDiagnostic finds it
        } else {
            FillFromDiagnostic(d.record);
        }
        drafts.push_back(std::move(d));
    }
    return drafts;
}

bool IsBlankByte(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// Whether a text ParseNonStandard builds from lines of `text` may contain "a b" (ignoring case): `a`,
// whitespace, then `b` in `text`, or a line ending in `a` and a line starting with `b` (the lines of a
// recipient's text are joined by spaces, and Sendmail's transcript lines are moved after them).
bool MayJoin(std::string_view text, std::string_view a, std::string_view b) {
    bool a_ends_line = false;
    for (std::size_t at = FindNoCase(text, a); at != std::string_view::npos; at = FindNoCase(text, a, at + 1)) {
        std::size_t i = at + a.size();
        bool newline = false;
        while (i < text.size() && IsBlankByte(text[i])) {
            newline = newline || text[i] == '\n';
            ++i;
        }
        if (i > at + a.size() && StartsWithNoCase(text.substr(i), b)) return true;
        a_ends_line = a_ends_line || newline || i == text.size();
    }
    if (!a_ends_line) return false;
    for (std::size_t at = FindNoCase(text, b); at != std::string_view::npos; at = FindNoCase(text, b, at + 1)) {
        std::size_t i = at;
        while (i > 0 && IsBlankByte(text[i - 1]) && text[i - 1] != '\n')
            --i;
        if (i == 0 || text[i - 1] == '\n') return true;
    }
    return false;
}

// False when FindCommand finds no command in any recipient's text ParseNonStandard builds from the
// lines of `text` (a section, any case): every command it returns needs one of these words. A text
// with one of FindCommand's own words (`has_command_word`: HasCommandWord(text)) may name one.
bool MayNameCommand(std::string_view text, bool has_command_word) {
    if (has_command_word) return true;
    return MayJoin(text, "mail", "from") || MayJoin(text, "initial", "connection") || MayJoin(text, "while", "talking");
}

// Missing diagnostics of DSN records: the recipient's paragraph of the human-readable part.
void FillFromText(Context& ctx, std::string_view body_text, std::vector<Draft>& drafts) {
    if (drafts.empty()) return;
    // Only recipients and SMTP commands are taken from the text when every record has a diagnostic
    // and a status (the loop below stops there).
    bool commands_only = std::all_of(drafts.begin(), drafts.end(), [](const Draft& d) {
        return !d.record.diagnostic.empty() && !d.record.status.empty();
    });
    // Then the text only fills in missing recipients and commands: none is missing, nothing to read.
    if (commands_only && std::all_of(drafts.begin(), drafts.end(), [](const Draft& d) {
            return !d.record.recipient.empty() && !d.record.smtp_command.empty();
        })) {
        return;
    }
    if (commands_only &&
        std::none_of(drafts.begin(), drafts.end(), [](const Draft& d) { return d.record.recipient.empty(); }) &&
        !MayNameCommand(ctx.Section(body_text), ctx.SectionHasCommandWord(body_text))) {
        return;
    }
    std::vector<Draft> text_drafts = ParseNonStandard(ctx, body_text, commands_only);
    for (std::size_t di = 0; di < drafts.size(); ++di) {
        Draft& d = drafts[di];
        if (d.record.recipient.empty() && di < text_drafts.size()) {
            // "Final-Recipient: rfc822; @mx.example.org": the text names the recipient.
            d.record.recipient = text_drafts[di].record.recipient;
        }
        for (const Draft& t : text_drafts) {
            if (t.record.recipient != d.record.recipient && text_drafts.size() != 1) continue;
            if (d.record.smtp_command.empty()) d.record.smtp_command = t.record.smtp_command;
            if (!d.record.diagnostic.empty() && !d.record.status.empty()) break;
            if (d.record.diagnostic.empty()) d.record.diagnostic = t.record.diagnostic;
            FillFromDiagnostic(d.record);
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Amazon SES notifications delivered by e-mail (SNS): JSON with Bounce, Complaint or Delivery.

// The string value of "key" in `json` at or after `from` and before `limit`; "" if none.
std::string JsonString(std::string_view json, std::string_view key, std::size_t from = 0,
                       std::size_t limit = std::string_view::npos) {
    std::string needle = StrCat("\"", key, "\"");
    std::size_t at = FindBytes(json, needle, from);
    if (at == std::string_view::npos || at >= limit) return {};
    std::size_t p = at + needle.size();
    while (p < json.size() && (json[p] == ' ' || json[p] == ':'))
        ++p;
    if (p >= json.size() || json[p] != '"') return {};
    std::string out;
    for (++p; p < json.size() && json[p] != '"' && out.size() < kMaxDiagnosticBytes; ++p) {
        if (json[p] == '\\' && p + 1 < json.size()) ++p;
        out.push_back(json[p]);
    }
    return out;
}

// [begin, end) of the JSON array value of "key", brackets excluded.
std::pair<std::size_t, std::size_t> JsonArray(std::string_view json, std::string_view key) {
    std::string needle = StrCat("\"", key, "\"");
    std::size_t at = FindBytes(json, needle);
    if (at == std::string_view::npos) return {0, 0};
    std::size_t open = json.find('[', at);
    if (open == std::string_view::npos) return {0, 0};
    int depth = 0;
    for (std::size_t p = open; p < json.size(); ++p) {
        if (json[p] == '[') ++depth;
        if (json[p] == ']' && --depth == 0) return {open + 1, p};
    }
    return {0, 0};
}

std::vector<Draft> ParseSesJson(Context& ctx, std::string_view body) {
    std::vector<Draft> drafts;
    if (FindBytes(body, "notificationType") == std::string_view::npos) return drafts;
    std::string json(body.substr(0, std::min(body.size(), kMaxSectionBytes)));
    // SNS wraps the SES message as an escaped string: unescape one level.
    if (FindBytes(json, "\\\"notificationType") != std::string::npos) {
        std::string u;
        for (std::size_t i = 0; i < json.size(); ++i) {
            if (json[i] == '\\' && i + 1 < json.size() && (json[i + 1] == '"' || json[i + 1] == '\\')) ++i;
            u.push_back(json[i]);
        }
        json = std::move(u);
    }
    std::string type = Lower(JsonString(json, "notificationType"));
    auto add = [&](std::string address, const std::function<void(Draft&)>& fill) {
        if (address.empty() || static_cast<int>(drafts.size()) >= ctx.limits.max_records) return;
        Draft d;
        d.record.kind = "nonstandard";
        d.record.recipient = NormalizeAddress(address);
        fill(d);
        drafts.push_back(std::move(d));
    };
    if (type == "bounce") {
        auto [b, e] = JsonArray(json, "bouncedRecipients");
        std::size_t pos = b;
        while (pos < e) {
            std::size_t open = json.find('{', pos);
            if (open == std::string::npos || open >= e) break;
            std::size_t close = json.find('}', open);
            if (close == std::string::npos || close > e) break;
            std::string_view obj = std::string_view(json).substr(open, close - open);
            add(JsonString(obj, "emailAddress"), [&](Draft& d) {
                d.record.action = Lower(JsonString(obj, "action"));
                d.record.status = FindStatus(JsonString(obj, "status"));
                std::string diag = JsonString(obj, "diagnosticCode");
                if (std::size_t semi = diag.find(';'); semi != std::string::npos && semi < 20) {
                    d.record.diagnostic_type = Lower(Strip(std::string_view(diag).substr(0, semi)));
                    diag = diag.substr(semi + 1);
                }
                d.record.diagnostic = Squeeze(diag);
                FillFromDiagnostic(d.record);
            });
            pos = close + 1;
        }
    } else if (type == "complaint") {
        auto [b, e] = JsonArray(json, "complainedRecipients");
        std::string feedback = Lower(JsonString(json, "complaintFeedbackType"));
        std::string_view list = std::string_view(json).substr(b, e - b);
        for (const std::string& a : AllAddresses(list, 64)) {
            add(a, [&](Draft& d) {
                d.record.kind = "arf";
                d.record.feedback_type = feedback.empty() ? "abuse" : feedback;
                d.format_reason = "feedback";
                d.format_rule = "ses.complaint";
            });
        }
    } else if (type == "delivery") {
        auto [b, e] = JsonArray(json, "recipients");
        std::string response = JsonString(json, "smtpResponse");
        std::string_view list = std::string_view(json).substr(b, e - b);
        for (const std::string& a : AllAddresses(list, 64)) {
            add(a, [&](Draft& d) {
                d.record.action = "delivered";
                d.record.diagnostic = Squeeze(response);
                FillFromDiagnostic(d.record);
                d.format_reason = "delivered";
                d.format_rule = "ses.delivery";
            });
        }
    }
    return drafts;
}

// ---------------------------------------------------------------------------------------------
// Detection helpers

bool LooksLikeBounce(const Context& ctx) {
    const Headers& h = ctx.flat.headers;
    if (h.Has("x-failed-recipients")) return true;
    std::string from = Lower(h.Get("from"));
    constexpr std::string_view kFromMarks[] = {
        "mailer-daemon",      "postmaster",    "mail delivery", "mailerdaemon", "mail administrator", "mail system",
        "delivery subsystem", "mailer daemon", "mdaemon",       "mail router",  "no-reply",           "post_master"};
    for (std::string_view m : kFromMarks) {
        if (Contains(from, m)) return true;
    }
    std::string subject = Lower(h.Get("subject"));
    constexpr std::string_view kSubjectMarks[] = {"undeliver",
                                                  "delivery fail",
                                                  "delivery status",
                                                  "returned mail",
                                                  "mail delivery",
                                                  "failure notice",
                                                  "delivery failure",
                                                  "non remis",
                                                  "nondeliverable",
                                                  "non-deliverable",
                                                  "not be delivered",
                                                  "could not deliver",
                                                  "returned to sender",
                                                  "delivery problem",
                                                  "bounce",
                                                  "could not send",
                                                  "not delivered",
                                                  "unzustellbar",
                                                  "delivery error",
                                                  "mail failure",
                                                  "unable to deliver",
                                                  "delivery notification",
                                                  "rejected",
                                                  "error sending",
                                                  "warning: message",
                                                  "undelivered",
                                                  "nicht zustellbar",
                                                  "mail error",
                                                  "failed delivery",
                                                  "message status",
                                                  "permanent error",
                                                  "delivery report",
                                                  "returned message",
                                                  "mail system error",
                                                  "notification",
                                                  "\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc" /* エラー */,
                                                  "\xe4\xb8\x8d\xe9\x81\x94" /* 不達 */};
    for (std::string_view m : kSubjectMarks) {
        if (Contains(subject, m)) return true;
    }
    std::string ct = Lower(h.Get("content-type"));
    return Contains(ct, "multipart/report");
}

// A mailing list manager's refusal of a posting (fml: "X-MLServer", sent by LIST-admin@): the
// recipient is the list address the text names.
bool IsListManagerNotice(const Headers& h) {
    if (!h.Has("x-mlserver")) return false;
    std::string from = Lower(h.Get("from"));
    std::size_t at = from.find('@');
    return at != std::string::npos && std::string_view(from).substr(0, at).ends_with("-admin");
}

// The notice names the list in angle brackets at the end of a sentence: "... list <l@example.org>."
std::vector<Draft> ParseListNotice(Context& ctx, std::string_view text) {
    std::vector<Draft> drafts;
    std::string_view section = ctx.Section(text);
    for (std::string_view line : Lines(section)) {
        std::string_view t = Strip(line);
        if (t.ends_with('.')) t.remove_suffix(1);
        if (!t.ends_with('>')) continue;
        std::size_t open = t.rfind('<');
        if (open == std::string_view::npos) continue;
        std::string_view inside = t.substr(open + 1, t.size() - open - 2);
        AddressSpan span = FindAddress(inside);
        if (span.begin != 0 || span.end != inside.size()) continue;
        Draft d;
        d.record.kind = "nonstandard";
        d.record.recipient = NormalizeAddress(inside);
        d.record.diagnostic = Squeeze(section);
        FillFromDiagnostic(d.record);
        drafts.push_back(std::move(d));
        break;
    }
    return drafts;
}

// RFC 3834 and vendor auto-reply markers; subjects in several languages.
bool IsAutoReply(const Headers& h) {
    std::string from = Lower(h.Get("from"));
    for (std::string_view m : {"root@", "postmaster@", "mailer-daemon@"}) {
        if (Contains(from, m)) return false;
    }
    std::string subject = Lower(Strip(h.Get("subject")));
    for (std::string_view m : {"security information for", "mail failure -"}) {
        if (Contains(subject, m)) return false;
    }
    std::string auto_submitted = Lower(Strip(h.Get("auto-submitted")));
    if (auto_submitted.starts_with("auto-replied") || auto_submitted.starts_with("auto-generated") ||
        auto_submitted.starts_with("auto-notified")) {
        return true;
    }
    std::string suppress = Lower(h.Get("x-auto-response-suppress"));
    if (Contains(suppress, "oof") || Contains(suppress, "autoreply")) return true;
    if (EqualsNoCase(Strip(h.Get("x-apple-action")), "vacation")) return true;
    if (EqualsNoCase(Strip(h.Get("precedence")), "auto_reply")) return true;
    if (h.Has("x-autoreply") || h.Has("x-autorespond") || h.Has("x-autoresponder")) return true;
    constexpr std::string_view kSubjects[] = {
        "auto:",
        "auto response",
        "autoresponse",
        "auto reply",
        "autoreply",
        "automatic reply",
        "automatic response",
        "automated reply",
        "out of office",
        "out of the office",
        "away from",
        "away until",
        "on vacation",
        "vacation reply",
        "abwesenheitsnotiz",
        "automatische antwort",
        "afwezig",
        "automatisch antwoord",
        "r\xc3\xa9ponse automatique",
        "reponse automatique",
        "absence du bureau",
        "ofis d\xc4\xb1\xc5\x9f\xc4\xb1nda",
        "otomatik yan\xc4\xb1t",
        "risposta automatica",
        "fuori ufficio",
        "respuesta autom\xc3\xa1tica",
        "fuera de la oficina",
        "resposta autom\xc3\xa1tica",
        "fora do escrit\xc3\xb3rio",
        "automatyczna odpowied\xc5\xba",
        "autosvar",
        "automaattinen vastaus",
        "\xe8\x87\xaa\xe5\x8b\x95\xe5\xbf\x9c\xe7\xad\x94",                          // 自動応答
        "\xe8\x87\xaa\xe5\x8a\xa8\xe5\x9b\x9e\xe5\xa4\x8d",                          // 自动回复
        "\xd0\xb0\xd0\xb2\xd1\x82\xd0\xbe\xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5\xd1\x82",  // автоответ
    };
    for (std::string_view m : kSubjects) {
        if (Contains(subject, m)) return true;
    }
    return false;
}

// Position of the first '<' or '>' in `text` at or after `from`, else text.size().
std::size_t FindAngleBracket(std::string_view text, std::size_t from) {
    return std::min(FindEitherByte(text, '<', '>', from), text.size());
}

// The text of the message: its first text/plain part, else its first HTML part without tags
// (written to `html_text`), else a broken multipart's preamble. A view into `flat` or `html_text`.
std::string_view FirstTextBody(const FlatMessage& flat, std::string& html_text) {
    for (const MimePart& p : flat.parts) {
        if (p.message_level > 0) continue;
        if (p.content_type == "text/plain") return p.body;
    }
    for (const MimePart& p : flat.parts) {
        if (p.message_level > 0) continue;
        if (p.content_type == "text/html") {
            // Strip tags for a readable diagnostic: text outside tags is kept, each '>' becomes a blank.
            std::string out;
            out.reserve(p.body.size());
            bool tag = false;
            const std::string_view body = p.body;
            std::size_t i = 0;
            while (i < body.size()) {
                std::size_t j = FindAngleBracket(body, i);
                if (!tag) out.append(body.substr(i, j - i));
                if (j == body.size()) break;
                tag = body[j] == '<';
                if (!tag) out.push_back(' ');
                i = j + 1;
            }
            html_text = std::move(out);
            return html_text;
        }
    }
    for (const MimePart& p : flat.parts) {
        if (p.content_type == "text/x-preamble" && p.message_level == 0) return p.body;
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// Original message

// The fields of the original CollectCandidates takes addresses from.
// Asked for every field of every original: the one name of the field's length is compared.
bool IsCandidateField(std::string_view name) {
    if (name.size() >= 2 && (name[0] | 0x20) == 'x' && name[1] == '-') return true;
    switch (name.size()) {
        case 2:
            return EqualsNoCase(name, "to");
        case 4:
            return EqualsNoCase(name, "from");
        case 6:
            return EqualsNoCase(name, "sender");
        case 8:
            return EqualsNoCase(name, "reply-to");
        case 9:
            return EqualsNoCase(name, "errors-to");
        case 11:
            return EqualsNoCase(name, "return-path");
        case 16:
            return EqualsNoCase(name, "list-unsubscribe");
        default:
            return false;
    }
}

// The fields of the original FindOriginal reads.
bool IsOriginalField(std::string_view name) {
    return IsCandidateField(name) || (name.size() == 10 && EqualsNoCase(name, "message-id")) ||
           (name.size() == 7 && EqualsNoCase(name, "subject"));
}

void CollectCandidates(const Headers& h, OriginalMessage& o) {
    std::vector<std::string>& out = o.candidate_addresses;
    for (const HeaderField& f : h.fields()) {
        if (!IsCandidateField(f.name)) continue;
        // As AllAddresses(f.value, 16), without the list: an address is lower-cased once it is new
        // (FindAddress's are valid, so never longer than NormalizeAddress cuts).
        std::size_t pos = 0;
        for (int n = 0; n < 16; ++n) {
            AddressSpan span = FindAddress(f.value, pos);
            if (span.begin == std::string_view::npos) break;
            pos = span.end;
            if (out.size() >= 64) return;
            std::string_view a = f.value.substr(span.begin, span.end - span.begin);
            if (std::none_of(out.begin(), out.end(), [&](const std::string& c) { return EqualsNoCase(c, a); })) {
                out.push_back(NormalizeAddress(a));
            }
        }
    }
}

std::optional<OriginalMessage> FindOriginal(Context& ctx, std::string_view quoted_text) {
    const Headers* headers = nullptr;
    for (const AttachedMessage& a : ctx.flat.attached) {
        if (!a.headers.empty()) {
            headers = &a.headers;
            break;
        }
    }
    Headers quoted;
    if (headers == nullptr && !quoted_text.empty()) {
        // A copy of the original quoted in the bounce text: the header block after the marker.
        std::string_view error = ctx.Section(quoted_text);
        std::string_view rest = quoted_text.substr(error.size());
        std::size_t nl = rest.find('\n');
        if (nl != std::string_view::npos) rest.remove_prefix(nl + 1);
        quoted = ParseHeaderBlock(rest.substr(0, std::min(rest.size(), kMaxSectionBytes)), 512, IsOriginalField);
        if (quoted.Has("to") || quoted.Has("message-id") || quoted.Has("from")) headers = &quoted;
    }
    if (headers == nullptr || headers->empty()) return std::nullopt;
    OriginalMessage o;
    o.message_id = std::string(Strip(headers->Get("message-id")).substr(0, 998));
    o.to = std::string(headers->Get("to").substr(0, 998));
    o.from = std::string(headers->Get("from").substr(0, 998));
    o.subject = std::string(headers->Get("subject").substr(0, 998));
    o.return_path = FirstAddress(headers->Get("return-path"));
    CollectCandidates(*headers, o);
    return o;
}

// ---------------------------------------------------------------------------------------------

std::vector<Draft> ParseArf(Context& ctx, const MimePart& report) {
    std::vector<Draft> drafts;
    Headers h = ParseHeaderBlock(report.body);
    Draft d;
    Record& r = d.record;
    r.kind = "arf";
    r.feedback_type = Lower(Strip(h.Get("feedback-type")));
    if (r.feedback_type.empty()) r.feedback_type = "abuse";
    // RFC 5965 allows Original-Rcpt-To once per recipient of the reported message.
    std::vector<std::string> more;
    for (const HeaderField& f : h.fields()) {
        if (!EqualsNoCase(f.name, "original-rcpt-to")) continue;
        std::string a = FirstAddress(f.value);
        if (a.empty()) continue;
        if (r.recipient.empty()) {
            r.recipient = std::move(a);
        } else if (a != r.recipient && std::find(more.begin(), more.end(), a) == more.end() &&
                   static_cast<int>(more.size()) + 1 < ctx.limits.max_records) {
            more.push_back(std::move(a));
        }
    }
    if (r.recipient.empty()) r.recipient = FirstAddress(h.Get("removal-recipient"));
    if (r.recipient.empty()) {
        for (const AttachedMessage& a : ctx.flat.attached) {
            r.recipient = FirstAddress(a.headers.Get("to"));
            if (!r.recipient.empty()) break;
        }
    }
    r.reporting_mta = AfterType(h.Get("reporting-mta"));
    std::string html_text;
    r.diagnostic = Squeeze(FirstTextBody(ctx.flat, html_text), 200);
    d.format_reason = "feedback";
    d.format_rule = "arf.feedback-report";
    drafts.push_back(d);
    for (std::string& a : more) {
        Draft other = d;
        other.record.recipient = std::move(a);
        drafts.push_back(std::move(other));
    }
    return drafts;
}

std::vector<Draft> ParseJmrp(Context& ctx) {
    // Microsoft JMRP: the complaint carries the original with X-HmXmrOriginalRecipient.
    std::vector<Draft> drafts;
    for (const AttachedMessage& a : ctx.flat.attached) {
        std::string rcpt = FirstAddress(a.headers.Get("x-hmxmroriginalrecipient"));
        if (rcpt.empty()) continue;
        Draft d;
        d.record.kind = "arf";
        d.record.feedback_type = "abuse";
        d.record.recipient = rcpt;
        d.format_reason = "feedback";
        d.format_rule = "arf.jmrp";
        drafts.push_back(std::move(d));
        break;
    }
    return drafts;
}

void Finish(Context& ctx, std::vector<Draft>& drafts) {
    ctx.report.records.reserve(ctx.report.records.size() + drafts.size());
    for (Draft& d : drafts) {
        Record& r = d.record;
        if (r.reporting_mta.empty()) r.reporting_mta = ctx.report.reporting_mta;
        if (r.remote_mta.empty()) {
            // "host mx.example.com[192.0.2.1] said:" / "while talking to mx.example.com."
            const std::string_view diagnostic = r.diagnostic;
            for (std::string_view marker : {"host ", "while talking to ", "remote host "}) {
                std::size_t at = FindNoCase(diagnostic, marker);
                if (at == std::string::npos) continue;
                std::size_t b = at + marker.size();
                std::size_t e = b;
                while (e < diagnostic.size() &&
                       (IsAlnum(diagnostic[e]) || diagnostic[e] == '.' || diagnostic[e] == '-'))
                    ++e;
                std::string_view host = diagnostic.substr(b, e - b);
                if (host.find('.') != std::string_view::npos && host.size() > 3) {
                    while (!host.empty() && host.back() == '.')
                        host.remove_suffix(1);
                    r.remote_mta = Lower(host);
                    break;
                }
            }
        }
        if (r.smtp_command.empty()) r.smtp_command = ctx.text_command;
        ClassifyInput in;
        in.status = r.status;
        in.reply_code = r.reply_code;
        in.diagnostic = r.diagnostic;
        in.action = r.action;
        in.diagnostic_type = r.diagnostic_type;
        in.smtp_command = r.smtp_command;
        in.remote_host = r.remote_mta;
        in.recipient = r.recipient;
        // Without a Reporting-MTA field, the domain the bounce came from names the reporting system.
        std::string_view from_domain = std::string_view(ctx.bounce_from).substr(ctx.bounce_from.rfind('@') + 1);
        in.reporting_host = r.reporting_mta.empty() ? from_domain : std::string_view(r.reporting_mta);
        in.format_reason = d.format_reason;
        in.format_rule = d.format_rule;
        Decision decision = ctx.rules.Classify(in);
        r.text_reason = decision.reason;
        r.reason = decision.reason;
        r.rule_id = decision.rule_id;
        if (r.kind == "dsn" && r.reason != "feedback" && r.reason != "vacation") {
            if (r.action == "delayed") {
                r.reason = "delayed";
                r.rule_id = StrCat("action.delayed/", decision.rule_id);
            } else if (r.action == "delivered" || r.action == "relayed" || r.action == "expanded") {
                r.reason = "delivered";
                r.rule_id = StrCat("action.", r.action);
            }
        }
        const Outcome* outcome = ctx.rules.FindOutcome(r.reason);
        if (outcome != nullptr) {
            r.bounce_class = outcome->bounce_class;
            r.disposition = outcome->disposition;
            bool permanent = r.status.starts_with("5") || (r.status.empty() && r.reply_code.starts_with("5")) ||
                             (r.status.empty() && r.reply_code.empty());
            r.hard_bounce = outcome->hard == "yes" || (outcome->hard == "permanent" && permanent);
            if (r.status.empty() && outcome->pseudo_status != "000") {
                bool temporary = r.reply_code.starts_with("4") || r.action == "delayed";
                r.status = StrCat(temporary ? "4" : "5", ".0.", outcome->pseudo_status);
            }
        }
        if (r.reason == "delivered" || r.reason == "vacation" || r.reason == "feedback" || r.reason == "delayed") {
            r.hard_bounce = false;
        }
        ctx.report.records.push_back(std::move(r));
    }
}

// A Content-Type parameter continued on a line that is not indented ("boundary=\"x\""), which
// NormalizeLines joins to the field before it.
bool IsUnindentedParameter(std::string_view line) {
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq >= 40) return false;
    std::size_t colon = line.find(':');
    std::string_view name = Strip(line.substr(0, eq));
    return (colon == std::string_view::npos || colon > eq) &&
           (EqualsNoCase(name, "boundary") || EqualsNoCase(name, "charset") || EqualsNoCase(name, "report-type") ||
            EqualsNoCase(name, "type"));
}

// NormalizeLines for a message without CR, which changes only where a Content-Type field is followed
// by an unindented parameter: reads only the lines from each "Content-Type:" line to the end of its
// field. False when a line must change.
bool CountContentTypesWithoutCr(std::string_view raw, int* content_types) {
    const char* s = raw.data();
    const std::size_t n = raw.size();
    int count = 0;
    // `pos` is where a "content-type:" is; false when a line must change.
    auto visit = [&](std::size_t pos) {
        if (pos != 0 && s[pos - 1] != '\n') return true;
        ++count;
        bool in_content_type = true;  // the field's lines so far end in ';'
        bool first = true;
        while (in_content_type && pos < n) {
            const char* nl = static_cast<const char*>(std::memchr(s + pos, '\n', n - pos));
            std::size_t end = nl == nullptr ? n : static_cast<std::size_t>(nl - s);
            std::string_view line = raw.substr(pos, end - pos);
            if (line.empty()) break;
            if (!first && line[0] != ' ' && line[0] != '\t') return !IsUnindentedParameter(line);
            in_content_type = Strip(line).ends_with(';');
            first = false;
            pos = end + 1;
        }
        return true;
    };
    for (std::size_t at = FindNoCase(raw, "content-type:"); at != std::string_view::npos;
         at = FindNoCase(raw, "content-type:", at + 1)) {
        if (!visit(at)) return false;
    }
    *content_types = count;
    return true;
}

// The message with LF line ends (LF and CRLF input give identical results), one line at a time:
// `raw` itself when no line changes, else a copy in `storage`. Repairs one common malformation on
// the way: a Content-Type parameter continued on a line that is not indented ("Content-Type:
// multipart/alternative;\nboundary=\"x\""), which MIME parsers otherwise read as the end of the
// header and lose the boundary with it. Counts the lines that start with "Content-Type:" into
// `content_types` (entities nest only through Content-Type fields, see Parse).
std::string_view NormalizeLines(std::string_view raw, std::string& storage, int* content_types) {
    // Most messages have no CR and nothing to repair: then only the Content-Type lines are read.
    if (std::memchr(raw.data(), '\r', raw.size()) == nullptr && CountContentTypesWithoutCr(raw, content_types)) {
        return raw;
    }
    bool copying = false;
    bool in_content_type = false;  // the previous line belongs to a Content-Type field ending in ';'
    int count = 0;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        const char* nl = static_cast<const char*>(std::memchr(raw.data() + pos, '\n', raw.size() - pos));
        std::size_t end = nl == nullptr ? raw.size() : static_cast<std::size_t>(nl - raw.data());
        std::string_view line = raw.substr(pos, end - pos);
        bool cr = nl != nullptr && !line.empty() && line.back() == '\r';
        if (cr) line.remove_suffix(1);
        bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
        bool tab = false;
        if (in_content_type && !line.empty() && !continuation && IsUnindentedParameter(line)) {
            tab = true;
            continuation = true;
        }
        if (line.empty()) {
            in_content_type = false;
        } else if (continuation) {
            in_content_type = in_content_type && Strip(line).ends_with(';');
        } else {
            bool content_type = (line[0] == 'c' || line[0] == 'C') && StartsWithNoCase(line, "content-type:");
            if (content_type) ++count;
            in_content_type = content_type && Strip(line).ends_with(';');
        }
        if ((cr || tab) && !copying) {
            storage.reserve(raw.size() + 16);
            storage.assign(raw.substr(0, pos));
            copying = true;
        }
        if (copying) {
            if (tab) storage.push_back('\t');
            storage.append(line);
            if (nl != nullptr) storage.push_back('\n');
        }
        pos = end + 1;
    }
    *content_types = count;
    return copying ? std::string_view(storage) : raw;
}

absl::Status CheckIsMessage(std::string_view text, const Limits& limits) {
    std::size_t pos = 0;
    if (text.starts_with("From ")) {
        std::size_t nl = text.find('\n');
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    while (pos < text.size() && (text[pos] == '\n'))
        ++pos;
    std::size_t eol = text.find('\n', pos);
    std::string_view first = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    std::size_t colon = first.find(':');
    if (first.empty() || colon == std::string_view::npos || colon == 0 || colon > 76 ||
        !std::all_of(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(colon),
                     [](char c) { return c > 32 && c < 127; })) {
        return absl::InvalidArgumentError("not an email message: no header field at the start");
    }
    std::size_t header_end = FindBytes(text, "\n\n", pos);
    std::size_t header_size = header_end == std::string_view::npos ? text.size() - pos : header_end - pos;
    if (header_size > limits.max_header_bytes) {
        return absl::ResourceExhaustedError(StrCat("header larger than ", limits.max_header_bytes, " bytes"));
    }
    return absl::OkStatus();
}

}  // namespace

std::string_view RulesVersion() {
    return RuleSet::Builtin().version();
}

absl::StatusOr<Report> Parse(std::string_view raw_message, const Limits& limits) {
    if (raw_message.size() > limits.max_message_bytes) {
        return absl::ResourceExhaustedError(StrCat("message larger than ", limits.max_message_bytes, " bytes"));
    }
    std::string storage;
    int content_types = 0;
    std::string_view text = NormalizeLines(raw_message, storage, &content_types);
    if (text.starts_with("From ")) {
        // mbox separator line: not part of the message.
        std::size_t nl = text.find('\n');
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    if (absl::Status s = CheckIsMessage(text, limits); !s.ok()) return s;
    // More Content-Type lines than MIME parts allowed: refused before splitting (the splitter counts
    // the entities it reads, but not those in the bodies of attached messages it leaves unsplit).
    if (content_types > limits.max_parts) {
        return absl::ResourceExhaustedError(StrCat("more than ", limits.max_parts, " MIME parts"));
    }

    absl::StatusOr<FlatMessage> flat = FlattenMessage(text, {limits.max_depth, limits.max_parts});
    if (!flat.ok()) return flat.status();
    Context ctx{limits, RuleSet::Builtin(), std::move(*flat), {}, {}, {}};
    ctx.report.rules_version = std::string(ctx.rules.version());
    ctx.bounce_from = FirstAddress(ctx.flat.headers.Get("from"));
    ctx.bounce_to = FirstAddress(ctx.flat.headers.Get("to"));

    std::vector<Draft> drafts;
    // FindOriginal(ctx, body_text), once it has been asked for.
    std::optional<std::optional<OriginalMessage>> original;
    std::string html_text;
    const std::string_view body_text = FirstTextBody(ctx.flat, html_text);
    ctx.body = body_text;
    ctx.body_section = ErrorSection(body_text);
    // 1. Complaints.
    for (const MimePart& p : ctx.flat.parts) {
        if (p.content_type == "message/feedback-report" && p.message_level == 0) {
            drafts = ParseArf(ctx, p);
            break;
        }
    }
    if (drafts.empty()) drafts = ParseJmrp(ctx);
    if (drafts.empty() && EqualsNoCase(Strip(ctx.flat.headers.Get("x-apple-unsubscribe")), "true")) {
        // Apple Mail's unsubscribe message (sent to a List-Unsubscribe mailto:): an opt-out by
        // the sender of this message.
        std::string from = FirstAddress(ctx.flat.headers.Get("from"));
        if (!from.empty()) {
            Draft d;
            d.record.kind = "arf";
            d.record.feedback_type = "opt-out";
            d.record.recipient = from;
            d.record.diagnostic = Squeeze(body_text, 200);
            d.format_reason = "feedback";
            d.format_rule = "arf.apple-unsubscribe";
            drafts.push_back(std::move(d));
        }
    }
    // 2. RFC 3464 delivery status notifications.
    if (drafts.empty()) {
        for (const MimePart& p : ctx.flat.parts) {
            if (p.message_level > 0) continue;
            if (p.content_type == "message/delivery-status" || p.content_type == "message/global-delivery-status" ||
                p.content_type == "text/delivery-status") {
                ParseDeliveryStatus(ctx, p.body, drafts);
            }
        }
        FillFromText(ctx, body_text, drafts);
        if (drafts.empty()) {
            // A delivery report forwarded inside this message, which says nothing of its own.
            std::string_view inner_text;
            for (const MimePart& p : ctx.flat.parts) {
                if (p.message_level != 1 || p.body.empty()) continue;
                if (inner_text.empty() && p.content_type == "text/plain") inner_text = p.body;
                if (p.content_type == "message/delivery-status" || p.content_type == "message/global-delivery-status") {
                    ParseDeliveryStatus(ctx, p.body, drafts);
                }
            }
            FillFromText(ctx, inner_text, drafts);
        }
    }
    // 3. Amazon SES notifications, then non-standard bounces (text, sometimes with DSN fields inline).
    if (drafts.empty() && Contains(body_text, "notificationType")) drafts = ParseSesJson(ctx, body_text);
    if (drafts.empty() && IsListManagerNotice(ctx.flat.headers)) drafts = ParseListNotice(ctx, body_text);
    if (drafts.empty() && LooksLikeBounce(ctx)) {
        // DSN fields in the text, found ignoring case.
        const std::string_view head = body_text.substr(0, std::min(body_text.size(), kMaxSectionBytes));
        const std::size_t final_recipient = FindNoCase(head, "final-recipient:");
        if (final_recipient != std::string::npos || FindNoCase(head, "original-recipient:") != std::string::npos) {
            std::size_t at = FindNoCase(head, "reporting-mta:");
            if (at == std::string::npos) at = FindNoCase(head, "original-recipient:");
            if (at == std::string::npos || at > final_recipient) at = final_recipient;
            std::size_t ls = head.rfind('\n', at);
            std::size_t fields_start = ls == std::string::npos ? 0 : ls + 1;
            ParseDeliveryStatus(ctx, std::string_view(body_text).substr(fields_start), drafts);
            for (Draft& d : drafts)
                d.record.kind = "nonstandard";
            // The human-readable text above the inline fields.
            FillFromText(ctx, std::string_view(body_text).substr(0, fields_start), drafts);
        }
        if (drafts.empty()) drafts = ParseNonStandard(ctx, body_text);
        if (drafts.empty()) {
            // Fall back to the To: of the returned original, attached or quoted.
            std::vector<std::string_view> tos;
            for (const AttachedMessage& a : ctx.flat.attached)
                tos.push_back(a.headers.Get("to"));
            if (tos.empty()) {
                original = FindOriginal(ctx, body_text);
                if (*original) tos.push_back((*original)->to);
            }
            for (std::string_view to_field : tos) {
                std::string to = FirstAddress(to_field);
                if (to.empty()) continue;
                Draft d;
                d.record.kind = "nonstandard";
                d.record.recipient = to;
                d.record.diagnostic = Squeeze(ctx.Section(body_text));
                FillFromDiagnostic(d.record);
                drafts.push_back(std::move(d));
                break;
            }
        }
    }
    // 4. Auto-replies.
    if (drafts.empty() && IsAutoReply(ctx.flat.headers)) {
        std::string from = FirstAddress(ctx.flat.headers.Get("from"));
        if (from.empty()) from = FirstAddress(ctx.flat.headers.Get("return-path"));
        if (!from.empty()) {
            Draft d;
            d.record.kind = "autoreply";
            d.record.recipient = from;
            d.record.diagnostic = Squeeze(body_text, 200);
            d.format_reason = "vacation";
            d.format_rule = "autoreply.rfc3834";
            // An automatic answer saying the mailbox is gone is a suspended address, not a holiday.
            std::string gone = ctx.rules.MatchText("suspend", Squeeze(body_text, 2000));
            if (!gone.empty()) {
                d.format_reason = "suspend";
                d.format_rule = StrCat("autoreply/", gone);
            }
            drafts.push_back(std::move(d));
        }
    }
    if (std::any_of(drafts.begin(), drafts.end(), [](const Draft& d) { return d.record.smtp_command.empty(); })) {
        // A transcript naming exactly one SMTP command applies to every recipient without one.
        ctx.text_command = FindCommand(ctx.Section(body_text), ctx.SectionHasCommandWord(body_text));
    }
    ctx.report.original = original ? std::move(*original) : FindOriginal(ctx, body_text);
    Finish(ctx, drafts);
    return std::move(ctx.report);
}

}  // namespace rebound::bounce
