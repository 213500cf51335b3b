#include "services/bounce/rules.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "services/bounce/rules_embedded.h"
#include "services/bounce/search.h"
#include "services/common/strings.h"

namespace rebound::bounce {
namespace {

constexpr std::string_view kReasonVocabulary[] = {
    "userunknown",    "hostunknown", "mailboxfull",   "mesgtoobig",      "exceedlimit",     "filtered",
    "rejected",       "blocked",     "spamdetected",  "virusdetected",   "policyviolation", "securityerror",
    "authfailure",    "requireptr",  "badreputation", "notcompliantrfc", "expired",         "networkerror",
    "toomanyconn",    "speeding",    "systemerror",   "systemfull",      "mailererror",     "norelaying",
    "notaccept",      "onhold",      "suspend",       "hasmoved",        "contenterror",    "syntaxerror",
    "failedstarttls", "undefined",   "delivered",     "vacation",        "feedback",        "delayed"};

bool KnownReason(std::string_view r) {
    return std::find(std::begin(kReasonVocabulary), std::end(kReasonVocabulary), r) != std::end(kReasonVocabulary);
}

std::vector<std::string_view> Words(std::string_view line) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
    }
    return words;
}

// The rest of the line after `n` words.
std::string_view RestAfterWords(std::string_view line, int n) {
    std::size_t i = 0;
    for (int w = 0; w < n; ++w) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
    }
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    return line.substr(i);
}

// "a*b*c" -> {"a","b","c"}; a literal '*' cannot be expressed (none is needed).
std::vector<std::string> Pieces(std::string_view pattern) {
    std::vector<std::string> pieces;
    for (std::string_view p : Split(pattern, '*')) {
        if (!p.empty()) pieces.push_back(LowerAscii(p));
    }
    return pieces;
}

// A byte as the rules see it: ASCII A-Z lowered, the whitespace of Normalize (tab, CR, LF) a space.
constexpr std::array<unsigned char, 256> kRuleByte = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 256; ++c)
        t[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    t['\t'] = t['\r'] = t['\n'] = ' ';
    return t;
}();

// 15-bit hash of the 3 bytes in the low 24 bits of `window` (Fibonacci hashing: one multiply).
// A rule gram that hashes to 0 ("no filter") only filters nothing.
std::uint32_t WindowHash(std::uint32_t window) {
    return (window * 0x9E3779B1u) >> 17;
}

std::uint32_t GramHash(unsigned char a, unsigned char b, unsigned char c) {
    return WindowHash((static_cast<std::uint32_t>(a) << 16) | (static_cast<std::uint32_t>(b) << 8) | c);
}

// Hashes of the first and last 3 bytes of the longest piece (0 when it is shorter than 3).
std::pair<std::uint32_t, std::uint32_t> RuleGrams(const std::vector<std::string>& pieces) {
    const std::string* longest = nullptr;
    for (const std::string& p : pieces) {
        if (longest == nullptr || p.size() > longest->size()) longest = &p;
    }
    if (longest == nullptr || longest->size() < 3) return {0, 0};
    const auto* d = reinterpret_cast<const unsigned char*>(longest->data());
    std::size_t n = longest->size();
    return {GramHash(d[0], d[1], d[2]), GramHash(d[n - 3], d[n - 2], d[n - 1])};
}

}  // namespace

RuleSet::TextIndex::TextIndex(std::string_view raw) {
    Reset(raw);
}

