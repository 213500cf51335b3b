#include "services/bounce/mime.h"

#include <iconv.h>
#include <mimetic/mimetic.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <tuple>

#include "services/bounce/search.h"
#include "services/common/strings.h"

namespace rebound::bounce {
namespace {

constexpr std::size_t kMaxHeaderValueBytes = 64 * 1024;

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// `out` without leading and trailing whitespace, in place.
void StripInPlace(std::string& out) {
    std::string_view stripped = StripWhitespace(out);
    if (stripped.size() == out.size()) return;
    std::size_t begin = static_cast<std::size_t>(stripped.data() - out.data());
    out.resize(begin + stripped.size());
    out.erase(0, begin);
}

// Joins folded lines and collapses the fold whitespace to one space.
std::string Unfold(std::string_view value) {
    const bool folded = std::memchr(value.data(), '\n', value.size()) != nullptr ||
                        std::memchr(value.data(), '\r', value.size()) != nullptr;
    if (!folded) return std::string(StripWhitespace(value.substr(0, std::min(value.size(), kMaxHeaderValueBytes))));
    std::string out;
    out.reserve(std::min(value.size(), kMaxHeaderValueBytes));
    bool pending_space = false;
    std::size_t i = 0;
    const std::size_t n = value.size();
    // Line by line rather than byte by byte; the output is cut as the byte loop cut it (the
    // first byte after a fold space may go one past the limit).
    while (i < n && out.size() < kMaxHeaderValueBytes) {
        char c = value[i];
        if (c == '\r' || c == '\n') {
            pending_space = true;
            ++i;
            continue;
        }
        if (pending_space) {
            if (c == ' ' || c == '\t') {
                ++i;
                continue;
            }
            if (!out.empty()) out.push_back(' ');
            pending_space = false;
        }
        std::size_t j = i + 1;
        while (j < n && value[j] != '\r' && value[j] != '\n')
            ++j;
        std::size_t room = out.size() < kMaxHeaderValueBytes ? kMaxHeaderValueBytes - out.size() : 1;
        out.append(value.substr(i, std::min(j - i, room)));
        i = j;
    }
    StripInPlace(out);
    return out;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string LowerString(std::string_view s) {
    return LowerAscii(StripWhitespace(s));
}

}  // namespace

std::string_view Headers::Get(std::string_view name) const {
    for (const HeaderField& f : fields_) {
        if (f.name.size() == name.size() && EqualsIgnoreCase(f.name, name)) return f.value;
    }
    return {};
}

bool Headers::Has(std::string_view name) const {
    for (const HeaderField& f : fields_) {
        if (f.name.size() == name.size() && EqualsIgnoreCase(f.name, name)) return true;
    }
    return false;
}

std::string DecodeBase64(std::string_view text) {
    mimetic::Base64::Decoder decoder;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    mimetic::decode(text.begin(), text.end(), decoder, std::back_inserter(out));
    return out;
}

// The same state machine as mimetic::QP::Decoder (so results do not change), with runs of plain
// characters copied at once instead of one call per character.
std::string DecodeQuotedPrintable(std::string_view text) {
    enum State { kWaitingChar, kAfterEq, kWaitingFirstHex, kWaitingSecondHex, kBlank, kNewline };
    auto blank = [](unsigned char c) { return c == ' ' || c == '\t'; };
    auto newline = [](unsigned char c) { return c == '\r' || c == '\n'; };
    std::string out;
    out.reserve(text.size());
    std::string prev;
    State state = kWaitingChar;
    unsigned char nl = 0;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        auto c = static_cast<unsigned char>(text[i]);
        switch (state) {
            case kWaitingChar: {
                if (blank(c)) {
                    state = kBlank;
                    continue;
                }
                if (newline(c)) {
                    state = kNewline;
                    continue;
                }
                if (c == '=') {
                    state = kAfterEq;
                    prev.push_back('=');
                    ++i;
                    continue;
                }
                std::size_t j = i;
                while (j < n) {
                    auto d = static_cast<unsigned char>(text[j]);
                    if (d < 33 || d == '=') break;
                    ++j;
                }
                if (j > i) {
                    out.append(text.substr(i, j - i));
                    i = j;
                    continue;
                }
                ++i;  // control character: dropped (RFC 2045 6.7 note 4)
                continue;
            }
            case kBlank:
                if (blank(c)) {
                    prev.push_back(static_cast<char>(c));
                } else if (newline(c)) {
                    prev.clear();  // soft line break; trailing blanks dropped
                    state = kWaitingChar;
                } else {
                    out.append(prev);
                    prev.clear();
                    state = kWaitingChar;
                    continue;
                }
                ++i;
                continue;
            case kAfterEq:
                if (blank(c)) {
                    prev.push_back(static_cast<char>(c));
                } else if (newline(c)) {
                    state = kNewline;
                    continue;
                } else {
                    if (prev.size() > 1) {
                        out.append(prev);
                        prev.clear();
                        state = kWaitingChar;
                    } else {
                        state = kWaitingFirstHex;
                    }
                    continue;
                }
                ++i;
                continue;
            case kWaitingFirstHex:
                if (HexValue(static_cast<char>(c)) < 0) {
                    out.append(prev);
                    prev.clear();
                    out.push_back(static_cast<char>(c));
                    state = kWaitingChar;
                } else {
                    prev.push_back(static_cast<char>(c));
                    state = kWaitingSecondHex;
                }
                ++i;
                continue;
            case kWaitingSecondHex:
                if (HexValue(static_cast<char>(c)) < 0) {
                    out.append(prev);
                    prev.clear();
                    out.push_back(static_cast<char>(c));
                } else {
                    out.push_back(static_cast<char>(HexValue(prev.back()) << 4 | HexValue(static_cast<char>(c))));
                    prev.clear();
                }
                state = kWaitingChar;
                ++i;
                continue;
            case kNewline:
                if (nl == 0) {
                    nl = c;
                    ++i;
                    continue;
                }
                if (prev.empty() || prev[0] != '=') out.push_back('\n');
                prev.clear();
                state = kWaitingChar;
                bool pair = c == (nl == '\r' ? '\n' : '\r');
                nl = 0;
                if (pair) ++i;
                continue;
        }
    }
    // mimetic's flush().
    if (!prev.empty()) {
        out.push_back('=');
        if (prev.size() > 1 && prev[1] != ' ') out.push_back(prev[1]);
    } else if (nl != 0) {
        out.push_back('\n');
    }
    return out;
}

namespace {
bool ValidUtf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 4;
        if (n == 4 || i + n >= s.size() + (n == 0 ? 1 : 0)) {
            if (n != 0) return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n + 1;
    }
    return true;
}
}  // namespace

