#include "storage/domain_store.h"

#include <optional>

#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::storage {
namespace {

SenderDomainRow ToRow(const pqxx::row& r) {
    SenderDomainRow d;
    d.id = r[0].as<std::int64_t>();
    d.account_id = r[1].as<std::int64_t>();
    d.domain = r[2].as<std::string>();
    d.feedback_label = r[3].as<std::string>();
    d.feedback_domain = r[4].as<std::string>();
    d.state = r[5].as<std::string>();
    d.state_since_us = r[6].as<std::int64_t>();
    d.last_checked_us = r[7].as<std::int64_t>();
    d.next_check_us = r[8].as<std::int64_t>();
    d.check_failures = r[9].as<int>();
    d.last_outcome = r[10].as<std::string>();
    d.last_check_json = r[11].as<std::string>();
    d.created_us = r[12].as<std::int64_t>();
    return d;
}

}  // namespace

absl::StatusOr<SenderDomainRow> RegisterDomain(pqxx::connection& conn, std::int64_t account, const std::string& domain,
                                               const std::string& label, const std::string& feedback_domain) {
    std::optional<std::int64_t> id;
    absl::Status s = Guard("domain_register", [&] {
        pqxx::work tx(conn);
        pqxx::result r = tx.exec_prepared("domain_register", account, domain, label, feedback_domain);
        if (!r.empty()) id = r[0][0].as<std::int64_t>();
        tx.commit();
    });
    // A concurrent registration of the same name ends in a unique violation instead of no row.
    if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists) return s;
    if (!s.ok() || !id) return absl::AlreadyExistsError(StrCat(feedback_domain, " is registered already"));
    return GetDomain(conn, account, *id);
}

absl::StatusOr<SenderDomainRow> GetDomain(pqxx::connection& conn, std::int64_t account, std::int64_t id) {
    std::optional<SenderDomainRow> row;
    absl::Status s = Guard("domain_get", [&] {
        pqxx::nontransaction tx(conn);
        pqxx::result r = tx.exec_prepared("domain_get", id, account);
        if (!r.empty()) row = ToRow(r[0]);
    });
    if (!s.ok()) return s;
    if (!row) return absl::NotFoundError(StrCat("domain ", id, " not found"));
    return *row;
}

absl::StatusOr<std::vector<SenderDomainRow>> ListDomains(pqxx::connection& conn, std::int64_t account,
                                                         std::int64_t after_id, int limit) {
    std::vector<SenderDomainRow> out;
    absl::Status s = Guard("domain_list", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("domain_list", account, after_id, limit))
            out.push_back(ToRow(r));
    });
    if (!s.ok()) return s;
    return out;
}

absl::Status DeleteDomain(pqxx::connection& conn, std::int64_t account, std::int64_t id) {
    bool deleted = false;
    absl::Status s = Guard("domain_delete", [&] {
        pqxx::work tx(conn);
        deleted = !tx.exec_prepared("domain_delete", id, account).empty();
        tx.commit();
    });
    if (!s.ok()) return s;
    if (!deleted) return absl::NotFoundError(StrCat("domain ", id, " not found"));
    return absl::OkStatus();
}

absl::StatusOr<std::vector<SenderDomainRow>> ClaimDueDomains(pqxx::connection& conn, int limit, int lease_seconds) {
    std::vector<SenderDomainRow> out;
    absl::Status s = Guard("domains_due", [&] {
        pqxx::work tx(conn);
        for (const auto& r : tx.exec_prepared("domains_due", limit, lease_seconds))
            out.push_back(ToRow(r));
        tx.commit();
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<SenderDomainRow> RecordCheck(pqxx::connection& conn, std::int64_t account, std::int64_t id,
                                            const CheckRecord& check, const DecideFn& decide) {
    bool found = false;
    absl::Status s = Guard("domain_record_check", [&] {
        pqxx::work tx(conn);
        pqxx::result cur = tx.exec_prepared("domain_lock", id);
        if (cur.empty()) return;
        found = true;
        const std::string old_state = cur[0][0].as<std::string>();
        const StateDecision next = decide(old_state, cur[0][1].as<int>());
        tx.exec_prepared("domain_record_check", id, next.state, check.outcome, next.failures, next.next_check_seconds,
                         check.json);
        if (next.state != old_state) {
            tx.exec_prepared("domain_state_change_add", id, old_state, next.state, check.outcome, check.summary);
        }
        tx.commit();
    });
    if (!s.ok()) return s;
    if (!found) return absl::NotFoundError(StrCat("domain ", id, " not found"));
    return GetDomain(conn, account, id);
}

absl::StatusOr<std::vector<StateChangeRow>> ListStateChanges(pqxx::connection& conn, std::int64_t account,
                                                             std::int64_t domain_id, std::int64_t after_id, int limit) {
    std::vector<StateChangeRow> out;
    absl::Status s = Guard("domain_state_changes", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("domain_state_changes", account, after_id, domain_id, limit)) {
            StateChangeRow c;
            c.id = r[0].as<std::int64_t>();
            c.domain_id = r[1].as<std::int64_t>();
            c.feedback_domain = r[2].as<std::string>();
            c.from_state = r[3].as<std::string>();
            c.to_state = r[4].as<std::string>();
            c.outcome = r[5].as<std::string>();
            c.summary = r[6].as<std::string>();
            c.changed_us = r[7].as<std::int64_t>();
            out.push_back(std::move(c));
        }
    });
    if (!s.ok()) return s;
    return out;
}

}  // namespace rebound::storage
