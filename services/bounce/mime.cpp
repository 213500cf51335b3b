// MIME structure is split here, by our own code over string_views of the message, not by
// mimetic's MimeEntity: its load copies every byte of the message one character at a time into a
// tree of strings (header fields, bodies, preambles), and re-parses Content-Type for every entity.
// Measured with callgrind over the corpus, that load and the conversion of its tree were 42% of
// Parse (about 140k of 320k instructions per message), most of it for bodies no parser reads. One
// pass over views cuts each entity's header once, finds multipart delimiters with a substring search
// and decodes only the bodies that are read. mimetic still provides the Base64 codec.
#include "services/bounce/mime.h"

#include <iconv.h>
#include <mimetic/mimetic.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <tuple>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    std::string_view stripped = Strip(out);
    if (stripped.size() == out.size()) return;
    std::size_t begin = static_cast<std::size_t>(stripped.data() - out.data());
    out.resize(begin + stripped.size());
    out.erase(0, begin);
}

// Joins folded lines and collapses the fold whitespace to one space.
std::string Unfold(std::string_view value) {
    if (value.empty()) return {};
    const bool folded = FindLineBreak(value) != std::string_view::npos;
    if (!folded) return std::string(Strip(value.substr(0, std::min(value.size(), kMaxHeaderValueBytes))));
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
        std::size_t j = std::min(FindLineBreak(value, i + 1), n);
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
    return LowerAscii(Strip(s));
}

}  // namespace

namespace {
// EqualsNoCase(name, query), with the cheap tests first (most fields differ in length or first letter).
bool SameName(std::string_view name, std::string_view query) {
    return name.size() == query.size() && !name.empty() && (name[0] | 0x20) == (query[0] | 0x20) &&
           EqualsNoCase(name, query);
}
}  // namespace

std::string_view Headers::Get(std::string_view name) const {
    for (const HeaderField& f : fields_) {
        if (SameName(f.name, name)) return f.value;
    }
    return {};
}

bool Headers::Has(std::string_view name) const {
    for (const HeaderField& f : fields_) {
        if (SameName(f.name, name)) return true;
    }
    return false;
}

namespace {
// Whether a header value has a line break (it is folded) and whether it has "=?" (where an encoded word
// may start): one pass over it, sixteen bytes at a time, instead of one search for each.
struct ValueShape {
    bool folded = false;
    bool encoded = false;
};

#if defined(__SSE2__)
// Adds the positions of p[0, 16) that are CR or LF to `breaks`, and those of '=' followed by '?' to
// `words` (reads p[16] too).
void ShapeBlock(const char* p, unsigned& breaks, unsigned& words) {
    __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    breaks |= static_cast<unsigned>(_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(block, _mm_set1_epi8('\r')))));
    words |= static_cast<unsigned>(_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('=')), _mm_cmpeq_epi8(next, _mm_set1_epi8('?')))));
}
#endif

ValueShape ShapeOf(std::string_view value) {
    const char* s = value.data();
    const std::size_t n = value.size();
#if defined(__SSE2__)
    unsigned breaks = 0;
    unsigned words = 0;
    if (n < 17) {
        // Most values: one block, padded with NUL bytes (which match none of the four).
        alignas(16) char padded[32] = {};
        if (n > 0) std::memcpy(padded, s, n);
        ShapeBlock(padded, breaks, words);
    } else {
        std::size_t i = 0;
        for (; i + 17 <= n; i += 16)
            ShapeBlock(s + i, breaks, words);
        // The rest in one block that overlaps the last one, and the last byte (no '?' can follow it).
        ShapeBlock(s + n - 17, breaks, words);
        if (s[n - 1] == '\n' || s[n - 1] == '\r') breaks = 1;
    }
    return {breaks != 0, words != 0};
#else
    ValueShape shape;
    for (std::size_t i = 0; i < n; ++i) {
        shape.folded = shape.folded || s[i] == '\n' || s[i] == '\r';
        shape.encoded = shape.encoded || (s[i] == '=' && i + 1 < n && s[i + 1] == '?');
    }
    return shape;
#endif
}
}  // namespace