namespace {
// True when `text` in `charset` is already what ToUtf8 returns.
bool SameInUtf8(std::string_view text, std::string_view cs) {
    if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") return true;
    // 7-bit text is the same in UTF-8, except for stateful encodings (ISO-2022 escapes, UTF-7).
    bool ascii = std::all_of(text.begin(), text.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != '\x1b' && c != '~'; });
    return ascii && cs != "utf-7" && cs != "utf-16" && cs != "utf-32";
}
}  // namespace

void ToUtf8InPlace(std::string& text, std::string_view charset) {
    if (SameInUtf8(text, LowerString(charset))) return;
    text = ToUtf8(text, charset);
}

std::string ToUtf8(std::string_view text, std::string_view charset) {
    std::string cs = LowerString(charset);
    if (SameInUtf8(text, cs)) return std::string(text);
    // iconv_open loads a gconv module from disk: keep one descriptor per charset and thread.
    struct Cache {
        std::vector<std::pair<std::string, iconv_t>> entries;
        ~Cache() {
            for (auto& [name, cd] : entries) {
                if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
            }
        }
    };
    thread_local Cache cache;
    iconv_t cd = reinterpret_cast<iconv_t>(-1);
    bool cached = true;
    auto it = std::find_if(cache.entries.begin(), cache.entries.end(), [&](const auto& e) { return e.first == cs; });
    if (it != cache.entries.end()) {
        cd = it->second;
    } else {
        cd = iconv_open("UTF-8", cs.c_str());
        if (cache.entries.size() < 32) {
            cache.entries.emplace_back(cs, cd);
        } else {
            cached = false;
        }
    }
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(text);
    iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state
    bool had_errors = false;
    std::string out;
    out.resize(text.size() * 4 + 16);
    char* in_ptr = const_cast<char*>(text.data());
    std::size_t in_left = text.size();
    char* out_ptr = out.data();
    std::size_t out_left = out.size();
    while (in_left > 0) {
        std::size_t rc = iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left);
        if (rc != static_cast<std::size_t>(-1)) break;
        if (errno == E2BIG) break;
        // Invalid or incomplete sequence: emit U+FFFD and skip one input byte.
        had_errors = true;
        if (out_left < 3) break;
        *out_ptr++ = static_cast<char>(0xEF);
        *out_ptr++ = static_cast<char>(0xBF);
        *out_ptr++ = static_cast<char>(0xBD);
        out_left -= 3;
        ++in_ptr;
        --in_left;
    }
    out.resize(out.size() - out_left);
    if (!cached) iconv_close(cd);
    // Mislabelled text (declared ISO-2022-JP, actually UTF-8) is kept as it is.
    if (had_errors && ValidUtf8(text)) return std::string(text);
    return out;
}

