// rebound token: mint and inspect envelope addresses (services/envelope).

#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/cli/command.h"
#include "services/common/json.h"
#include "services/common/strings.h"
#include "services/envelope/codec.h"
#include "services/envelope/day.h"
#include "services/envelope/keys.h"
#include "storage/database.h"
#include "storage/message_store.h"

namespace rebound::cli {
namespace {

constexpr std::string_view kUsage =
    "usage: rebound token encode --mailing N --recipient N --domain D [--account A] [--key-id K]\n"
    "                            [--day YYYY-MM-DD]\n"
    "       rebound token decode ADDRESS [--account A] [--key-id K] [--retired K,...]\n"
    "                            [--today YYYY-MM-DD]\n"
    "       rebound token keygen\n"
    "\n"
    "encode prints the envelope address of one recipient of a mailing, minted with key K\n"
    "(default 1) of account A on day --day (default today, UTC).\n"
    "\n"
    "decode verifies ADDRESS (local@domain, or a bare local part) against account A, whose\n"
    "current key is K (default 1) and whose retired keys are listed with --retired, as of\n"
    "--today (default today, UTC). It prints JSON: address, status (valid, stale, forged,\n"
    "malformed, unknown_key, retired_key), stale, account, key_id, mailing, recipient, issued,\n"
    "version. Exit status 0 when the address is attributed (valid, or stale: authentic but\n"
    "older than envelope.stale_after_days), 1 otherwise.\n"
    "\n"
    "keygen prints a new random master key (64 hex digits) for REBOUND_MASTER_KEY.\n"
    "\n"
    "Without --account, the account and its key state (current and retired keys) are\n"
    "looked up from the feedback domain in the configured database; with --account the\n"
    "command works offline from --key-id and --retired. The master key comes from the\n"
    "configuration (envelope.master_key, or the environment variable REBOUND_MASTER_KEY, hex).\n";

constexpr std::size_t kMaxDomainLength = 253;
constexpr std::size_t kMaxEchoedAddress = 256;
// RFC 5321 4.5.3.1.3: a path is at most 256 octets including the angle brackets.
constexpr std::size_t kMaxAddressLength = 254;

// A DNS name as used after '@': labels of a-z, 0-9, '-' (not at either end), 1-63 octets.
bool ValidDomain(std::string_view domain) {
    if (domain.empty() || domain.size() > kMaxDomainLength) return false;
    for (std::string_view label : Split(domain, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            if (!ok) return false;
        }
    }
    return true;
}

// Options of both subcommands; "--name value" and "--name=value".
struct Options {
    std::vector<std::string> positional;
    std::optional<std::string> mailing, recipient, domain, account, key_id, day, retired, today;
};

int UsageError(std::string_view message) {
    std::cerr << "rebound token: " << message << "\n(see rebound token --help)\n";
    return kExitUsage;
}

int Failure(std::string_view message) {
    std::cerr << "rebound token: " << message << "\n";
    return kExitFailure;
}

// Returns an exit status if parsing must stop (help or usage error).
std::optional<int> ParseOptions(const std::vector<std::string>& args, std::size_t start, Options* opts) {
    const std::pair<std::string_view, std::optional<std::string>*> table[] = {
        {"--mailing", &opts->mailing}, {"--recipient", &opts->recipient}, {"--domain", &opts->domain},
        {"--account", &opts->account}, {"--key-id", &opts->key_id},       {"--day", &opts->day},
        {"--retired", &opts->retired}, {"--today", &opts->today},
    };
    for (std::size_t i = start; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "-h" || arg == "--help") {
            std::cout << kUsage;
            return kExitOk;
        }
        if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
            opts->positional.push_back(arg);
            continue;
        }
        const std::size_t eq = arg.find('=');
        const std::string_view name = std::string_view(arg).substr(0, eq);
        std::optional<std::string>* slot = nullptr;
        for (const auto& [option, target] : table)
            if (option == name) slot = target;
        if (slot == nullptr) return UsageError(StrCat("unknown option ", name));
        if (slot->has_value()) return UsageError(StrCat(name, " given twice"));
        if (eq != std::string::npos) {
            *slot = arg.substr(eq + 1);
        } else if (i + 1 < args.size()) {
            *slot = args[++i];
        } else {
            return UsageError(StrCat(name, " needs a value"));
        }
    }
    return std::nullopt;
}

