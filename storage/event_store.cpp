#include "storage/event_store.h"

#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::storage {
namespace {

std::optional<std::int64_t> Signed(const std::optional<std::uint64_t>& v) {
    if (!v) return std::nullopt;
    return static_cast<std::int64_t>(*v);  // uint64 ids are stored bit-for-bit
}

// The one text value of a prepared query without parameters, run outside a transaction block.
absl::StatusOr<std::string> PreparedText(pqxx::connection& conn, const char* query) {
    std::string value;
    absl::Status s = Guard(query, [&] {
        pqxx::nontransaction tx(conn);
        value = tx.exec_prepared1(query)[0].as<std::string>();
    });
    if (!s.ok()) return s;
    return value;
}

EventRecord ToEvent(const pqxx::row& r) {
    EventRecord e;
    e.id = r[0].as<std::int64_t>();
    e.received_us = r[1].as<std::int64_t>();
    if (!r[2].is_null()) e.mailing_id = static_cast<std::uint64_t>(r[2].as<std::int64_t>());
    if (!r[3].is_null()) e.recipient_id = static_cast<std::uint64_t>(r[3].as<std::int64_t>());
    e.envelope_address = r[4].as<std::string>();
    e.token_stale = r[5].as<bool>();
    e.recipient = r[6].as<std::string>();
    e.recipient_domain = r[7].as<std::string>();
    e.kind = r[8].as<std::string>();
    e.status = r[9].as<std::string>();
    e.reply_code = r[10].as<int>();
    e.reason = r[11].as<std::string>();
    e.hard_bounce = r[12].as<bool>();
    e.bounce_class = r[13].as<int>();
    e.disposition = r[14].as<std::string>();
    e.feedback_type = r[15].as<std::string>();
    e.diagnostic = r[16].as<std::string>();
    e.remote_mta = r[17].as<std::string>();
    e.reporting_mta = r[18].as<std::string>();
    e.original_message_id = r[19].as<std::string>();
    e.rule_id = r[20].as<std::string>();
    e.rules_version = r[21].as<std::string>();
    e.raw_message_id = r[22].as<std::int64_t>();
    e.txid = r[23].as<std::string>();
    return e;
}

std::string ArrayLiteral(const std::vector<std::uint64_t>& ids) {
    std::string out = "{";
    for (std::size_t i = 0; i < ids.size(); ++i)
        StrAppend(&out, i == 0 ? "" : ",", static_cast<std::int64_t>(ids[i]));
    return out + "}";
}

}  // namespace

