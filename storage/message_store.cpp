#include "storage/message_store.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "services/common/json.h"
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

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectForIngest(const std::string& url, bool synchronous) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Connect(url);
    if (!conn.ok()) return conn;
    absl::Status s = Guard("ingest_session", [&] {
        pqxx::nontransaction tx(**conn, "ingest_session");
        // Nested loops only: the ingest statements join the few rows of one batch (CTEs,
        // json_to_recordset), which the planner takes for 100 rows each and joins by hash;
        // building the hash tables costs more than nested loops over a handful of rows (3% of a
        // raw batch's instructions, 6% of ingest_store_raw's, counted with callgrind). No ingest
        // statement joins a table on a column without an index.
        tx.exec0(StrCat("SET plan_cache_mode = force_generic_plan; SET synchronous_commit = ",
                        synchronous ? "on" : "off", "; SET enable_hashjoin = off; SET enable_mergejoin = off"));
    });
    if (!s.ok()) return s;
    return conn;
}

absl::StatusOr<std::vector<StoredMessage>> StoreMessages(pqxx::connection& conn, const std::vector<MessageRow>& batch) {
    // One call stores the batch: the messages and events as JSON, the raw bytes concatenated.
    common::JsonWriter messages;
    common::JsonWriter events;
    std::string contents;
    std::size_t total = 0;
    std::size_t event_count = 0;
    for (const MessageRow& m : batch)
        total += m.content.size();
    contents.reserve(total);
    messages.BeginArray();
    events.BeginArray();
    std::vector<std::string> digests(batch.size());  // hex
    // Each digest's position in the batch (the first, should it occur twice).
    std::unordered_map<std::string_view, std::size_t> position;
    position.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const MessageRow& m = batch[i];
        std::string& digest = digests[i];
        digest = HexLower(std::string_view(reinterpret_cast<const char*>(m.digest.data()), m.digest.size()));
        position.emplace(digest, i);
        // Recipients are joined by newline, which an SMTP address cannot contain.
        std::string rcpts;
        for (std::size_t r = 0; r < m.rcpt_to.size(); ++r)
            StrAppend(&rcpts, r == 0 ? "" : "\n", m.rcpt_to[r]);
        messages.BeginObject()
            .Field("ord", static_cast<std::int64_t>(i))
            .Field("sha256", digest)
            .Field("content_offset", static_cast<std::int64_t>(contents.size()))
            .Field("size_bytes", static_cast<std::int64_t>(m.content.size()))
            .Field("mail_from", m.mail_from)
            .Field("rcpt_to", rcpts)
            .Field("client_address", NullIfEmpty(m.client_address))
            .Field("helo", NullIfEmpty(m.helo))
            .Field("parse_state", m.parse_state)
            .Field("parse_error", NullIfEmpty(m.parse_error))
            .Field("rules_version", NullIfEmpty(m.rules_version))
            .EndObject();
        contents.append(m.content);
        for (const EventRow& e : m.events) {
            events.BeginObject()
                .Field("msg", static_cast<std::int64_t>(i))
                .Field("n", static_cast<std::int64_t>(event_count++))
                .Field("account_id", e.account_id);
            if (e.sender_domain_id) events.Field("sender_domain_id", *e.sender_domain_id);
            // uint64 platform ids are stored bit-for-bit in bigint.
            if (e.mailing_id) events.Field("mailing_id", static_cast<std::int64_t>(*e.mailing_id));
            if (e.recipient_id) events.Field("recipient_id", static_cast<std::int64_t>(*e.recipient_id));
            events.Field("envelope_address", NullIfEmpty(e.envelope_address))
                .Field("token_stale", e.token_stale)
                .Field("token_issued_on", e.token_issued_on)
                .Field("recipient", NullIfEmpty(e.recipient))
                .Field("recipient_domain", NullIfEmpty(e.recipient_domain))
                .Field("kind", e.kind)
                .Field("status", NullIfEmpty(e.status));
            if (e.reply_code) events.Field("reply_code", *e.reply_code);
            events.Field("reason", e.reason)
                .Field("hard_bounce", e.hard_bounce)
                .Field("bounce_class", e.bounce_class)
                .Field("disposition", e.disposition)
                .Field("feedback_type", NullIfEmpty(e.feedback_type))
                .Field("diagnostic", NullIfEmpty(e.diagnostic))
                .Field("remote_mta", NullIfEmpty(e.remote_mta))
                .Field("reporting_mta", NullIfEmpty(e.reporting_mta))
                .Field("original_message_id", NullIfEmpty(e.original_message_id))
                .Field("rule_id", NullIfEmpty(e.rule_id))
                .Field("rules_version", NullIfEmpty(e.rules_version))
                .EndObject();
        }
    }
    messages.EndArray();
    events.EndArray();

    std::vector<StoredMessage> out(batch.size());
    std::vector<bool> seen(batch.size(), false);
    if (event_count == 0 && position.size() == batch.size()) {
        // No events to store or to run through the suppression policy: ingest_store_raw.
        absl::Status s = Guard("ingest_store_raw", [&] {
            pqxx::nontransaction tx(conn, "ingest");
            const pqxx::result rows = tx.exec_prepared("ingest_store_raw", messages.str(),
                                                       pqxx::binarystring(contents.data(), contents.size()));
            for (const auto& r : rows) {
                const auto it = position.find(std::string_view(r[1].c_str(), r[1].size()));
                if (it == position.end() || seen[it->second])
                    throw std::runtime_error("ingest_store_raw: bad result row");
                const std::size_t ord = it->second;
                out[ord].raw_message_id = r[0].as<std::int64_t>();
                seen[ord] = true;
            }
            // The duplicates, each in a statement of its own after the insert's commit. Should
            // one fail, the batch is refused (451) although its new messages are stored: as for a
            // reply lost on the way, the retries find them as duplicates.
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (seen[i]) continue;
                const pqxx::result before = tx.exec_prepared(
                    "ingest_digest_lookup", pqxx::binarystring(batch[i].digest.data(), batch[i].digest.size()));
                if (before.empty()) throw std::runtime_error("ingest_store_raw: a duplicate has no stored message");
                out[i].raw_message_id = before[0][0].as<std::int64_t>();
                out[i].duplicate = true;
            }
        });
        if (!s.ok()) return s;
        return out;
    }
    absl::Status s = Guard("ingest_store_batch", [&] {
        // One statement in autocommit: its own transaction, without BEGIN and COMMIT round
        // trips. The result only arrives after the commit is flushed (synchronous_commit).
        pqxx::nontransaction tx(conn, "ingest");
        const pqxx::result rows = tx.exec_prepared("ingest_store_batch", messages.str(),
                                                   pqxx::binarystring(contents.data(), contents.size()), events.str());
        for (const auto& r : rows) {
            const auto ord = r[0].as<std::size_t>();
            if (ord >= out.size() || r[1].is_null()) throw std::runtime_error("ingest_store_batch: bad result row");
            out[ord].raw_message_id = r[1].as<std::int64_t>();
            out[ord].duplicate = r[2].as<bool>();
            out[ord].events = r[3].as<int>();
            out[ord].suppressed = r[4].as<int>();
            seen[ord] = true;
        }
        if (std::find(seen.begin(), seen.end(), false) != seen.end()) {
            throw std::runtime_error("ingest_store_batch: a message has no result");
        }
    });
    if (!s.ok()) return s;
    return out;
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
