#include "storage/message_store.h"

#include <cstdio>
#include <ctime>

#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::storage {
namespace {

template <typename T>
std::optional<std::string> NullIfEmpty(const T& s) {
    if (s.empty()) return std::nullopt;
    return std::string(s);
}

// "2026-11-22 05:53:03.123456+00": a timestamptz literal with microseconds.
std::string TimestampText(std::int64_t us) {
    std::int64_t secs = us / 1000000;
    std::int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[48];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06lld+00", static_cast<long long>(frac));
    return buf;
}

// Inserts `events` of one raw message; counts them and the recipients they suppressed.
void InsertEvents(pqxx::work& tx, const std::string& received_at, std::int64_t raw_message_id,
                  const std::vector<EventRow>& events, int* inserted, int* suppressed) {
    for (const EventRow& e : events) {
        std::optional<std::int64_t> mailing;
        std::optional<std::int64_t> recipient;
        if (e.mailing_id) mailing = static_cast<std::int64_t>(*e.mailing_id);
        if (e.recipient_id) recipient = static_cast<std::int64_t>(*e.recipient_id);
        pqxx::row ev = tx.exec_prepared1(
            "ingest_insert_event", received_at, e.account_id, raw_message_id, e.sender_domain_id, mailing, recipient,
            NullIfEmpty(e.envelope_address), e.token_stale, e.token_issued_on, NullIfEmpty(e.recipient),
            NullIfEmpty(e.recipient_domain), e.kind, NullIfEmpty(e.status), e.reply_code, e.reason, e.hard_bounce,
            e.bounce_class, e.disposition, NullIfEmpty(e.feedback_type), NullIfEmpty(e.diagnostic),
            NullIfEmpty(e.remote_mta), NullIfEmpty(e.reporting_mta), NullIfEmpty(e.original_message_id),
            NullIfEmpty(e.rule_id), NullIfEmpty(e.rules_version));
        ++*inserted;
        if (!ev[1].is_null()) ++*suppressed;
    }
}

}  // namespace

absl::StatusOr<std::vector<StoredMessage>> StoreMessages(pqxx::connection& conn, const std::vector<MessageRow>& batch) {
    std::vector<StoredMessage> out;
    out.reserve(batch.size());
    std::string step = "ingest_store_raw";
    try {
        pqxx::work tx(conn, "ingest");
        for (const MessageRow& m : batch) {
            const pqxx::binarystring digest(m.digest.data(), m.digest.size());
            // Recipients are joined by newline, which an SMTP address cannot contain.
            std::string rcpts;
            for (std::size_t i = 0; i < m.rcpt_to.size(); ++i)
                StrAppend(&rcpts, i == 0 ? "" : "\n", m.rcpt_to[i]);
            step = "ingest_store_raw";
            pqxx::result stored_raw = tx.exec_prepared(
                "ingest_store_raw", digest, static_cast<std::int64_t>(m.content.size()), m.mail_from, rcpts,
                NullIfEmpty(m.client_address), NullIfEmpty(m.helo), m.parse_state, NullIfEmpty(m.parse_error),
                NullIfEmpty(m.rules_version), pqxx::binarystring(m.content.data(), m.content.size()));
            StoredMessage stored;
            if (stored_raw.empty()) {
                step = "ingest_duplicate_of";
                stored.duplicate = true;
                stored.raw_message_id = tx.exec_prepared1("ingest_duplicate_of", digest)[0].as<std::int64_t>();
                out.push_back(stored);
                continue;
            }
            stored.raw_message_id = stored_raw[0][0].as<std::int64_t>();
            const std::string received_at = stored_raw[0][1].as<std::string>();
            step = "ingest_insert_event";
            InsertEvents(tx, received_at, stored.raw_message_id, m.events, &stored.events, &stored.suppressed);
            out.push_back(stored);
        }
        step = "commit";
        tx.commit();
        return out;
    } catch (...) {
        return StatusFromException(step);
    }
}

namespace {

DomainRow ToDomain(const pqxx::row& r) {
    DomainRow d;
    d.sender_domain_id = r[0].as<std::int64_t>();
    d.feedback_domain = r[1].as<std::string>();
    d.account_id = r[2].as<std::int64_t>();
    d.current_key_id = r[3].as<std::uint32_t>();
    const std::string retired = r[4].as<std::string>();  // named: views into it outlive the loop header
    for (std::string_view id : Split(retired, ',', /*skip_empty=*/true)) {
        std::uint32_t v = 0;
        if (ParseInt(id, &v)) d.retired_key_ids.push_back(v);
    }
    return d;
}

}  // namespace

absl::StatusOr<std::vector<DomainRow>> LoadDomains(pqxx::connection& conn) {
    std::vector<DomainRow> rows;
    absl::Status s = Guard("domains_load", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("domains_load"))
            rows.push_back(ToDomain(r));
    });
    if (!s.ok()) return s;
    return rows;
}

absl::StatusOr<DomainRow> FindFeedbackDomain(pqxx::connection& conn, const std::string& feedback_domain) {
    std::optional<DomainRow> row;
    absl::Status s = Guard("domain_find", [&] {
        pqxx::nontransaction tx(conn);
        pqxx::result r = tx.exec_prepared("domain_find", feedback_domain);
        if (!r.empty()) row = ToDomain(r[0]);
    });
    if (!s.ok()) return s;
    if (!row) return absl::NotFoundError(StrCat(feedback_domain, " is not a registered feedback domain"));
    return *row;
}

absl::StatusOr<std::vector<RawMessage>> RawMessagesForReprocess(pqxx::connection& conn, std::int64_t since_us,
                                                                std::int64_t until_us, std::int64_t after_us,
                                                                std::int64_t after_id, int limit) {
    std::vector<RawMessage> out;
    absl::Status s = Guard("reprocess_page", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("reprocess_page", since_us, until_us, after_us, after_id, limit)) {
            RawMessage m;
            m.id = r[0].as<std::int64_t>();
            m.received_us = r[1].as<std::int64_t>();
            m.mail_from = r[2].as<std::string>();
            // Bound to a name: a temporary in a range-for initializer dies before the body.
            const std::string rcpts = r[3].as<std::string>();
            for (std::string_view rcpt : Split(rcpts, '\n', /*skip_empty=*/true))
                m.rcpt_to.emplace_back(rcpt);
            m.client_address = r[4].as<std::string>();
            m.helo = r[5].as<std::string>();
            m.content = pqxx::binarystring(r[6]).str();
            out.push_back(std::move(m));
        }
    });
    if (!s.ok()) return s;
    return out;
}

absl::StatusOr<Replaced> ReplaceEvents(pqxx::connection& conn, const RawMessage& raw, const MessageRow& row) {
    Replaced r;
    absl::Status s = Guard("reprocess", [&] {
        pqxx::work tx(conn, "reprocess");
        r.deleted =
            static_cast<int>(tx.exec_prepared("reprocess_delete_events", raw.id, raw.received_us).affected_rows());
        tx.exec_prepared("reprocess_update_raw", raw.id, raw.received_us, row.parse_state, NullIfEmpty(row.parse_error),
                         NullIfEmpty(row.rules_version));
        const std::string received_at = TimestampText(raw.received_us);
        InsertEvents(tx, received_at, raw.id, row.events, &r.inserted, &r.suppressed);
        tx.commit();
    });
    if (!s.ok()) return s;
    return r;
}

}  // namespace rebound::storage