std::string DecodeEncodedWords(std::string_view value) {
    if (FindBytes(value, "=?") == std::string_view::npos) return std::string(value);
    std::string out;
    std::size_t pos = 0;
    bool last_was_word = false;
    std::string pending_ws;
    while (pos < value.size()) {
        std::size_t start = FindBytes(value, "=?", pos);
        if (start == std::string_view::npos) {
            out.append(pending_ws);
            out.append(value.substr(pos));
            break;
        }
        std::string_view between = value.substr(pos, start - pos);
        std::size_t q1 = value.find('?', start + 2);
        std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
        std::size_t end = q2 == std::string_view::npos ? q2 : FindBytes(value, "?=", q2 + 1);
        if (end == std::string_view::npos || q2 != q1 + 2) {
            out.append(pending_ws);
            pending_ws.clear();
            out.append(value.substr(pos, start + 2 - pos));
            pos = start + 2;
            last_was_word = false;
            continue;
        }
        bool ws_only = std::all_of(between.begin(), between.end(), IsSpace);
        if (!(last_was_word && ws_only)) out.append(between);
        std::string charset = LowerAscii(value.substr(start + 2, q1 - start - 2));
        if (std::size_t star = charset.find('*'); star != std::string::npos) charset.resize(star);  // RFC 2231 language
        char enc = static_cast<char>(value[q1 + 1] | 0x20);
        std::string_view payload = value.substr(q2 + 1, end - q2 - 1);
        std::string decoded;
        if (enc == 'b') {
            decoded = DecodeBase64(payload);
        } else if (enc == 'q') {
            for (std::size_t i = 0; i < payload.size(); ++i) {
                char c = payload[i];
                if (c == '_') {
                    decoded.push_back(' ');
                } else if (c == '=' && i + 2 < payload.size() + 0 && HexValue(payload[i + 1]) >= 0 &&
                           HexValue(payload[i + 2]) >= 0) {
                    decoded.push_back(static_cast<char>(HexValue(payload[i + 1]) * 16 + HexValue(payload[i + 2])));
                    i += 2;
                } else {
                    decoded.push_back(c);
                }
            }
        } else {
            decoded = std::string(payload);
        }
        out.append(ToUtf8(decoded, charset));
        pending_ws.clear();
        last_was_word = true;
        pos = end + 2;
    }
    return out;
}