// The text lower-cased with runs of whitespace collapsed to one space and no outer blanks (never
// longer than `raw`), and its 3-grams hashed in the same pass. Bits set for windows that start before
// the text or end in a trailing blank are extra: the bitset only ever skips rules, so an extra bit
// costs a search, never a result.
void RuleSet::TextIndex::Reset(std::string_view raw) {
    grams.fill(0);
    grams[0] = 1;
    normalized.resize(raw.size());
    char* const begin = normalized.data();
    char* o = begin;
    std::uint32_t window = 0;
    for (char ch : raw) {
        unsigned char c = kRuleByte[static_cast<unsigned char>(ch)];
        if (c == ' ' && (o == begin || o[-1] == ' ')) continue;
        *o++ = static_cast<char>(c);
        window = ((window << 8) | c) & 0xFFFFFFu;
        std::uint32_t h = WindowHash(window);
        grams[h >> 6] |= std::uint64_t{1} << (h & 63);
    }
    if (o != begin && o[-1] == ' ') --o;
    normalized.resize(static_cast<std::size_t>(o - begin));
    text = normalized;
}

namespace {
// One index per thread, re-used by each Classify/MatchText call (neither calls the other).
RuleSet::TextIndex& ScratchIndex(std::string_view raw) {
    thread_local std::unique_ptr<RuleSet::TextIndex> index;
    if (index == nullptr) {
        index = std::make_unique<RuleSet::TextIndex>(raw);
    } else {
        index->Reset(raw);
    }
    return *index;
}
}  // namespace

bool PiecesMatch(std::string_view text, const std::vector<std::string>& pieces) {
    std::size_t pos = 0;
    for (const std::string& p : pieces) {
        std::size_t at = FindBytes(text, p, pos);
        if (at == std::string_view::npos) return false;
        pos = at + p.size();
    }
    return true;
}