void Headers::Add(std::string_view name, std::string_view raw_value, bool decode) {
    // A value past the limit is cut before it is searched for encoded words (as below).
    const bool long_value = raw_value.size() > kMaxHeaderValueBytes;
    ValueShape shape =
        long_value ? ValueShape{FindLineBreak(raw_value) != std::string_view::npos, true} : ShapeOf(raw_value);
    if (!shape.folded) {
        // As Unfold() gives it, without a copy. "=?" has no blank, so the value has one where the raw
        // value has.
        std::string_view value = Strip(raw_value.substr(0, std::min(raw_value.size(), kMaxHeaderValueBytes)));
        if (!decode || !shape.encoded || (long_value && FindBytes(value, "=?") == std::string_view::npos)) {
            fields_.push_back({name, value});
            return;
        }
        storage_.push_front(DecodeEncodedWords(value));
    } else {
        std::string unfolded = Unfold(raw_value);
        if (decode && FindBytes(unfolded, "=?") != std::string::npos) unfolded = DecodeEncodedWords(unfolded);
        storage_.push_front(std::move(unfolded));
    }
    fields_.push_back({name, storage_.front()});
}

std::string DecodeBase64(std::string_view text) {
    mimetic::Base64::Decoder decoder;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    mimetic::decode(text.begin(), text.end(), decoder, std::back_inserter(out));
    return out;
}

namespace {
// End of the text at `i` that quoted-printable decoding copies as it is: bytes above 32 other than
// '=', and single spaces followed by one of them. Sixteen bytes at a time where SSE2 is available.
std::size_t QpTextEnd(std::string_view text, std::size_t i) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
#if defined(__SSE2__)
    const __m128i k32 = _mm_set1_epi8(32);
    for (; i + 17 <= n; i += 16) {
        __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 1));
        __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(b, k32), b);  // b <= 32
        __m128i next_low = _mm_cmpeq_epi8(_mm_min_epu8(next, k32), next);
        __m128i space = _mm_cmpeq_epi8(b, _mm_set1_epi8(' '));
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_andnot_si128(space, low), _mm_cmpeq_epi8(b, _mm_set1_epi8('='))),
                                    _mm_and_si128(space, next_low));
        auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
        if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#endif
    while (i < n) {
        if (s[i] > 32 && s[i] != '=') {
            ++i;
        } else if (s[i] == ' ' && i + 1 < n && s[i + 1] > 32) {
            ++i;
        } else {
            break;
        }
    }
    return i;
}

}  // namespace

