#include "storage/account_store.h"

#include <cstring>

#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::storage {
namespace {

AccountRow ToAccount(const pqxx::row& r) {
    AccountRow a;
    a.id = r[0].as<std::int64_t>();
    a.name = r[1].as<std::string>();
    a.envelope_key_id = r[2].as<std::uint32_t>();
    const std::string retired = r[3].as<std::string>();  // named: views into it outlive the loop header
    for (std::string_view id : Split(retired, ',', /*skip_empty=*/true)) {
        std::uint32_t v = 0;
        if (ParseInt(id, &v)) a.retired_key_ids.push_back(v);
    }
    a.created_at = r[4].as<std::int64_t>();
    return a;
}

// Runs a statement expected to return at most one account row.
template <typename... Args>
absl::StatusOr<AccountRow> OneAccount(pqxx::connection& conn, const char* query, absl::Status if_none, Args&&... args) {
    std::optional<AccountRow> row;
    absl::Status s = Guard(query, [&] {
        pqxx::work tx(conn);
        pqxx::result r = tx.exec_prepared(query, std::forward<Args>(args)...);
        if (!r.empty()) row = ToAccount(r[0]);
        tx.commit();
    });
    if (!s.ok()) return s;
    if (!row) return if_none;
    return *row;
}

}  // namespace

absl::StatusOr<AccountRow> CreateAccount(pqxx::connection& conn, const std::string& name) {
    auto r = OneAccount(conn, "account_create", absl::InternalError("account_create returned nothing"), name);
    if (r.status().code() == absl::StatusCode::kAlreadyExists) {
        return absl::AlreadyExistsError(StrCat("an account named \"", name, "\" exists already"));
    }
    return r;
}

absl::StatusOr<AccountRow> GetAccount(pqxx::connection& conn, std::int64_t id) {
    return OneAccount(conn, "account_get", absl::NotFoundError(StrCat("no account ", id)), id);
}

absl::StatusOr<std::vector<AccountRow>> ListAccounts(pqxx::connection& conn, std::int64_t after_id, int limit) {
    std::vector<AccountRow> rows;
    absl::Status s = Guard("account_list", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("account_list", after_id, limit))
            rows.push_back(ToAccount(r));
    });
    if (!s.ok()) return s;
    return rows;
}

absl::StatusOr<AccountRow> RotateEnvelopeKey(pqxx::connection& conn, std::int64_t id) {
    return OneAccount(conn, "account_rotate_key", absl::NotFoundError(StrCat("no account ", id)), id);
}

absl::StatusOr<AccountRow> RetireEnvelopeKey(pqxx::connection& conn, std::int64_t id, std::uint32_t key_id) {
    auto r = OneAccount(conn, "account_retire_key", absl::FailedPreconditionError(""), id,
                        static_cast<std::int64_t>(key_id));
    if (r.status().code() == absl::StatusCode::kFailedPrecondition && r.status().message().empty()) {
        auto account = GetAccount(conn, id);
        if (!account.ok()) return account.status();
        return absl::FailedPreconditionError(
            StrCat("key_id: only keys older than the current key (", account->envelope_key_id, ") can be retired"));
    }
    return r;
}

absl::StatusOr<std::vector<std::string>> AccountFeedbackDomains(pqxx::connection& conn, std::int64_t id) {
    std::vector<std::string> domains;
    absl::Status s = Guard("account_domains", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("account_domains", id))
            domains.push_back(r[0].as<std::string>());
    });
    if (!s.ok()) return s;
    return domains;
}

absl::Status InsertApiKey(pqxx::connection& conn, std::int64_t account_id, const std::string& prefix,
                          const std::array<unsigned char, 32>& secret_sha256, const std::string& label) {
    return Guard("api_key_insert", [&] {
        pqxx::work tx(conn);
        tx.exec_prepared("api_key_insert", account_id, prefix,
                         pqxx::binarystring(secret_sha256.data(), secret_sha256.size()), label);
        tx.commit();
    });
}

absl::StatusOr<ApiKeyRow> LookupApiKey(pqxx::connection& conn, const std::string& prefix) {
    std::optional<ApiKeyRow> row;
    absl::Status s = Guard("api_key_lookup", [&] {
        pqxx::nontransaction tx(conn);
        pqxx::result r = tx.exec_prepared("api_key_lookup", prefix);
        if (r.empty()) return;
        ApiKeyRow k;
        k.account_id = r[0][0].as<std::int64_t>();
        const pqxx::binarystring hash(r[0][1]);
        if (hash.size() == k.secret_sha256.size()) std::memcpy(k.secret_sha256.data(), hash.data(), hash.size());
        k.revoked = r[0][2].as<bool>();
        row = k;
    });
    if (!s.ok()) return s;
    if (!row) return absl::NotFoundError("no such API key");
    return *row;
}

absl::StatusOr<std::int64_t> RevokeApiKey(pqxx::connection& conn, const std::string& prefix) {
    std::optional<std::int64_t> account;
    absl::Status s = Guard("api_key_revoke", [&] {
        pqxx::work tx(conn);
        pqxx::result r = tx.exec_prepared("api_key_revoke", prefix);
        if (!r.empty()) account = r[0][0].as<std::int64_t>();
        tx.commit();
    });
    if (!s.ok()) return s;
    if (!account) return absl::NotFoundError("no API key with this prefix");
    return *account;
}

}  // namespace rebound::storage