absl::StatusOr<std::unique_ptr<RuleSet>> RuleSet::Parse(std::string_view text) {
    auto rules = std::make_unique<RuleSet>();
    int line_no = 0;
    std::vector<std::string> ids;
    for (std::string_view raw : Split(text, '\n')) {
        ++line_no;
        std::string_view line = StripWhitespace(raw);
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string_view> w = Words(line);
        auto error = [&](std::string_view what) {
            return absl::InvalidArgumentError(StrCat("rules line ", line_no, ": ", what));
        };
        auto check_reason = [&](std::string_view r) { return KnownReason(r); };
        if (w[0] == "version" && w.size() == 2) {
            rules->version_ = std::string(w[1]);
        } else if (w[0] == "outcome" && w.size() == 6) {
            Outcome o;
            o.reason = std::string(w[1]);
            if (!check_reason(o.reason)) return error("unknown reason");
            if (!ParseInt(w[2], &o.bounce_class)) return error("bad bounce class");
            o.disposition = std::string(w[3]);
            o.hard = std::string(w[4]);
            if (o.hard != "yes" && o.hard != "no" && o.hard != "permanent")
                return error("hard must be yes|no|permanent");
            o.pseudo_status = std::string(w[5]);
            rules->outcomes_.push_back(std::move(o));
        } else if (w[0] == "order" && w.size() >= 3) {
            std::vector<std::string>* list = w[1] == "primary"     ? &rules->primary_order_
                                             : w[1] == "secondary" ? &rules->secondary_order_
                                             : w[1] == "retry"     ? &rules->retry_reasons_
                                                                   : nullptr;
            if (list == nullptr) return error("order must be primary|secondary|retry");
            for (std::size_t i = 2; i < w.size(); ++i) {
                if (!check_reason(w[i])) return error(StrCat("unknown reason ", w[i]));
                list->emplace_back(w[i]);
            }
        } else if ((w[0] == "textcommand" || w[0] == "yield" || w[0] == "statusyield") && w.size() >= 3) {
            if (!check_reason(w[1])) return error("unknown reason");
            Guard g{std::string(w[0]), std::string(w[1]), "", {}};
            for (std::size_t i = 2; i < w.size(); ++i)
                g.values.emplace_back(w[i]);
            rules->guards_.push_back(std::move(g));
        } else if (w[0] == "borrow" && w.size() >= 4) {
            if (!check_reason(w[1]) || !check_reason(w[2])) return error("unknown reason");
            Guard g{"borrow", std::string(w[1]), std::string(w[2]), {}};
            for (std::size_t i = 3; i < w.size(); ++i)
                g.values.emplace_back(w[i]);
            rules->guards_.push_back(std::move(g));
        } else if (w[0] == "status" && w.size() == 4) {
            if (!check_reason(w[3])) return error("unknown reason");
            rules->status_rules_.push_back({std::string(w[1]), std::string(w[2]), std::string(w[3])});
            ids.emplace_back(w[1]);
        } else if (w[0] == "text" && w.size() >= 4) {
            if (!check_reason(w[2])) return error("unknown reason");
            std::vector<std::string> pieces = Pieces(RestAfterWords(line, 3));
            if (pieces.empty()) return error("empty pattern");
            auto [gram, gram2] = RuleGrams(pieces);
            rules->text_rules_.push_back({std::string(w[1]), std::string(w[2]), "", std::move(pieces), gram, gram2});
            ids.emplace_back(w[1]);
        } else if ((w[0] == "format" || w[0].starts_with("format@")) && w.size() >= 4) {
            if (!check_reason(w[2])) return error("unknown reason");
            std::vector<std::string> pieces = Pieces(RestAfterWords(line, 3));
            if (pieces.empty()) return error("empty pattern");
            auto [gram, gram2] = RuleGrams(pieces);
            std::string command = w[0].size() > 7 ? std::string(w[0].substr(7)) : std::string();
            rules->format_rules_.push_back(
                {std::string(w[1]), std::string(w[2]), "", std::move(pieces), gram, gram2, std::move(command)});
            ids.emplace_back(w[1]);
        } else if (w[0] == "host" && w.size() >= 5) {
            if (!check_reason(w[3])) return error("unknown reason");
            std::string_view pattern = RestAfterWords(line, 4);
            std::vector<std::string> pieces = pattern == "*" ? std::vector<std::string>{} : Pieces(pattern);
            auto [gram, gram2] = RuleGrams(pieces);
            std::string host = LowerAscii(w[2]);
            TextRule::HostKind kind = TextRule::HostKind::kRemote;
            if (host.starts_with("rcpt:")) {
                kind = TextRule::HostKind::kRecipient;
                host.erase(0, 5);
            } else if (host.starts_with("reporting:")) {
                kind = TextRule::HostKind::kReporting;
                host.erase(0, 10);
            }
            rules->host_rules_.push_back({std::string(w[1]), std::string(w[3]), std::move(host), std::move(pieces),
                                          gram, gram2, std::string(), kind});
            ids.emplace_back(w[1]);
        } else {
            return error(StrCat("cannot parse \"", line, "\""));
        }
    }
    if (rules->version_.empty()) return absl::InvalidArgumentError("rules: no version line");
    rules->Plan();
    std::sort(ids.begin(), ids.end());
    if (auto dup = std::adjacent_find(ids.begin(), ids.end()); dup != ids.end()) {
        return absl::InvalidArgumentError(StrCat("rules: duplicate id ", *dup));
    }
    for (std::string_view r : kReasonVocabulary) {
        if (rules->FindOutcome(r) == nullptr) return absl::InvalidArgumentError(StrCat("rules: no outcome for ", r));
    }
    return rules;
}