// The same state machine as mimetic::QP::Decoder (so results do not change), with what it does most
// (text, blanks followed by text, line ends, "=XX") done in one loop that writes into a sized buffer:
// no state gives more bytes than it reads, so the result is never longer than `text`.
std::string DecodeQuotedPrintable(std::string_view text) {
    enum State { kWaitingChar, kAfterEq, kWaitingFirstHex, kWaitingSecondHex, kBlank, kNewline };
    auto blank = [](unsigned char c) { return c == ' ' || c == '\t'; };
    auto newline = [](unsigned char c) { return c == '\r' || c == '\n'; };
    std::string out;
    out.resize(text.size());
    char* const begin = out.data();
    char* o = begin;
    auto append = [&](std::string_view s) {
        std::memcpy(o, s.data(), s.size());
        o += s.size();
    };
    std::string prev;
    State state = kWaitingChar;
    unsigned char nl = 0;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        auto c = static_cast<unsigned char>(text[i]);
        switch (state) {
            case kWaitingChar: {
                // prev is empty in this state. Printable bytes, blanks followed by more text on the
                // line, line ends (one LF for CR, LF, CRLF or LFCR) and "=XX" are decoded here; the
                // machine takes the rest.
                std::size_t j = i;
                while (j < n) {
                    std::size_t run = QpTextEnd(text, j);
                    if (run > j) {
                        append(text.substr(j, run - j));
                        j = run;
                        if (j == n) break;
                    }
                    auto d = static_cast<unsigned char>(text[j]);
                    if (blank(d)) {
                        std::size_t k = j + 1;
                        while (k < n && blank(static_cast<unsigned char>(text[k])))
                            ++k;
                        if (k == n || newline(static_cast<unsigned char>(text[k]))) break;
                        append(text.substr(j, k - j));
                        j = k;
                    } else if (newline(d)) {
                        *o++ = '\n';
                        ++j;
                        if (j < n && text[j] == (d == '\n' ? '\r' : '\n')) ++j;
                    } else if (d == '=' && j + 2 < n && HexValue(text[j + 1]) >= 0 && HexValue(text[j + 2]) >= 0) {
                        *o++ = static_cast<char>(HexValue(text[j + 1]) << 4 | HexValue(text[j + 2]));
                        j += 3;
                    } else {
                        break;
                    }
                }
                if (j > i) {
                    i = j;
                    continue;
                }
                if (blank(c)) {
                    state = kBlank;  // blanks that end the line or the text
                    continue;
                }
                if (c == '=') {
                    state = kAfterEq;
                    prev.push_back('=');
                    ++i;
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
                    append(prev);
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
                        append(prev);
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
                    append(prev);
                    prev.clear();
                    *o++ = static_cast<char>(c);
                    state = kWaitingChar;
                } else {
                    prev.push_back(static_cast<char>(c));
                    state = kWaitingSecondHex;
                }
                ++i;
                continue;
            case kWaitingSecondHex:
                if (HexValue(static_cast<char>(c)) < 0) {
                    append(prev);
                    prev.clear();
                    *o++ = static_cast<char>(c);
                } else {
                    *o++ = static_cast<char>(HexValue(prev.back()) << 4 | HexValue(static_cast<char>(c)));
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
                if (prev.empty() || prev[0] != '=') *o++ = '\n';
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
        *o++ = '=';
        if (prev.size() > 1 && prev[1] != ' ') *o++ = prev[1];
    } else if (nl != 0) {
        *o++ = '\n';
    }
    out.resize(static_cast<std::size_t>(o - begin));
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
// No byte of `text` is 8-bit, ESC or '~'; eight bytes at a time.
bool PlainAscii(std::string_view text) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    const char* p = text.data();
    const std::size_t n = text.size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x;
        std::memcpy(&x, p + i, 8);
        if ((x & kHigh) != 0) return false;
        // A zero byte in x ^ pattern (exact once no byte has its high bit set).
        std::uint64_t esc = x ^ (0x1b * kOnes);
        std::uint64_t tilde = x ^ (0x7e * kOnes);
        if ((((esc - kOnes) & ~esc) | ((tilde - kOnes) & ~tilde)) & kHigh) return false;
    }
    for (; i < n; ++i) {
        auto c = static_cast<unsigned char>(p[i]);
        if (c >= 0x80 || c == 0x1b || c == '~') return false;
    }
    return true;
}

bool SameInUtf8(std::string_view text, std::string_view cs) {
    if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") return true;
    // 7-bit text is the same in UTF-8, except for stateful encodings (ISO-2022 escapes, UTF-7).
    return cs != "utf-7" && cs != "utf-16" && cs != "utf-32" && PlainAscii(text);
}
}  // namespace

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
// True when every byte of `name` is printable ASCII other than a blank (33..126), as a header field
// name must be; eight bytes at a time, the last (fewer than eight) of a name of eight or more in one
// more word that overlaps the one before.
bool IsFieldName(std::string_view name) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    // A byte below 33 borrows into its bit 7; one above 126 has bit 7 set, or gets it from +1.
    auto printable = [&](std::size_t at) {
        std::uint64_t x;
        std::memcpy(&x, name.data() + at, 8);
        return (((x - 33 * kOnes) | x | (x + kOnes)) & kHigh) == 0;
    };
    const std::size_t n = name.size();
    if (n >= 8) {
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            if (!printable(i)) return false;
        }
        return i == n || printable(n - 8);
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (name[i] <= 32 || name[i] >= 127) return false;
    }
    return true;
}
}  // namespace