absl::StatusOr<std::vector<EventRecord>> ListEvents(pqxx::connection& conn, std::int64_t account_id,
                                                    const EventFilter& f, int limit) {
    std::vector<EventRecord> out;
    absl::Status s = Guard("events_list", [&] {
        pqxx::nontransaction tx(conn);
        // Not the prepared statement: an unnamed one is planned with this call's values, so
        // the filters left out fold away and the index of the one given is used. A generic
        // plan for all combinations scanned the account's events to find one address.
        static const std::string sql(QueryText("events_list"));
        for (const auto& r :
             tx.exec_params(sql, account_id, Signed(f.mailing_id), Signed(f.recipient_id), f.address, f.since_us,
                            f.until_us, f.disposition, f.reason, f.before_us, f.before_id, limit)) {
            out.push_back(ToEvent(r));
        }
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<EventRecord> GetEvent(pqxx::connection& conn, std::int64_t account_id, std::int64_t id) {
    std::optional<EventRecord> e;
    absl::Status s = Guard("event_get", [&] {
        pqxx::nontransaction tx(conn);
        pqxx::result r = tx.exec_prepared("event_get", account_id, id);
        if (!r.empty()) e = ToEvent(r[0]);
    });
    if (!s.ok()) return s;
    if (!e) return absl::NotFoundError(StrCat("no event ", id));
    return *e;
}

absl::StatusOr<std::string> GetRawMessage(pqxx::connection& conn, std::int64_t raw_message_id) {
    std::optional<std::string> content;
    absl::Status s = Guard("event_raw", [&] {
        pqxx::nontransaction tx(conn);
        pqxx::result r = tx.exec_prepared("event_raw", raw_message_id);
        if (!r.empty()) {
            const pqxx::binarystring b(r[0][0]);
            content = b.str();
        }
    });
    if (!s.ok()) return s;
    if (!content) return absl::NotFoundError("the raw message is no longer kept");
    return *content;
}

absl::StatusOr<std::string> AdvanceFlushHorizon(pqxx::connection& conn, bool session_synchronous) {
    if (session_synchronous) return PreparedText(conn, "flush_horizon_advance");
    std::string horizon;
    absl::Status s = Guard("flush_horizon_advance", [&] {
        pqxx::work tx(conn);
        tx.exec0("SET LOCAL synchronous_commit = on");
        horizon = tx.exec_prepared1("flush_horizon_advance")[0].as<std::string>();
        tx.commit();
    });
    if (!s.ok()) return s;
    return horizon;
}

absl::StatusOr<std::string> ConfirmFlush(pqxx::connection& conn) {
    return PreparedText(conn, "flush_confirm");
}

absl::StatusOr<std::string> FeedPosition(pqxx::connection& conn) {
    if (auto advanced = AdvanceFlushHorizon(conn); !advanced.ok()) return advanced.status();
    return PreparedText(conn, "feed_position");
}

absl::StatusOr<std::vector<EventRecord>> FeedAfter(pqxx::connection& conn, std::int64_t account_id,
                                                   const std::string& txid, std::int64_t id, int limit) {
    std::vector<EventRecord> out;
    auto read = [&](const std::string& after_txid, std::int64_t after_id) {
        return Guard("feed_after", [&] {
            pqxx::nontransaction tx(conn);
            for (const auto& r :
                 tx.exec_prepared("feed_after", account_id, after_txid, after_id, limit - static_cast<int>(out.size())))
                out.push_back(ToEvent(r));
        });
    };
    if (absl::Status s = read(txid, id); !s.ok()) return s;
    if (out.size() >= static_cast<std::size_t>(limit)) return out;

    const std::string last_txid = out.empty() ? txid : out.back().txid;
    const std::int64_t last_id = out.empty() ? id : out.back().id;
    bool held = false;
    absl::Status s = Guard("feed_held", [&] {
        pqxx::nontransaction tx(conn);
        held = tx.exec_prepared1("feed_held", account_id, last_txid, last_id)[0].as<bool>();
    });
    if (!s.ok()) return s;
    if (!held) return out;
    if (auto advanced = AdvanceFlushHorizon(conn); !advanced.ok()) return advanced.status();
    if (s = read(last_txid, last_id); !s.ok()) return s;
    return out;
}

absl::StatusOr<std::vector<StatsRow>> MailingStats(pqxx::connection& conn, std::int64_t account_id,
                                                   const std::vector<std::uint64_t>& mailing_ids,
                                                   std::vector<RecipientsRow>* recipients) {
    std::vector<StatsRow> out;
    const std::string ids = ArrayLiteral(mailing_ids);
    absl::Status s = Guard("mailing_stats", [&] {
        pqxx::read_transaction tx(conn);
        for (const auto& r : tx.exec_prepared("mailing_stats", account_id, ids)) {
            out.push_back({static_cast<std::uint64_t>(r[0].as<std::int64_t>()), r[1].as<std::string>(),
                           r[2].as<std::string>(), r[3].as<int>(), r[4].as<std::uint64_t>()});
        }
        for (const auto& r : tx.exec_prepared("mailing_recipients", account_id, ids)) {
            recipients->push_back({static_cast<std::uint64_t>(r[0].as<std::int64_t>()), r[1].as<std::uint64_t>(),
                                   r[2].as<std::uint64_t>()});
        }
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<std::vector<DomainEventCount>> DomainStats(pqxx::connection& conn, std::int64_t account_id,
                                                          std::int64_t since_us, std::int64_t until_us) {
    std::vector<DomainEventCount> out;
    absl::Status s = Guard("domain_stats", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("domain_stats", account_id, since_us, until_us)) {
            out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::uint64_t>()});
        }
    });
    if (!s.ok()) return s;
    return out;
}

}  // namespace rebound::storage