void RuleSet::Plan() {
    std::vector<std::string> reasons;
    for (const TextRule& r : text_rules_) {
        if (std::find(reasons.begin(), reasons.end(), r.reason) == reasons.end()) reasons.push_back(r.reason);
    }
    std::vector<TextRule> grouped;
    grouped.reserve(text_rules_.size());
    by_reason_.clear();
    for (const std::string& reason : reasons) {
        Range range{grouped.size(), grouped.size()};
        for (TextRule& r : text_rules_) {
            if (r.reason == reason) grouped.push_back(std::move(r));
        }
        range.end = grouped.size();
        by_reason_.emplace_back(reason, range);
    }
    text_rules_ = std::move(grouped);
    status_by_code_.clear();
    for (std::size_t i = 0; i < status_rules_.size(); ++i)
        status_by_code_.push_back(static_cast<std::uint32_t>(i));
    std::stable_sort(status_by_code_.begin(), status_by_code_.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return status_rules_[a].code < status_rules_[b].code; });
    // Each rule's distinct 3-grams. The two tested first are those fewest rules share: a gram many
    // rules have ("mai", "ser") is likely in the text too and rejects little.
    std::vector<std::vector<std::uint16_t>> rule_grams;
    std::vector<std::uint32_t> sharing(1 << 15, 0);
    for (const TextRule& r : text_rules_) {
        std::vector<std::uint16_t> grams;
        for (const std::string& piece : r.pieces) {
            const auto* d = reinterpret_cast<const unsigned char*>(piece.data());
            for (std::size_t i = 0; i + 2 < piece.size(); ++i) {
                auto g = static_cast<std::uint16_t>(GramHash(d[i], d[i + 1], d[i + 2]));
                if (std::find(grams.begin(), grams.end(), g) == grams.end()) grams.push_back(g);
            }
        }
        for (std::uint16_t g : grams)
            ++sharing[g];
        rule_grams.push_back(std::move(grams));
    }
    text_grams_.clear();
    text_more_grams_.clear();
    text_more_begin_.clear();
    for (std::vector<std::uint16_t>& grams : rule_grams) {
        auto fewer = [&](std::uint16_t a, std::uint16_t b) { return sharing[a] < sharing[b]; };
        for (std::size_t k = 0; k < 2 && k < grams.size(); ++k) {
            auto rarest = std::min_element(grams.begin() + static_cast<std::ptrdiff_t>(k), grams.end(), fewer);
            std::rotate(grams.begin() + static_cast<std::ptrdiff_t>(k), rarest, rarest + 1);
        }
        // Gram 0 tests nothing (bit 0 is always set), as for a rule without grams.
        text_grams_.emplace_back(grams.empty() ? 0 : grams[0], grams.size() < 2 ? 0 : grams[1]);
        text_more_begin_.push_back(static_cast<std::uint32_t>(text_more_grams_.size()));
        if (grams.size() > 2) text_more_grams_.insert(text_more_grams_.end(), grams.begin() + 2, grams.end());
    }
    text_more_begin_.push_back(static_cast<std::uint32_t>(text_more_grams_.size()));
    primary_steps_.clear();
    for (const std::string& reason : primary_order_) {
        Step s;
        s.reason = reason;
        s.rules = RulesFor(reason);
        s.status_yield = FindGuard("statusyield", reason);
        s.yield = FindGuard("yield", reason);
        s.text_command = FindGuard("textcommand", reason);
        s.borrow = FindGuard("borrow", reason);
        if (s.borrow != nullptr) s.borrowed = RulesFor(s.borrow->other);
        primary_steps_.push_back(std::move(s));
    }
    secondary_steps_.clear();
    for (const std::string& reason : secondary_order_)
        secondary_steps_.emplace_back(reason, RulesFor(reason));
}

const RuleSet& RuleSet::Builtin() {
    static const RuleSet* const rules = [] {
        std::string text;
        for (const EmbeddedFile& f : EmbeddedRules())
            text.append(f.content);
        absl::StatusOr<std::unique_ptr<RuleSet>> parsed = Parse(text);
        if (!parsed.ok()) {
            std::cerr << "rebound::bounce: built-in rules are invalid: " << parsed.status().message() << "\n";
            std::abort();
        }
        return parsed->release();
    }();
    return *rules;
}

const RuleSet::Guard* RuleSet::FindGuard(std::string_view kind, std::string_view reason) const {
    for (const Guard& g : guards_) {
        if (g.kind == kind && g.reason == reason) return &g;
    }
    return nullptr;
}

const Outcome* RuleSet::FindOutcome(std::string_view reason) const {
    for (const Outcome& o : outcomes_) {
        if (o.reason == reason) return &o;
    }
    return nullptr;
}