namespace {
// Unfold(), then DecodeEncodedWords() only when there is an encoded word (one copy less).
std::string UnfoldAndDecode(std::string_view value) {
    std::string unfolded = Unfold(value);
    if (FindBytes(unfolded, "=?") == std::string::npos) return unfolded;
    return DecodeEncodedWords(unfolded);
}
}  // namespace

Headers ParseHeaderBlock(std::string_view text, std::size_t max_fields) {
    std::vector<HeaderField> fields;
    std::size_t pos = 0;
    std::string name;
    std::string value;
    auto flush = [&] {
        if (!name.empty() && fields.size() < max_fields) {
            fields.push_back({LowerAscii(name), UnfoldAndDecode(value)});
        }
        name.clear();
        value.clear();
    };
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        pos = eol == std::string_view::npos ? text.size() : eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (StripWhitespace(line).empty()) {
            if (!name.empty() || !fields.empty()) break;
            continue;  // leading blank lines
        }
        if ((line[0] == ' ' || line[0] == '\t') && !name.empty()) {
            if (value.size() < kMaxHeaderValueBytes) {
                value.push_back('\n');
                value.append(line);
            }
            continue;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon > 76) {
            if (line.starts_with("From ") && fields.empty() && name.empty()) continue;  // mbox separator
            flush();
            continue;
        }
        std::string_view candidate = line.substr(0, colon);
        bool valid =
            std::all_of(candidate.begin(), candidate.end(), [](char c) { return c > 32 && c < 127 && c != ':'; });
        if (!valid) {
            flush();
            continue;
        }
        flush();
        name = std::string(candidate);
        value = std::string(line.substr(colon + 1));
    }
    flush();
    return Headers(std::move(fields));
}

bool IsTraceField(std::string_view name) {
    if (name.empty()) return false;
    auto is = [&](std::string_view n) { return EqualsIgnoreCase(name, n); };
    auto starts = [&](std::string_view p) { return StartsWithIgnoreCase(name, p); };
    switch (name[0] | 0x20) {
        case 'r':
            return is("received") || is("received-spf");
        case 'd':
            return is("dkim-signature") || is("domainkey-signature");
        case 'a':
            return is("authentication-results") || starts("arc-");
        case 'x':
            return is("x-received") || starts("x-ms-exchange-") || starts("x-microsoft-") || starts("x-forefront-") ||
                   is("x-google-dkim-signature") || is("x-google-smtp-source") || is("x-gm-message-state");
        default:
            return false;
    }
}