template <typename T>
std::optional<int> ParseNumber(const std::optional<std::string>& text, std::string_view name, T fallback, T* out) {
    if (!text) {
        *out = fallback;
        return std::nullopt;
    }
    if (!ParseInt(*text, out)) return UsageError(StrCat(name, " must be a number from 0 to ", ~T{0}));
    return std::nullopt;
}

absl::StatusOr<envelope::Codec> MakeCodec(const Context& context) {
    absl::StatusOr<config::Config> cfg = context.LoadConfig();
    if (!cfg.ok()) return absl::InvalidArgumentError(StrCat("configuration: ", cfg.status().message()));
    if (cfg->envelope.master_key.empty()) {
        return absl::FailedPreconditionError(
            "no master key configured: set REBOUND_MASTER_KEY (hex, at least 64 digits) or envelope.master_key");
    }
    auto codec = envelope::Codec::Create(cfg->envelope.master_key, cfg->envelope.prefix,
                                         static_cast<std::uint32_t>(cfg->envelope.stale_after_days));
    if (!codec.ok()) return absl::InvalidArgumentError(StrCat("envelope configuration: ", codec.status().message()));
    return codec;
}

// The account and key state of a feedback domain, from the configured database.
absl::StatusOr<envelope::AccountKeys> KeysOfDomain(const Context& context, const std::string& domain) {
    absl::StatusOr<config::Config> cfg = context.LoadConfig();
    if (!cfg.ok()) return cfg.status();
    auto conn = storage::Connect(config::DatabaseUrl(*cfg));
    if (!conn.ok()) {
        return absl::UnavailableError(
            StrCat("cannot look the domain up (", conn.status().message(), "); give --account to work offline"));
    }
    auto row = storage::FindFeedbackDomain(**conn, domain);
    if (!row.ok()) return row.status();
    return envelope::AccountKeys{static_cast<std::uint64_t>(row->account_id), row->current_key_id,
                                 row->retired_key_ids};
}

int RunEncode(const Context& context, const Options& opts) {
    if (!opts.positional.empty()) return UsageError(StrCat("unexpected argument \"", opts.positional[0], "\""));
    if (opts.retired || opts.today) return UsageError("--retired and --today belong to decode");
    if (!opts.mailing || !opts.recipient || !opts.domain)
        return UsageError("encode needs --mailing, --recipient and --domain");
    envelope::AccountKeys keys;
    std::uint64_t mailing = 0;
    std::uint64_t recipient = 0;
    if (auto e = ParseNumber<std::uint64_t>(opts.mailing, "--mailing", 0, &mailing)) return *e;
    if (auto e = ParseNumber<std::uint64_t>(opts.recipient, "--recipient", 0, &recipient)) return *e;
    const std::string domain = AsciiLower(*opts.domain);
    if (!ValidDomain(domain)) return UsageError("--domain must be a domain name such as feedback.example.com");
    if (auto e = ParseNumber<std::uint64_t>(opts.account, "--account", 1, &keys.account_id)) return *e;
    if (auto e = ParseNumber<std::uint32_t>(opts.key_id, "--key-id", 1, &keys.current_key_id)) return *e;
    if (!opts.account && opts.key_id) {
        return UsageError("--key-id needs --account (otherwise the account's current key is used)");
    }
    std::uint32_t day = envelope::Today();
    if (opts.day) {
        std::optional<std::uint32_t> parsed = envelope::ParseDay(*opts.day);
        if (!parsed) return UsageError("--day must be a date YYYY-MM-DD from 1970-01-01 on");
        day = *parsed;
    }
    absl::StatusOr<envelope::Codec> codec = MakeCodec(context);
    if (!codec.ok()) return Failure(std::string(codec.status().message()));
    if (!opts.account) {
        absl::StatusOr<envelope::AccountKeys> found = KeysOfDomain(context, domain);
        if (!found.ok()) return Failure(std::string(found.status().message()));
        keys = *found;
    }
    absl::StatusOr<std::string> local = codec->EncodeLocalPart(keys, mailing, recipient, day);
    if (!local.ok()) return Failure(std::string(local.status().message()));
    if (local->size() + 1 + domain.size() > kMaxAddressLength) {
        return Failure(StrCat("the address would be longer than ", kMaxAddressLength, " octets: use a shorter domain"));
    }
    std::cout << *local << "@" << domain << "\n";
    return kExitOk;
}