std::string_view RuleSet::StatusReason(std::string_view status, std::string* rule_id) const {
    if (status.empty()) return {};
    // The first rule in file order with this code.
    auto it = std::lower_bound(status_by_code_.begin(), status_by_code_.end(), status,
                               [&](std::uint32_t i, std::string_view code) { return status_rules_[i].code < code; });
    if (it == status_by_code_.end() || status_rules_[*it].code != status) return {};
    const StatusRule& r = status_rules_[*it];
    if (rule_id != nullptr) *rule_id = r.id;
    return r.reason;
}

RuleSet::Range RuleSet::RulesFor(std::string_view reason) const {
    for (const auto& [r, range] : by_reason_) {
        if (r == reason) return range;
    }
    return {};
}

bool RuleSet::TextMatches(Range rules, const TextIndex& index, std::string* rule_id) const {
    if (index.text.empty()) return false;
    for (std::size_t i = rules.begin; i < rules.end; ++i) {
        const auto [gram, gram2] = text_grams_[i];
        if (!index.MayContain(gram) || !index.MayContain(gram2)) continue;
        bool may = true;
        for (std::uint32_t g = text_more_begin_[i]; g < text_more_begin_[i + 1] && may; ++g)
            may = index.MayContain(text_more_grams_[g]);
        if (!may) continue;
        const TextRule& r = text_rules_[i];
        if (PiecesMatch(index.text, r.pieces)) {
            if (rule_id != nullptr) *rule_id = r.id;
            return true;
        }
    }
    return false;
}

std::string RuleSet::MatchText(std::string_view reason, std::string_view lower_text) const {
    std::string id;
    const TextIndex& index = ScratchIndex(lower_text);
    return TextMatches(RulesFor(reason), index, &id) ? id : std::string();
}