namespace {

// `value` (a Content-Type value) names exactly `type` ("text/plain"), parameters aside.
bool IsMediaType(std::string_view value, std::string_view type) {
    if (!StartsWithIgnoreCase(value, type)) return false;
    if (value.size() == type.size()) return true;
    char c = value[type.size()];
    return c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The body of a top-level part with this Content-Type value is never read: binary attachments
// (only text, message and multipart bodies are), and an HTML part after a text/plain one (the
// text of a message is its first text/plain part; HTML only stands in when there is none).
bool PartBodyUnread(std::string_view type, bool plain_seen) {
    for (std::string_view binary : {"image/", "audio/", "video/", "application/", "font/", "model/"}) {
        if (StartsWithIgnoreCase(type, binary)) return true;
    }
    return plain_seen && IsMediaType(type, "text/html");
}

}  // namespace

std::string DropTraceFields(std::string_view text) {
    enum State { kHeader, kBody, kPartHeader, kSkip };
    std::string out;
    out.reserve(text.size());
    State state = kHeader;
    bool dropping = false;           // inside a trace field (its continuation lines go too)
    bool attached = false;           // the part header announced message/rfc822
    bool in_attached = false;        // kHeader is the header of an attached message
    bool fields_seen = false;        // ... and it had header fields (not an encoded body)
    bool report = false;             // ... and that message is itself a delivery report
    std::string_view part_boundary;  // the delimiter line that opened the current part
    // Bodies no parser reads (see PartBodyUnread): the current part header's first Content-Type
    // value, whether a text/plain part came before any attached message, and whether one has.
    std::string_view part_type;
    bool type_seen = false;
    bool plain_seen = false;
    bool attached_seen = false;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (state == kSkip) {
            // The body of an attached original: only its header is read, so it is left out up
            // to the delimiter of the part that holds it.
            std::size_t at = pos;
            while (true) {
                at = FindBytes(text, part_boundary, at);
                if (at == std::string_view::npos || at == 0 || text[at - 1] == '\n') break;
                at += part_boundary.size();
            }
            pos = at == std::string_view::npos ? text.size() : at;
            state = kBody;
            continue;
        }
        if (state == kBody && !text.substr(pos).starts_with("--")) {
            // Body text is copied up to the next line that may be a boundary.
            std::size_t dash = FindBytes(text, "\n--", pos);
            std::size_t upto = dash == std::string_view::npos ? text.size() : dash + 1;
            out.append(text.substr(pos, upto - pos));
            pos = upto;
            continue;
        }
        std::size_t eol = text.find('\n', pos);
        std::size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
        std::string_view line = text.substr(pos, next - pos);
        bool blank = line == "\n" || line.empty();
        bool keep = true;
        switch (state) {
            case kHeader:
                if (in_attached && !part_boundary.empty() && line.starts_with(part_boundary)) {
                    state = kPartHeader;  // an attached message without a body
                    attached = false;
                    in_attached = false;
                    part_boundary = StripWhitespace(line);
                } else if (blank) {
                    bool skip = in_attached && fields_seen && !report && part_boundary.size() > 2;
                    state = skip ? kSkip : kBody;
                    dropping = false;
                    in_attached = false;
                } else if (line[0] == ' ' || line[0] == '\t') {
                    keep = !dropping;
                } else {
                    std::size_t colon = line.find(':');
                    dropping = colon != std::string_view::npos && IsTraceField(line.substr(0, colon));
                    keep = !dropping;
                    if (colon != std::string_view::npos && colon > 0 &&
                        std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                                    [](char c) { return c > 32 && c < 127; })) {
                        fields_seen = true;
                        if ((line[0] == 'c' || line[0] == 'C') && StartsWithIgnoreCase(line, "content-type:") &&
                            StartsWithIgnoreCase(StripWhitespace(line.substr(13)), "multipart/report")) {
                            report = true;
                        }
                    }
                }
                break;
            case kBody:
                if (line.starts_with("--")) {
                    state = kPartHeader;
                    attached = false;
                    part_boundary = StripWhitespace(line);
                }
                break;
            case kPartHeader:
                if (blank) {
                    bool unread = !attached && !attached_seen && PartBodyUnread(part_type, plain_seen);
                    if (!attached && !attached_seen && IsMediaType(part_type, "text/plain")) plain_seen = true;
                    if (attached) attached_seen = true;
                    state = attached ? kHeader : unread && part_boundary.size() > 2 ? kSkip : kBody;
                    in_attached = attached;
                    fields_seen = false;
                    report = false;
                    part_type = {};
                    type_seen = false;
                } else if ((line[0] == 'c' || line[0] == 'C') && StartsWithIgnoreCase(line, "content-type:")) {
                    std::string_view value = StripWhitespace(line.substr(13));
                    if (!type_seen) {
                        // The walker reads the first Content-Type field; a folded value is not
                        // looked at here (its body is kept).
                        attached = StartsWithIgnoreCase(value, "message/rfc822") ||
                                   StartsWithIgnoreCase(value, "message/global");
                        part_type = value;
                        type_seen = true;
                    }
                } else if (line.starts_with("--")) {
                    attached = false;
                    part_boundary = StripWhitespace(line);
                    part_type = {};
                    type_seen = false;
                } else if (line[0] == ' ' || line[0] == '\t') {
                    // A continuation line: the type may have been folded onto it; keep the body.
                    if (type_seen && StripWhitespace(part_type).empty()) part_type = "folded/unknown";
                }
                break;
            case kSkip:
                break;
        }
        if (keep) out.append(line);
        pos = next;
    }
    return out;
}