int RunDecode(const Context& context, const Options& opts) {
    if (opts.positional.size() != 1) return UsageError("decode needs exactly one ADDRESS");
    if (opts.mailing || opts.recipient || opts.domain || opts.day) {
        return UsageError("--mailing, --recipient, --domain and --day belong to encode");
    }
    envelope::AccountKeys keys;
    if (auto e = ParseNumber<std::uint64_t>(opts.account, "--account", 1, &keys.account_id)) return *e;
    if (auto e = ParseNumber<std::uint32_t>(opts.key_id, "--key-id", 1, &keys.current_key_id)) return *e;
    if (!opts.account && (opts.key_id || opts.retired)) {
        return UsageError("--key-id and --retired need --account (otherwise they come from the database)");
    }
    if (opts.retired) {
        for (std::string_view part : Split(*opts.retired, ',', /*skip_empty=*/true)) {
            std::uint32_t id = 0;
            if (!ParseInt(StripWhitespace(part), &id)) return UsageError("--retired must be key ids like 1,2,3");
            if (keys.retired_key_ids.size() == envelope::kMaxRetiredKeyIds) {
                return UsageError(StrCat("--retired lists more than ", envelope::kMaxRetiredKeyIds, " key ids"));
            }
            keys.retired_key_ids.push_back(id);
        }
    }
    std::uint32_t today = envelope::Today();
    if (opts.today) {
        std::optional<std::uint32_t> parsed = envelope::ParseDay(*opts.today);
        if (!parsed) return UsageError("--today must be a date YYYY-MM-DD from 1970-01-01 on");
        today = *parsed;
    }
    std::string_view address = opts.positional[0];
    if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
        address = address.substr(1, address.size() - 2);
    }
    std::string_view local = address;
    std::string_view domain;
    if (address.find('@') != std::string_view::npos && !envelope::SplitAddress(address, &local, &domain)) {
        local = address;  // "@x" or "x@": decodes as malformed
    }
    if (!opts.account && domain.empty()) return UsageError("a bare local part needs --account");
    absl::StatusOr<envelope::Codec> codec = MakeCodec(context);
    if (!codec.ok()) return Failure(std::string(codec.status().message()));
    if (!opts.account) {
        absl::StatusOr<envelope::AccountKeys> found = KeysOfDomain(context, AsciiLower(domain));
        if (!found.ok()) return Failure(std::string(found.status().message()));
        keys = *found;
    }
    const envelope::Decoded d = codec->DecodeLocalPart(local, keys, today);
    const bool attributed = envelope::IsAttributed(d.status);

    common::JsonWriter json;
    json.BeginObject();
    json.Field("address", address.substr(0, kMaxEchoedAddress));
    json.Field("status", envelope::TokenStatusName(d.status));
    json.Field("stale", d.status == envelope::TokenStatus::kStale);
    json.Field("account", keys.account_id);
    if (attributed) {
        json.Field("key_id", static_cast<std::uint64_t>(d.token.key_id));
        json.Field("mailing", d.token.mailing_id);
        json.Field("recipient", d.token.recipient_id);
        json.Field("issued", envelope::FormatDay(d.token.issued_day));
        json.Field("version", static_cast<std::uint64_t>(d.token.version));
    } else {
        for (const char* key : {"key_id", "mailing", "recipient", "issued", "version"})
            json.Key(key).Null();
    }
    json.EndObject();
    std::cout << json.str() << "\n";
    return attributed ? kExitOk : kExitFailure;
}

int RunToken(const Context& context, const std::vector<std::string>& args) {
    if (args.empty()) return UsageError("missing subcommand: encode or decode");
    if (args[0] == "-h" || args[0] == "--help") {
        std::cout << kUsage;
        return kExitOk;
    }
    if (args[0] == "keygen") {
        if (args.size() > 1) return UsageError("keygen takes no arguments");
        absl::StatusOr<std::string> key = envelope::GenerateMasterKeyHex();
        if (!key.ok()) return Failure(std::string(key.status().message()));
        std::cout << *key << "\n";
        return kExitOk;
    }
    if (args[0] != "encode" && args[0] != "decode") return UsageError(StrCat("unknown subcommand \"", args[0], "\""));
    Options opts;
    if (std::optional<int> stop = ParseOptions(args, 1, &opts)) return *stop;
    return args[0] == "encode" ? RunEncode(context, opts) : RunDecode(context, opts);
}

}  // namespace

REBOUND_CLI_COMMAND(token, "mint and verify envelope addresses (VERP tokens)", RunToken);

}  // namespace rebound::cli
