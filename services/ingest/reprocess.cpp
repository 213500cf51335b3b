#include "services/ingest/reprocess.h"

#include <algorithm>
#include <ctime>

#include "services/envelope/day.h"
#include "services/ingest/ingest.h"
#include "storage/message_store.h"

namespace rebound::ingest {

absl::StatusOr<ReprocessPage> Reprocess(pqxx::connection& conn, const DomainSnapshot& domains,
                                        const envelope::Codec& codec, std::int64_t since_us, std::int64_t until_us,
                                        std::int64_t after_us, std::int64_t after_id, int max_messages) {
    constexpr int kPage = 200;
    ReprocessPage page;
    const std::uint32_t today = envelope::Today();
    int done = 0;
    while (true) {
        const int want = std::min(kPage, max_messages - done);
        if (want <= 0) {
            page.next = {after_us, after_id};  // the call's budget is spent; more may follow
            return page;
        }
        auto raws = storage::RawMessagesForReprocess(conn, since_us, until_us, after_us, after_id, want);
        if (!raws.ok()) return raws.status();
        for (const storage::RawMessage& raw : *raws) {
            smtp::SessionInfo session;
            session.client_address = raw.client_address;
            session.helo = raw.helo;
            smtp::Envelope envelope;
            envelope.mail_from = raw.mail_from;
            envelope.recipients = raw.rcpt_to;
            storage::MessageRow row = BuildMessageRow(session, envelope, raw.content, domains, codec, today);
            auto replaced = storage::ReplaceEvents(conn, raw, row);
            if (!replaced.ok()) return replaced.status();
            ++page.counts.messages;
            page.counts.events_before += static_cast<std::uint64_t>(replaced->deleted);
            page.counts.events_after += static_cast<std::uint64_t>(replaced->inserted);
            page.counts.suppressed += static_cast<std::uint64_t>(replaced->suppressed);
            if (row.parse_state == "unparsed") ++page.counts.unparsed;
            after_us = raw.received_us;
            after_id = raw.id;
        }
        done += static_cast<int>(raws->size());
        if (static_cast<int>(raws->size()) < want) return page;  // the range is done
    }
}

}  // namespace rebound::ingest