namespace {

// "Text/Plain; charset=\"ISO-8859-1\"" -> {"text", "plain", "iso-8859-1"} (lower-case).
std::tuple<std::string, std::string, std::string> SplitContentType(std::string_view value) {
    std::size_t semi = value.find(';');
    std::string_view main = StripWhitespace(value.substr(0, semi));
    std::size_t slash = main.find('/');
    if (slash == std::string_view::npos) return {"", "", ""};
    std::string type = LowerAscii(StripWhitespace(main.substr(0, slash)));
    std::string_view sub = StripWhitespace(main.substr(slash + 1));
    // "text/plain charset=..." (no ';'): the subtype ends at the first blank or quote.
    std::size_t end = 0;
    while (end < sub.size() && sub[end] != ' ' && sub[end] != '\t' && sub[end] != '"' && sub[end] != '\'')
        ++end;
    std::string subtype = LowerAscii(sub.substr(0, end));
    std::string charset;
    std::string lower = LowerAscii(value);
    std::size_t at = FindBytes(lower, "charset");
    while (at != std::string::npos) {
        std::size_t p = at + 7;
        if (p < lower.size() && lower[p] == '*') ++p;  // RFC 2231 charset*=utf-8''...
        while (p < lower.size() && (lower[p] == ' ' || lower[p] == '\t'))
            ++p;
        if (p < lower.size() && lower[p] == '=') {
            ++p;
            while (p < lower.size() && (lower[p] == ' ' || lower[p] == '\t' || lower[p] == '"'))
                ++p;
            std::size_t e = p;
            while (e < lower.size() && lower[e] != '"' && lower[e] != ';' && lower[e] != ' ' && lower[e] != '\t' &&
                   lower[e] != '\'') {
                ++e;
            }
            charset = lower.substr(p, e - p);
            break;
        }
        at = FindBytes(lower, "charset", at + 7);
    }
    if (type.empty() || subtype.empty()) return {"", "", charset};
    return {type, subtype, charset};
}

struct Walker {
    const MimeLimits& limits;
    FlatMessage& out;
    int entity_count = 0;
    absl::Status status;

    Headers ConvertHeaders(const mimetic::Header& header) {
        std::vector<HeaderField> fields;
        for (const mimetic::Field& f : header) {
            if (fields.size() >= 512) break;
            if (IsTraceField(f.name())) continue;
            fields.push_back({LowerAscii(f.name()), UnfoldAndDecode(f.value())});
        }
        return Headers(std::move(fields));
    }

    static Headers MimeFields(const mimetic::Header& header) {
        std::vector<HeaderField> fields;
        for (const mimetic::Field& f : header) {
            const std::string& name = f.name();
            if (name.size() > 8 && EqualsIgnoreCase(std::string_view(name).substr(0, 8), "content-")) {
                fields.push_back({LowerAscii(name), Unfold(f.value())});
            }
        }
        return Headers(std::move(fields));
    }

    // `raw` is the entity's own body, moved from when there is no transfer encoding to undo.
    static std::string DecodeBody(std::string& raw, std::string_view transfer_encoding) {
        std::string te = LowerString(transfer_encoding);
        if (te == "base64") return DecodeBase64(raw);
        if (te == "quoted-printable") return DecodeQuotedPrintable(raw);
        return std::move(raw);
    }

