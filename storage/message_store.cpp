#include "storage/message_store.h"

#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::storage {
namespace {

template <typename T>
std::optional<std::string> NullIfEmpty(const T& s) {
    if (s.empty()) return std::nullopt;
    return std::string(s);
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
            for (std::size_t i = 0; i < m.rcpt_to.size(); ++i) StrAppend(&rcpts, i == 0 ? "" : "\n", m.rcpt_to[i]);
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
            for (const EventRow& e : m.events) {
                std::optional<std::int64_t> mailing;
                std::optional<std::int64_t> recipient;
                if (e.mailing_id) mailing = static_cast<std::int64_t>(*e.mailing_id);
                if (e.recipient_id) recipient = static_cast<std::int64_t>(*e.recipient_id);
                pqxx::row ev = tx.exec_prepared1("ingest_insert_event", received_at, e.account_id, stored.raw_message_id,
                                 e.sender_domain_id, mailing, recipient, NullIfEmpty(e.envelope_address), e.token_stale,
                                 e.token_issued_on, NullIfEmpty(e.recipient), NullIfEmpty(e.recipient_domain), e.kind,
                                 NullIfEmpty(e.status), e.reply_code, e.reason, e.hard_bounce, e.bounce_class,
                                 e.disposition, NullIfEmpty(e.feedback_type), NullIfEmpty(e.diagnostic),
                                 NullIfEmpty(e.remote_mta), NullIfEmpty(e.reporting_mta),
                                 NullIfEmpty(e.original_message_id), NullIfEmpty(e.rule_id),
                                 NullIfEmpty(e.rules_version));
                ++stored.events;
                if (!ev[1].is_null()) ++stored.suppressed;
            }
            out.push_back(stored);
        }
        step = "commit";
        tx.commit();
        return out;
    } catch (...) {
        return StatusFromException(step);
    }
}

absl::StatusOr<std::vector<DomainRow>> LoadDomains(pqxx::connection& conn) {
    std::vector<DomainRow> rows;
    absl::Status s = Guard("domains_load", [&] {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec_prepared("domains_load")) {
            DomainRow d;
            d.sender_domain_id = r[0].as<std::int64_t>();
            d.feedback_domain = r[1].as<std::string>();
            d.account_id = r[2].as<std::int64_t>();
            d.current_key_id = r[3].as<std::uint32_t>();
            for (std::string_view id : Split(r[4].as<std::string>(), ',', /*skip_empty=*/true)) {
                std::uint32_t v = 0;
                if (ParseInt(id, &v)) d.retired_key_ids.push_back(v);
            }
            rows.push_back(std::move(d));
        }
    });
    if (!s.ok()) return s;
    return rows;
}

}  // namespace rebound::storage
