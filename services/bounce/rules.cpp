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

// Lower-case with runs of whitespace collapsed to one space.
std::string Normalize(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool space = false;
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
    }
    return out;
}

std::uint32_t GramHash(unsigned char a, unsigned char b, unsigned char c) {
    std::uint32_t h = (static_cast<std::uint32_t>(a) * 0x9E3779B1u) ^ (static_cast<std::uint32_t>(b) * 0x85EBCA77u) ^
                      (static_cast<std::uint32_t>(c) * 0xC2B2AE3Du);
    h ^= h >> 15;
    std::uint32_t v = h & ((1u << 15) - 1);
    return v == 0 ? 1 : v;  // 0 means "no filter"
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

RuleSet::TextIndex::TextIndex(std::string_view t) {
    Reset(t);
}

void RuleSet::TextIndex::Reset(std::string_view t) {
    text = t;
    grams.reset();
    const auto* d = reinterpret_cast<const unsigned char*>(t.data());
    for (std::size_t i = 0; i + 2 < t.size(); ++i)
        grams.set(GramHash(d[i], d[i + 1], d[i + 2]));
}

namespace {
// One index per thread, re-used by each Classify/MatchText call (neither calls the other).
RuleSet::TextIndex& ScratchIndex(std::string_view text) {
    thread_local std::unique_ptr<RuleSet::TextIndex> index;
    if (index == nullptr) {
        index = std::make_unique<RuleSet::TextIndex>(text);
    } else {
        index->Reset(text);
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
            rules->host_rules_.push_back(
                {std::string(w[1]), std::string(w[3]), LowerAscii(w[2]), std::move(pieces), gram, gram2});
            ids.emplace_back(w[1]);
        } else {
            return error(StrCat("cannot parse \"", line, "\""));
        }
    }
    if (rules->version_.empty()) return absl::InvalidArgumentError("rules: no version line");
    for (std::size_t i = 0; i < rules->text_rules_.size(); ++i) {
        const std::string& reason = rules->text_rules_[i].reason;
        auto it = std::find_if(rules->by_reason_.begin(), rules->by_reason_.end(),
                               [&](const auto& p) { return p.first == reason; });
        if (it == rules->by_reason_.end()) {
            rules->by_reason_.push_back({reason, {}});
            it = rules->by_reason_.end() - 1;
        }
        it->second.push_back(i);
    }
    std::sort(ids.begin(), ids.end());
    if (auto dup = std::adjacent_find(ids.begin(), ids.end()); dup != ids.end()) {
        return absl::InvalidArgumentError(StrCat("rules: duplicate id ", *dup));
    }
    for (std::string_view r : kReasonVocabulary) {
        if (rules->FindOutcome(r) == nullptr) return absl::InvalidArgumentError(StrCat("rules: no outcome for ", r));
    }
    return rules;
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
    for (const StatusRule& r : status_rules_) {
        if (r.code == status) {
            if (rule_id != nullptr) *rule_id = r.id;
            return r.reason;
        }
    }
    return {};
}

const std::vector<std::size_t>* RuleSet::RulesFor(std::string_view reason) const {
    for (const auto& [r, list] : by_reason_) {
        if (r == reason) return &list;
    }
    return nullptr;
}

bool RuleSet::TextMatches(std::string_view reason, const TextIndex& index, std::string* rule_id) const {
    if (index.text.empty()) return false;
    const std::vector<std::size_t>* list = RulesFor(reason);
    if (list == nullptr) return false;
    for (std::size_t i : *list) {
        const TextRule& r = text_rules_[i];
        if (index.MayMatch(r) && PiecesMatch(index.text, r.pieces)) {
            if (rule_id != nullptr) *rule_id = r.id;
            return true;
        }
    }
    return false;
}

std::string RuleSet::MatchText(std::string_view reason, std::string_view lower_text) const {
    std::string id;
    std::string normalized = Normalize(lower_text);
    const TextIndex& index = ScratchIndex(normalized);
    return TextMatches(reason, index, &id) ? id : std::string();
}

Decision RuleSet::Classify(const ClassifyInput& in) const {
    Decision d;
    auto finish = [&](std::string_view reason, std::string_view id) {
        d.reason = std::string(reason);
        d.rule_id = std::string(id);
        d.outcome = FindOutcome(reason);
        return d;
    };
    const std::string text = Normalize(in.diagnostic);
    const TextIndex& index = ScratchIndex(text);
    auto is_retry = [&](std::string_view r) {
        return std::find(retry_reasons_.begin(), retry_reasons_.end(), r) != retry_reasons_.end();
    };

    // 1. Provider rules, keyed by the remote host.
    {
        std::string host = LowerAscii(in.remote_host);
        std::string rcpt_domain = LowerAscii(in.recipient.substr(in.recipient.rfind('@') + 1));
        std::string reporting = LowerAscii(in.reporting_host);
        for (const TextRule& r : host_rules_) {
            if (r.host.starts_with("rcpt:")) {
                if (in.recipient.empty() || !rcpt_domain.ends_with(r.host.substr(5))) continue;
            } else if (r.host.starts_with("reporting:")) {
                // The format of the provider that wrote the bounce, whoever the remote host was.
                if (reporting.empty() || reporting.find(r.host.substr(10)) == std::string::npos) continue;
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
        for (const std::string& reason : primary_order_) {
            std::string id;
            if (status_reason == reason) {
                const Guard* sy = FindGuard("statusyield", reason);
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
                    yielded = TextMatches(v, index, &id);
                    which = i;
                }
                if (!yielded) return finish(reason, status_id);
                return finish(std::string_view(sy->values[which]).substr(0, sy->values[which].find('@')), id);
            }
            if (listed(FindGuard("yield", reason), status_reason)) continue;
            const Guard* tc = FindGuard("textcommand", reason);
            if ((tc == nullptr || listed(tc, in.smtp_command)) && TextMatches(reason, index, &id)) {
                return finish(reason, id);
            }
            if (const Guard* b = FindGuard("borrow", reason);
                b != nullptr && !listed(b, in.smtp_command) && TextMatches(b->other, index, &id)) {
                return finish(reason, StrCat(id, "/", reason));
            }
        }
    }
    // 5. The status code, unless it is vague; then the secondary text order.
    if (!status_reason.empty() && status_reason != "userunknown" && !is_retry(status_reason)) {
        return finish(status_reason, status_id);
    }
    for (const std::string& reason : secondary_order_) {
        std::string id;
        if (TextMatches(reason, index, &id)) return finish(reason, id);
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