    // `decode`: bodies inside an attached message are decoded too (a forwarded delivery report).
    // `entity` is the walker's to consume: leaf bodies are moved out of it.
    void Walk(mimetic::MimeEntity& entity, int depth, int message_level, bool top, bool decode = false) {
        if (!status.ok()) return;
        if (++entity_count > limits.max_parts) {
            status = absl::ResourceExhaustedError(StrCat("more than ", limits.max_parts, " MIME parts"));
            return;
        }
        if (depth > limits.max_depth) {
            status = absl::ResourceExhaustedError(StrCat("MIME nesting deeper than ", limits.max_depth));
            return;
        }
        // Only the top-level header is decoded in full; parts need just their MIME fields.
        Headers own = top ? ConvertHeaders(entity.header()) : MimeFields(entity.header());
        if (top) out.headers = std::move(own);
        const Headers& headers = top ? out.headers : own;
        // The Content-Type value is already unfolded in `headers`; reading type, subtype and charset
        // here avoids mimetic re-parsing the field for every entity.
        auto [type, subtype, charset] = SplitContentType(headers.Get("content-type"));
        std::string content_type = type.empty() ? "text/plain" : StrCat(type, "/", subtype);
        mimetic::Body& body = entity.body();
        if (type == "multipart") {
            // Broken multiparts keep their text in the preamble; keep it as a text part.
            if (!StripWhitespace(body.preamble()).empty()) {
                out.parts.push_back(
                    {"text/x-preamble", charset, ToUtf8(body.preamble(), charset), depth, message_level, {}});
            }
            for (mimetic::MimeEntity* child : body.parts()) {
                Walk(*child, depth + 1, message_level, false, decode);
            }
            // A multipart whose boundary parameter was lost (e.g. an unfolded continuation line)
            // has no parts: its raw body is the text.
            if (body.parts().empty() && message_level == 0) {
                std::string raw = StrCat(std::string_view(body), "\n", std::string_view(body.epilogue()));
                if (!StripWhitespace(raw).empty()) {
                    out.parts.push_back({"text/x-preamble", charset, ToUtf8(raw, charset), depth, message_level, {}});
                }
            }
            return;
        }
        if (content_type == "message/rfc822" || content_type == "message/global") {
            if (!body.parts().empty()) {
                mimetic::MimeEntity* child = body.parts().front();
                AttachedMessage attached;
                attached.headers = ConvertHeaders(child->header());
                // A delivery report forwarded as an attachment (e.g. by a gateway that bounced the
                // bounce): its parts are read like the top level's.
                bool report =
                    message_level == 0 &&
                    StartsWithIgnoreCase(StripWhitespace(attached.headers.Get("content-type")), "multipart/report");
                out.attached.push_back(std::move(attached));
                Walk(*child, depth + 1, message_level + 1, false, report);
            } else {
                std::string raw = DecodeBody(body, headers.Get("content-transfer-encoding"));
                out.attached.push_back({ParseHeaderBlock(raw)});
            }
            return;
        }
        if (message_level > 0 && !decode && content_type != "text/rfc822-headers" &&
            content_type != "message/rfc822-headers" && content_type != "text/rfc822-header") {
            // Inside the returned original: its header is all the parsers read, so its parts are
            // listed without decoding their bodies.
            out.parts.push_back({std::move(content_type), std::move(charset), {}, depth, message_level, {}});
            return;
        }
        std::string decoded = DecodeBody(body, headers.Get("content-transfer-encoding"));
        if (type == "text" || type == "message") ToUtf8InPlace(decoded, charset);
        if (content_type == "text/rfc822-headers" || content_type == "message/rfc822-headers" ||
            content_type == "text/rfc822-header") {
            out.attached.push_back({ParseHeaderBlock(decoded)});
        }
        out.parts.push_back({std::move(content_type), std::move(charset), std::move(decoded), depth, message_level,
                             top ? out.headers : std::move(own)});
    }
};

}  // namespace

absl::StatusOr<FlatMessage> FlattenMessage(std::string_view message, const MimeLimits& limits) {
    FlatMessage flat;
    try {
        // mimetic parses every field of every header; the trace fields (most of a header block)
        // are dropped first since no parser reads them.
        std::string light = DropTraceFields(message);
        mimetic::MimeEntity entity(light.data(), light.data() + light.size());
        Walker walker{limits, flat, 0, absl::OkStatus()};
        walker.Walk(entity, 0, 0, true);
        if (!walker.status.ok()) return walker.status;
    } catch (const std::exception& e) {
        return absl::InvalidArgumentError(StrCat("MIME parse failed: ", std::string_view(e.what())));
    }
    return flat;
}

}  // namespace rebound::bounce
