#include "storage/suppression_store.h"

#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::storage {
namespace {

SuppressionRow ToRow(const pqxx::row& r) {
    SuppressionRow s;
    s.address = r[0].as<std::string>();
    s.recipient_id = static_cast<std::uint64_t>(r[1].as<std::int64_t>());
    s.cause = r[2].as<std::string>();
    s.reason = r[3].as<std::string>();
    s.event_id = r[4].as<std::int64_t>();
    s.created_us = r[5].as<std::int64_t>();
    return s;
}

std::optional<std::int64_t> IdOrNull(std::uint64_t id) {
    if (id == 0) return std::nullopt;
    return static_cast<std::int64_t>(id);
}

}  // namespace

absl::StatusOr<std::vector<SuppressionRow>> ListSuppressions(pqxx::connection& conn, std::int64_t account,
                                                             const std::string& after,
                                                             const std::optional<std::string>& cause, int limit) {
    std::vector<SuppressionRow> out;
    absl::Status s = Guard("suppressions_list", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("suppressions_list", account, after, cause, limit))
            out.push_back(ToRow(r));
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<std::vector<std::string>> SuppressedAddresses(pqxx::connection& conn, std::int64_t account,
                                                             const std::vector<std::string>& addresses) {
    std::vector<std::string> out;
    if (addresses.empty()) return out;
    std::string joined;
    for (std::size_t i = 0; i < addresses.size(); ++i)
        StrAppend(&joined, i == 0 ? "" : "\n", addresses[i]);
    absl::Status s = Guard("suppressions_check_addresses", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("suppressions_check_addresses", account, joined)) {
            out.push_back(r[0].as<std::string>());
        }
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<std::vector<std::uint64_t>> SuppressedRecipientIds(pqxx::connection& conn, std::int64_t account,
                                                                  const std::vector<std::uint64_t>& ids) {
    std::vector<std::uint64_t> out;
    if (ids.empty()) return out;
    std::string array = "{";
    for (std::size_t i = 0; i < ids.size(); ++i)
        StrAppend(&array, i == 0 ? "" : ",", static_cast<std::int64_t>(ids[i]));
    array += "}";
    absl::Status s = Guard("suppressions_check_ids", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("suppressions_check_ids", account, array)) {
            out.push_back(static_cast<std::uint64_t>(r[0].as<std::int64_t>()));
        }
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<SuppressionRow> AddSuppression(pqxx::connection& conn, std::int64_t account, const std::string& address,
                                              std::uint64_t recipient_id, const std::string& reason) {
    std::optional<SuppressionRow> row;
    absl::Status s = Guard("suppression_add", [&] {
        pqxx::work tx(conn);
        pqxx::result r = tx.exec_prepared("suppression_add", account, address, IdOrNull(recipient_id), reason);
        if (!r.empty()) row = ToRow(r[0]);
        tx.commit();
    });
    if (!s.ok()) return s;
    if (!row) return absl::AlreadyExistsError(StrCat(address, " is suppressed already"));
    return *row;
}

absl::StatusOr<SuppressionRow> RemoveSuppression(pqxx::connection& conn, std::int64_t account,
                                                 const std::string& address, const std::string& reason) {
    std::optional<SuppressionRow> row;
    absl::Status s = Guard("suppression_remove", [&] {
        pqxx::work tx(conn);
        pqxx::result r = tx.exec_prepared("suppression_remove", account, address, reason);
        if (!r.empty()) row = ToRow(r[0]);
        tx.commit();
    });
    if (!s.ok()) return s;
    if (!row) return absl::NotFoundError(StrCat(address, " is not suppressed"));
    return *row;
}

absl::StatusOr<PolicyRow> GetPolicy(pqxx::connection& conn, std::int64_t account) {
    PolicyRow p;
    absl::Status s = Guard("policy_get", [&] {
        pqxx::nontransaction tx(conn);
        pqxx::result r = tx.exec_prepared("policy_get", account);
        if (!r.empty()) p = {r[0][0].as<int>(), r[0][1].as<int>(), r[0][2].as<bool>()};
    });
    if (!s.ok()) return s;
    return p;
}

absl::Status SetPolicy(pqxx::connection& conn, std::int64_t account, const PolicyRow& p) {
    return Guard("policy_set", [&] {
        pqxx::work tx(conn);
        tx.exec_prepared("policy_set", account, p.soft_bounce_threshold, p.soft_bounce_window_days,
                         p.suppress_complaints);
        tx.commit();
    });
}

}  // namespace rebound::storage