Headers ParseHeaderBlock(std::string_view text, std::size_t max_fields, bool (*keep)(std::string_view name)) {
    Headers fields;
    fields.Reserve(16);
    std::size_t count = 0;  // fields read, stored or not
    std::size_t pos = 0;
    // The current field: its name and its value, text[value_begin, value_end) with its folds.
    std::string_view name;
    std::size_t value_begin = 0;
    std::size_t value_end = 0;
    auto flush = [&] {
        if (!name.empty() && count < max_fields) {
            ++count;
            if (keep == nullptr || keep(name))
                fields.Add(name, text.substr(value_begin, value_end - value_begin), true);
        }
        name = {};
    };
    while (pos < text.size()) {
        const char* nl = static_cast<const char*>(std::memchr(text.data() + pos, '\n', text.size() - pos));
        std::size_t eol = nl == nullptr ? text.size() : static_cast<std::size_t>(nl - text.data());
        std::size_t line_start = pos;
        std::string_view line = text.substr(pos, eol - pos);
        pos = nl == nullptr ? text.size() : eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (Strip(line).empty()) {
            if (!name.empty() || count != 0) break;
            continue;  // leading blank lines
        }
        if ((line[0] == ' ' || line[0] == '\t') && !name.empty()) {
            value_end = line_start + line.size();
            continue;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon > 76) {
            if (line.starts_with("From ") && count == 0 && name.empty()) continue;  // mbox separator
            flush();
            continue;
        }
        std::string_view candidate = line.substr(0, colon);
        bool valid = IsFieldName(candidate);  // no ':' before the first one
        flush();
        if (!valid) continue;
        name = candidate;
        value_begin = line_start + colon + 1;
        value_end = line_start + line.size();
    }
    flush();
    return fields;
}