Decision RuleSet::Classify(const ClassifyInput& in) const {
    Decision d;
    auto finish = [&](std::string_view reason, std::string_view id) {
        d.reason = std::string(reason);
        d.rule_id = std::string(id);
        d.outcome = FindOutcome(reason);
        return d;
    };
    const TextIndex& index = ScratchIndex(in.diagnostic);
    const std::string_view text = index.text;
    auto is_retry = [&](std::string_view r) {
        return std::find(retry_reasons_.begin(), retry_reasons_.end(), r) != retry_reasons_.end();
    };

    // 1. Provider rules, keyed by the remote host.
    {
        // Lower-cased into buffers kept per thread: one call per record.
        thread_local std::string host;
        thread_local std::string rcpt_domain;
        thread_local std::string reporting;
        LowerAsciiInto(in.remote_host, host);
        LowerAsciiInto(in.recipient.substr(in.recipient.rfind('@') + 1), rcpt_domain);
        LowerAsciiInto(in.reporting_host, reporting);
        for (const TextRule& r : host_rules_) {
            if (r.host_kind == TextRule::HostKind::kRecipient) {
                if (in.recipient.empty() || !rcpt_domain.ends_with(r.host)) continue;
            } else if (r.host_kind == TextRule::HostKind::kReporting) {
                // The format of the provider that wrote the bounce, whoever the remote host was.
                if (reporting.empty() || reporting.find(r.host) == std::string::npos) continue;
            } else if (host.empty() || host.find(r.host) == std::string::npos) {
                continue;
            }
            if (r.pieces.empty() && !StatusReason(in.status).empty()) continue;
            if (r.pieces.empty() || (index.MayMatch(r) && PiecesMatch(text, r.pieces))) return finish(r.reason, r.id);
        }
    }
    // 2. Messages whose wording states the reason whatever the codes say (Sisimai's Lhost tables).
    for (const TextRule& r : format_rules_) {
        if (!r.command.empty() && r.command != in.smtp_command) continue;
        if (index.MayMatch(r) && PiecesMatch(text, r.pieces)) return finish(r.reason, r.id);
    }
    // 3. A reason the format itself states (e.g. an MTA's own "retry timeout exceeded").
    if (!in.format_reason.empty() && !is_retry(in.format_reason)) return finish(in.format_reason, in.format_rule);
    // 3. Successful delivery.
    if (in.status.starts_with("2.")) {
        std::string id;
        StatusReason(in.status, &id);
        return finish("delivered", id.empty() ? "status.2xx" : id);
    }
    std::string status_id;
    const std::string_view status_reason = StatusReason(in.status, &status_id);
    // 4. Reasons decided by status code or text, in the primary order.
    {
        auto listed = [](const Guard* g, std::string_view v) {
            return g != nullptr && std::find(g->values.begin(), g->values.end(), v) != g->values.end();
        };
        for (const Step& step : primary_steps_) {
            const std::string& reason = step.reason;
            std::string id;
            if (status_reason == reason) {
                const Guard* sy = step.status_yield;
                bool yielded = false;
                std::size_t which = 0;
                for (std::size_t i = 0; sy != nullptr && i < sy->values.size() && !yielded; ++i) {
                    // "reason@CMD1,CMD2": only after one of these SMTP commands.
                    std::string_view v = sy->values[i];
                    std::size_t at = v.find('@');
                    if (at != std::string_view::npos) {
                        std::vector<std::string_view> cmds = Split(v.substr(at + 1), ',');
                        if (std::find(cmds.begin(), cmds.end(), in.smtp_command) == cmds.end()) continue;
                        v = v.substr(0, at);
                    }
                    yielded = TextMatches(RulesFor(v), index, &id);
                    which = i;
                }
                if (!yielded) return finish(reason, status_id);
                return finish(std::string_view(sy->values[which]).substr(0, sy->values[which].find('@')), id);
            }
            if (listed(step.yield, status_reason)) continue;
            const Guard* tc = step.text_command;
            if ((tc == nullptr || listed(tc, in.smtp_command)) && TextMatches(step.rules, index, &id)) {
                return finish(reason, id);
            }
            if (const Guard* b = step.borrow;
                b != nullptr && !listed(b, in.smtp_command) && TextMatches(step.borrowed, index, &id)) {
                return finish(reason, StrCat(id, "/", reason));
            }
        }
    }
    // 5. The status code, unless it is vague; then the secondary text order.
    if (!status_reason.empty() && status_reason != "userunknown" && !is_retry(status_reason)) {
        return finish(status_reason, status_id);
    }
    for (const auto& [reason, rules] : secondary_steps_) {
        std::string id;
        if (TextMatches(rules, index, &id)) return finish(reason, id);
    }
    if (!status_reason.empty()) return finish(status_reason, status_id);
    if (in.format_reason.size() > 0) return finish(in.format_reason, in.format_rule);
    std::string_view klass = in.status.substr(0, std::min<std::size_t>(3, in.status.size()));
    if (klass == "5.6" || klass == "4.6") return finish("contenterror", "fallback.x6x");
    if (klass == "5.7" || klass == "4.7") return finish("securityerror", "fallback.x7x");
    if (in.diagnostic_type == "x-unix" || in.diagnostic_type == "x-postfix")
        return finish("mailererror", "fallback.x-unix");
    if (in.reply_code.size() == 3 && (in.reply_code[0] == '4' || in.reply_code[0] == '5') && in.reply_code[1] == '0' &&
        in.reply_code[2] >= '0' && in.reply_code[2] <= '7' && in.reply_code != "500") {
        return finish("syntaxerror", "fallback.50x");
    }
    if (in.action == "delayed" || in.action == "expired") return finish("expired", "fallback.delayed");
    if (in.smtp_command == "EHLO" || in.smtp_command == "HELO") return finish("blocked", "fallback.helo");
    // Refused at the greeting: the server does not talk to this client at all.
    if (in.smtp_command == "CONN" && in.reply_code.starts_with("5")) return finish("blocked", "fallback.conn");
    if (!text.empty()) return finish("onhold", "fallback.onhold");
    return finish("undefined", "fallback.undefined");
}

}  // namespace rebound::bounce