bool IsTraceField(std::string_view name) {
    if (name.empty()) return false;
    auto is = [&](std::string_view n) { return EqualsNoCase(name, n); };
    auto starts = [&](std::string_view p) { return StartsWithNoCase(name, p); };
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

// "Text/Plain; charset=\"ISO-8859-1\"" -> {"text", "plain", "iso-8859-1"} (lower-case).
std::tuple<std::string, std::string, std::string> SplitContentType(std::string_view value) {
    std::size_t semi = value.find(';');
    std::string_view main = Strip(value.substr(0, semi));
    std::size_t slash = main.find('/');
    if (slash == std::string_view::npos) return {"", "", ""};
    std::string type = LowerAscii(Strip(main.substr(0, slash)));
    std::string_view sub = Strip(main.substr(slash + 1));
    // "text/plain charset=..." (no ';'): the subtype ends at the first blank or quote.
    std::size_t end = 0;
    while (end < sub.size() && sub[end] != ' ' && sub[end] != '\t' && sub[end] != '"' && sub[end] != '\'')
        ++end;
    std::string subtype = LowerAscii(sub.substr(0, end));
    std::string charset;
    // The parameter is found ignoring case; the bytes that end it have no case.
    std::size_t at = FindNoCase(value, "charset");
    while (at != std::string_view::npos) {
        std::size_t p = at + 7;
        if (p < value.size() && value[p] == '*') ++p;  // RFC 2231 charset*=utf-8''...
        while (p < value.size() && (value[p] == ' ' || value[p] == '\t'))
            ++p;
        if (p < value.size() && value[p] == '=') {
            ++p;
            while (p < value.size() && (value[p] == ' ' || value[p] == '\t' || value[p] == '"'))
                ++p;
            std::size_t e = p;
            while (e < value.size() && value[e] != '"' && value[e] != ';' && value[e] != ' ' && value[e] != '\t' &&
                   value[e] != '\'') {
                ++e;
            }
            charset = LowerAscii(value.substr(p, e - p));
            break;
        }
        at = FindNoCase(value, "charset", at + 7);
    }
    if (type.empty() || subtype.empty()) return {"", "", charset};
    return {type, subtype, charset};
}

bool IsBlank(char c) {
    return c == ' ' || c == '\t';
}

// The boundary parameter of an (unfolded) Content-Type value, read as mimetic read it: the value is
// cut at every ';' (quotes aside), a parameter's name and value lose their outer blanks, and the
// value its double quotes when it has one at each end. Empty when there is none.
std::string_view BoundaryParam(std::string_view value) {
    std::size_t semi = value.find(';');
    while (semi != std::string_view::npos) {
        std::size_t next = value.find(';', semi + 1);
        std::string_view param = value.substr(semi + 1, next == std::string_view::npos ? next : next - semi - 1);
        semi = next;
        std::size_t eq = param.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view name = param.substr(0, eq);
        while (!name.empty() && IsBlank(name.front()))
            name.remove_prefix(1);
        while (!name.empty() && IsBlank(name.back()))
            name.remove_suffix(1);
        if (!EqualsNoCase(name, "boundary")) continue;
        std::string_view v = param.substr(eq + 1);
        while (!v.empty() && IsBlank(v.front()))
            v.remove_prefix(1);
        while (!v.empty() && IsBlank(v.back()))
            v.remove_suffix(1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return v;
    }
    return {};
}

// Calls on_field(name, raw_value) for each field of the header block at the start of `text` and
// returns where the body starts. As mimetic's header parser: the block ends at an empty line, or
// at a line that is not a header field (no colon, or a name with blanks or bytes outside 33..126),
// which is then the first line of the body; a line starting with ':' is ignored; a line starting
// with a blank continues the field before it (the first line of a block is body text if it does).
// `raw_value` runs from after the colon to the end of the field's last line, folds included.
// Unlike mimetic, a last field with no line after it is kept. A line of a lone CR is an empty line.
template <typename OnField>
std::size_t ScanHeader(std::string_view text, OnField&& on_field) {
    const std::size_t n = text.size();
    std::size_t pos = 0;
    std::string_view name;
    std::size_t value_begin = 0;
    std::size_t value_end = 0;
    bool open = false;     // a field is being read (continuation lines extend it)
    bool ignored = false;  // the last field line was ignored (its continuation lines go too)
    auto flush = [&] {
        if (open) on_field(name, text.substr(value_begin, value_end - value_begin));
        open = false;
    };
    while (pos < n) {
        const char* nl = static_cast<const char*>(std::memchr(text.data() + pos, '\n', n - pos));
        std::size_t eol = nl == nullptr ? n : static_cast<std::size_t>(nl - text.data());
        std::size_t next = nl == nullptr ? n : eol + 1;
        // A CR left before the LF (input that had CR CR LF) ends the line with it, as in mimetic.
        if (eol == pos || (eol == pos + 1 && text[pos] == '\r')) {
            flush();
            return next;
        }
        char first = text[pos];
        if (IsBlank(first)) {
            if (open) {
                value_end = eol;
            } else if (!ignored) {
                return pos;
            }
            pos = next;
            continue;
        }
        const char* colon_ptr = static_cast<const char*>(std::memchr(text.data() + pos, ':', eol - pos));
        if (colon_ptr == nullptr) {
            flush();
            return pos;
        }
        std::size_t colon = static_cast<std::size_t>(colon_ptr - text.data());
        if (colon == pos) {
            flush();
            ignored = true;
            pos = next;
            continue;
        }
        std::string_view field_name = text.substr(pos, colon - pos);
        while (IsBlank(field_name.back()))
            field_name.remove_suffix(1);
        if (!IsFieldName(field_name)) {
            flush();
            return pos;
        }
        flush();
        name = field_name;
        value_begin = colon + 1;
        value_end = eol;
        open = true;
        ignored = false;
        pos = next;
    }
    flush();
    return n;
}

bool IsContentField(std::string_view name) {
    return name.size() > 8 && StartsWithNoCase(name, "content-");
}

enum class Encoding { kIdentity, kBase64, kQuotedPrintable };

Encoding TransferEncoding(std::string_view value) {
    value = Strip(value);
    if (EqualsNoCase(value, "base64")) return Encoding::kBase64;
    if (EqualsNoCase(value, "quoted-printable")) return Encoding::kQuotedPrintable;
    return Encoding::kIdentity;
}

std::string Decode(std::string_view raw, Encoding encoding) {
    switch (encoding) {
        case Encoding::kBase64:
            return DecodeBase64(raw);
        case Encoding::kQuotedPrintable:
            return DecodeQuotedPrintable(raw);
        case Encoding::kIdentity:
            break;
    }
    return std::string(raw);
}

bool IsRfc822Headers(std::string_view content_type) {
    return content_type == "text/rfc822-headers" || content_type == "message/rfc822-headers" ||
           content_type == "text/rfc822-header";
}

// Splits a message into FlatMessage in one pass over string_views of the text: each entity's header
// is scanned once, multipart bodies are cut at their delimiter lines, and only the bodies the
// parsers read are decoded (after the split, see Flattener::DecodeBodies).
class Flattener {
  public:
    Flattener(const MimeLimits& limits, FlatMessage& out) : limits_(limits), out_(out) {}

    absl::Status Run(std::string_view message) {
        Entity(message, 0, 0, Role::kTop, false);
        if (!status_.ok()) return status_;
        DecodeBodies();
        return absl::OkStatus();
    }

  private:
    enum class Role { kTop, kPart, kAttached };

    // A leaf body left to decode once every part is known.
    struct Pending {
        std::size_t part;
        std::string_view raw;
        Encoding encoding;
    };

    // `text` is the whole entity (header and body). `decode`: bodies inside an attached message are
    // decoded too (a forwarded delivery report).
    void Entity(std::string_view text, int depth, int message_level, Role role, bool decode) {
        if (!status_.ok()) return;
        if (++entity_count_ > limits_.max_parts) {
            status_ = absl::ResourceExhaustedError(StrCat("more than ", limits_.max_parts, " MIME parts"));
            return;
        }
        if (depth > limits_.max_depth) {
            status_ = absl::ResourceExhaustedError(StrCat("MIME nesting deeper than ", limits_.max_depth));
            return;
        }
        // The top-level header and the headers of attached messages are decoded in full (trace fields
        // aside); parts need just their Content-* fields.
        Headers own;
        Headers full;
        if (role != Role::kPart) full.Reserve(32);
        std::size_t body_start = ScanHeader(text, [&](std::string_view name, std::string_view value) {
            if (role == Role::kPart) {
                if (IsContentField(name)) own.Add(name, value, false);
            } else if (full.size() < kMaxFields && !IsTraceField(name)) {
                full.Add(name, value, true);
            }
        });
        std::string_view body = text.substr(body_start);
        const Headers* headers = &own;
        bool report = false;
        if (role == Role::kTop) {
            out_.headers = std::move(full);
            headers = &out_.headers;
        } else if (role == Role::kAttached) {
            out_.attached.push_back({std::move(full)});
            headers = &out_.attached.back().headers;
            // A delivery report forwarded as an attachment (e.g. by a gateway that bounced the
            // bounce): its parts are read like the top level's.
            report = message_level == 1 && StartsWithNoCase(Strip(headers->Get("content-type")), "multipart/report");
        }
        // Values view the message or nodes of the Headers' storage: they stay put when out_.attached
        // grows (`headers` may not).
        const std::string_view content_type_value = headers->Get("content-type");
        const Encoding encoding = TransferEncoding(headers->Get("content-transfer-encoding"));
        auto [type, subtype, charset] = SplitContentType(content_type_value);
        std::string content_type = type.empty() ? "text/plain" : StrCat(type, "/", subtype);
        if (role == Role::kAttached) {
            if (report) {
                decode = true;
            } else {
                // The returned original: its header is all the parsers read. Its body is not split.
                if (type != "multipart") {
                    out_.parts.push_back({std::move(content_type), std::move(charset), {}, depth, message_level, {}});
                }
                return;
            }
        }
        if (type == "multipart") {
            Multipart(body, BoundaryParam(content_type_value), charset, depth, message_level, decode);
            return;
        }
        if (content_type == "message/rfc822") {
            Entity(body, depth + 1, message_level + 1, Role::kAttached, false);
            return;
        }
        if (content_type == "message/global") {
            // Its header is read as a header block (RFC 6532: may be UTF-8); its body is not split.
            if (encoding == Encoding::kIdentity) {
                out_.attached.push_back({ParseHeaderBlock(body)});
            } else {
                out_.storage.push_front(Decode(body, encoding));
                out_.attached.push_back({ParseHeaderBlock(out_.storage.front())});
            }
            return;
        }
        bool headers_part = IsRfc822Headers(content_type);
        if (message_level > 0 && !decode && !headers_part) {
            // Inside the returned original: listed without its body.
            out_.parts.push_back({std::move(content_type), std::move(charset), {}, depth, message_level, {}});
            return;
        }
        if (headers_part) {
            // Read as the header of the original; the part's body stays empty.
            out_.attached.push_back({ParseHeaderBlock(Utf8Text(body, encoding, charset))});
        } else if (type.empty() || type == "text" || type == "message") {
            pending_.push_back({out_.parts.size(), body, encoding});
        }
        Headers part_headers;
        if (role == Role::kTop) {
            for (const HeaderField& f : out_.headers.fields()) {
                if (IsContentField(f.name)) part_headers.AddView(f.name, f.value);
            }
        } else {
            part_headers = std::move(own);
        }
        out_.parts.push_back(
            {std::move(content_type), std::move(charset), {}, depth, message_level, std::move(part_headers)});
    }

    // The body of a multipart entity: the preamble (when it has text, a text/x-preamble part: broken
    // multiparts keep their text there) and the parts between delimiter lines ("--" boundary at the
    // start of a line, then only blanks, or "--" for the last). Without a boundary, or when none of
    // its delimiters is found, the whole body is the preamble. A missing close delimiter ends the
    // last part at the end of the body (which ends at the delimiter of the enclosing multipart).
    void Multipart(std::string_view body, std::string_view boundary, const std::string& charset, int depth,
                   int message_level, bool decode) {
        std::string needle;
        needle.reserve(boundary.size() + 3);
        needle.append("\n--").append(boundary);
        const std::string_view delimiter = std::string_view(needle).substr(1);
        // Finds the next delimiter line at or after `from` (a line start); sets `line_end` past it
        // and `close` for the close delimiter. npos when there is none.
        bool close = false;
        std::size_t line_end = 0;
        auto delimiter_at = [&](std::size_t at) {
            std::size_t p = at + delimiter.size();
            std::size_t eol = body.find('\n', p);
            std::size_t end = eol == std::string_view::npos ? body.size() : eol;
            line_end = eol == std::string_view::npos ? body.size() : eol + 1;
            if (body.substr(p, 2) == "--") {
                close = true;
                return true;
            }
            close = false;
            for (std::size_t i = p; i < end; ++i) {
                if (!IsBlank(body[i]) && body[i] != '\r') return false;
            }
            return true;
        };
        auto find_delimiter = [&](std::size_t from) -> std::size_t {
            if (from == 0 && body.starts_with(delimiter) && delimiter_at(0)) return 0;
            std::size_t at = from == 0 ? 0 : from - 1;
            while ((at = FindBytes(body, needle, at)) != std::string_view::npos) {
                if (delimiter_at(at + 1)) return at + 1;
                at += 1;
            }
            return std::string_view::npos;
        };
        // The line end before a delimiter line belongs to the delimiter: the text before the
        // delimiter at `at` ends at the returned offset.
        auto text_end = [&](std::size_t from, std::size_t at) {
            if (at <= from) return from;
            std::size_t end = at - 1;  // the LF
            if (end > from && body[end - 1] == '\r') --end;
            return end;
        };
        std::size_t first = boundary.empty() ? std::string_view::npos : find_delimiter(0);
        std::string_view preamble = first == std::string_view::npos ? body : body.substr(0, text_end(0, first));
        if (!Strip(preamble).empty()) {
            std::string_view text;
            if (message_level == 0 || decode) text = Utf8Text(preamble, Encoding::kIdentity, charset);
            out_.parts.push_back({"text/x-preamble", charset, text, depth, message_level, {}});
        }
        if (first == std::string_view::npos) return;
        while (status_.ok() && !close) {
            std::size_t part_start = line_end;
            std::size_t next = part_start >= body.size() ? std::string_view::npos : find_delimiter(part_start);
            std::size_t part_end = next == std::string_view::npos ? body.size() : text_end(part_start, next);
            if (next == std::string_view::npos && part_start >= body.size()) {
                // A delimiter line at the very end: an empty last part.
                Entity({}, depth + 1, message_level, Role::kPart, decode);
                return;
            }
            // find_delimiter() set close/line_end for `next`; the part in between is read first.
            bool next_close = close;
            std::size_t next_line_end = line_end;
            Entity(body.substr(part_start, part_end - part_start), depth + 1, message_level, Role::kPart, decode);
            if (next == std::string_view::npos) return;
            close = next_close;
            line_end = next_line_end;
        }
    }

    // Decodes the bodies the parsers read: text and message parts, except an HTML part where there
    // is a text/plain one (the text of a message is its first text/plain part; the first HTML part
    // only stands in when there is none) and HTML inside a forwarded report.
    void DecodeBodies() {
        bool plain = false;
        for (const MimePart& p : out_.parts) {
            if (p.message_level == 0 && p.content_type == "text/plain") plain = true;
        }
        bool html_done = plain;
        for (const Pending& pending : pending_) {
            MimePart& part = out_.parts[pending.part];
            if (part.content_type == "text/html") {
                if (html_done || part.message_level > 0) continue;
                html_done = true;
            }
            part.body = Utf8Text(pending.raw, pending.encoding, part.charset);
        }
    }

    // `raw` decoded and in UTF-8: a view of the message when it already is, else of a decoded copy
    // kept in out_.storage.
    std::string_view Utf8Text(std::string_view raw, Encoding encoding, std::string_view charset) {
        std::string_view text = raw;
        if (encoding != Encoding::kIdentity) {
            out_.storage.push_front(Decode(raw, encoding));
            text = out_.storage.front();
        }
        if (!SameInUtf8(text, charset)) {
            out_.storage.push_front(ToUtf8(text, charset));
            text = out_.storage.front();
        }
        return text;
    }

    static constexpr std::size_t kMaxFields = 512;
    const MimeLimits& limits_;
    FlatMessage& out_;
    int entity_count_ = 0;
    absl::Status status_;
    std::vector<Pending> pending_;
};

}  // namespace

absl::StatusOr<FlatMessage> FlattenMessage(std::string_view message, const MimeLimits& limits) {
    FlatMessage flat;
    Flattener flattener(limits, flat);
    if (absl::Status s = flattener.Run(message); !s.ok()) return s;
    return flat;
}

}  // namespace rebound::bounce
