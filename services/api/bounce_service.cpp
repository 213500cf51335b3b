#include "services/api/bounce_service.h"

#include <algorithm>
#include <map>
#include <thread>

#include "services/api/convert.h"
#include "services/api/status.h"
#include "services/common/strings.h"
#include "storage/event_store.h"

namespace rebound::api {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kMaxSpanUs = 366LL * 24 * 3600 * 1000000;
constexpr auto kWatchPoll = 200ms;
constexpr int kWatchBatch = 500;

const std::vector<std::string>& Dispositions() {
    static const std::vector<std::string> v = {"hard",       "soft",    "block",     "complaint",
                                               "auto_reply", "delayed", "delivered", "undetermined"};
    return v;
}

// "A.B" with two non-negative decimal integers.
bool ParsePair(std::string_view token, std::string* a, std::int64_t* b) {
    const std::size_t dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0 || token.size() > 48) return false;
    const std::string_view first = token.substr(0, dot);
    std::uint64_t check = 0;
    if (!ParseInt(first, &check) || !ParseInt(token.substr(dot + 1), b) || *b < 0) return false;
    *a = std::string(first);
    return true;
}

void Fill(const storage::EventRecord& e, v1::BounceEvent* out) {
    out->set_id(static_cast<std::uint64_t>(e.id));
    FromMicros(e.received_us, out->mutable_received_at());
    if (e.mailing_id) out->mutable_mailing_id()->set_value(*e.mailing_id);
    if (e.recipient_id) out->mutable_recipient_id()->set_value(*e.recipient_id);
    out->set_envelope_address(e.envelope_address);
    out->set_token_stale(e.token_stale);
    out->set_recipient(e.recipient);
    out->set_recipient_domain(e.recipient_domain);
    out->set_kind(e.kind);
    out->set_status(e.status);
    out->set_reply_code(static_cast<std::uint32_t>(e.reply_code));
    out->set_reason(e.reason);
    out->set_hard_bounce(e.hard_bounce);
    out->set_bounce_class(static_cast<std::uint32_t>(e.bounce_class));
    out->set_disposition(e.disposition);
    out->set_feedback_type(e.feedback_type);
    out->set_diagnostic(e.diagnostic);
    out->set_remote_mta(e.remote_mta);
    out->set_reporting_mta(e.reporting_mta);
    out->set_original_message_id(e.original_message_id);
    out->set_rule_id(e.rule_id);
    out->set_rules_version(e.rules_version);
    out->set_raw_message_id(static_cast<std::uint64_t>(e.raw_message_id));
    out->set_cursor(StrCat(e.txid, ".", e.id));
}

void AddCounts(const std::map<std::string, std::uint64_t>& counts, google::protobuf::RepeatedPtrField<v1::Count>* out) {
    for (const auto& [key, n] : counts) {
        v1::Count* c = out->Add();
        c->set_key(key);
        c->set_count(n);
    }
}

}  // namespace

grpc::Status BounceServiceImpl::ListEvents(grpc::ServerContext* ctx, const v1::ListEventsRequest* req,
                                           v1::ListEventsResponse* resp) {
    const char* method = "ListEvents";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    const std::uint32_t size = req->page_size() == 0 ? 100 : req->page_size();
    if (size > 1000) return ToGrpc(absl::InvalidArgumentError("page_size: at most 1000"), method);
    storage::EventFilter f;
    if (req->has_mailing_id()) f.mailing_id = req->mailing_id().value();
    if (req->has_recipient_id()) f.recipient_id = req->recipient_id().value();
    if (!req->address().empty()) {
        if (req->address().size() > 320) return ToGrpc(absl::InvalidArgumentError("address: too long"), method);
        f.address = AsciiLower(req->address());
    }
    if (req->has_since()) f.since_us = ToMicros(req->since());
    if (req->has_until()) f.until_us = ToMicros(req->until());
    if (!req->disposition().empty()) {
        if (std::find(Dispositions().begin(), Dispositions().end(), req->disposition()) == Dispositions().end()) {
            return ToGrpc(absl::InvalidArgumentError("disposition: one of hard, soft, block, complaint, auto_reply, "
                                                     "delayed, delivered, undetermined"),
                          method);
        }
        f.disposition = req->disposition();
    }
    if (!req->reason().empty()) {
        if (req->reason().size() > 32) return ToGrpc(absl::InvalidArgumentError("reason: unknown reason"), method);
        f.reason = AsciiLower(req->reason());
    }
    if (!req->page_token().empty()) {
        std::string us;
        std::int64_t before_us = 0;
        if (!ParsePair(req->page_token(), &us, &f.before_id) || !ParseInt(us, &before_us)) {
            return ToGrpc(absl::InvalidArgumentError("page_token: not a token from a previous response"), method);
        }
        f.before_us = before_us;
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto rows = storage::ListEvents(**conn, *account, f, static_cast<int>(size) + 1);
    if (!rows.ok()) return ToGrpc(rows.status(), method);
    for (std::size_t i = 0; i < rows->size() && i < size; ++i)
        Fill((*rows)[i], resp->add_events());
    if (rows->size() > size) {
        const storage::EventRecord& last = (*rows)[size - 1];
        resp->set_next_page_token(StrCat(last.received_us, ".", last.id));
    }
    return grpc::Status::OK;
}

grpc::Status BounceServiceImpl::GetEvent(grpc::ServerContext* ctx, const v1::GetEventRequest* req,
                                         v1::BounceEvent* resp) {
    const char* method = "GetEvent";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    if (req->id() == 0 || req->id() > static_cast<std::uint64_t>(INT64_MAX)) {
        return ToGrpc(absl::InvalidArgumentError("id: required"), method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto event = storage::GetEvent(**conn, *account, static_cast<std::int64_t>(req->id()));
    if (!event.ok()) return ToGrpc(event.status(), method);
    Fill(*event, resp);
    if (req->include_raw() && event->raw_message_id != 0) {
        auto raw = storage::GetRawMessage(**conn, event->raw_message_id);
        if (raw.ok()) {
            resp->set_raw_message(std::move(*raw));
        } else if (raw.status().code() != absl::StatusCode::kNotFound) {
            return ToGrpc(raw.status(), method);
        }
    }
    return grpc::Status::OK;
}

grpc::Status BounceServiceImpl::GetMailingStats(grpc::ServerContext* ctx, const v1::GetMailingStatsRequest* req,
                                                v1::GetMailingStatsResponse* resp) {
    const char* method = "GetMailingStats";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    if (req->mailing_ids_size() == 0 || req->mailing_ids_size() > 100) {
        return ToGrpc(absl::InvalidArgumentError("mailing_ids: 1 to 100 mailings"), method);
    }
    std::vector<std::uint64_t> ids(req->mailing_ids().begin(), req->mailing_ids().end());
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    std::vector<storage::RecipientsRow> recipients;
    auto rows = storage::MailingStats(**conn, *account, ids, &recipients);
    if (!rows.ok()) return ToGrpc(rows.status(), method);
    for (std::uint64_t id : ids) {
        v1::MailingStats* m = resp->add_mailings();
        m->set_mailing_id(id);
        std::map<std::string, std::uint64_t> by_disposition, by_reason, by_class;
        std::uint64_t total = 0;
        for (const auto& r : *rows) {
            if (r.mailing_id != id) continue;
            by_disposition[r.disposition] += r.count;
            by_reason[r.reason] += r.count;
            by_class[std::to_string(r.bounce_class)] += r.count;
            total += r.count;
        }
        m->set_events(total);
        AddCounts(by_disposition, m->mutable_by_disposition());
        AddCounts(by_reason, m->mutable_by_reason());
        AddCounts(by_class, m->mutable_by_bounce_class());
        for (const auto& r : recipients) {
            if (r.mailing_id != id) continue;
            m->set_recipients_bounced(r.bounced);
            m->set_recipients_complained(r.complained);
        }
    }
    return grpc::Status::OK;
}

grpc::Status BounceServiceImpl::GetDomainStats(grpc::ServerContext* ctx, const v1::GetDomainStatsRequest* req,
                                               v1::GetDomainStatsResponse* resp) {
    const char* method = "GetDomainStats";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    if (!req->has_since() || !req->has_until()) {
        return ToGrpc(absl::InvalidArgumentError("since and until: both required"), method);
    }
    const std::int64_t since = ToMicros(req->since());
    const std::int64_t until = ToMicros(req->until());
    if (until <= since || until - since > kMaxSpanUs) {
        return ToGrpc(absl::InvalidArgumentError("until: must be after since, at most 366 days later"), method);
    }
    const std::uint32_t limit = req->limit() == 0 ? 100 : req->limit();
    if (limit > 1000) return ToGrpc(absl::InvalidArgumentError("limit: at most 1000"), method);
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto rows = storage::DomainStats(**conn, *account, since, until);
    if (!rows.ok()) return ToGrpc(rows.status(), method);
    std::map<std::string, std::pair<std::uint64_t, std::map<std::string, std::uint64_t>>> domains;
    for (const auto& r : *rows) {
        auto& d = domains[r.domain];
        d.first += r.count;
        d.second[r.disposition] += r.count;
    }
    std::vector<const decltype(domains)::value_type*> order;
    for (const auto& entry : domains)
        order.push_back(&entry);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
        return a->second.first != b->second.first ? a->second.first > b->second.first : a->first < b->first;
    });
    for (std::size_t i = 0; i < order.size() && i < limit; ++i) {
        v1::DomainStats* d = resp->add_domains();
        d->set_domain(order[i]->first);
        d->set_events(order[i]->second.first);
        AddCounts(order[i]->second.second, d->mutable_by_disposition());
    }
    return grpc::Status::OK;
}

grpc::Status BounceServiceImpl::WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                                            grpc::ServerWriter<v1::BounceEvent>* writer) {
    const char* method = "WatchEvents";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    std::string txid;
    std::int64_t id = 0;
    if (!req->cursor().empty()) {
        if (!ParsePair(req->cursor(), &txid, &id)) {
            return ToGrpc(absl::InvalidArgumentError("cursor: not a cursor from an event"), method);
        }
    } else {
        auto conn = pool_->Acquire();
        if (!conn.ok()) return ToGrpc(conn.status(), method);
        auto pos = storage::FeedPosition(**conn);
        if (!pos.ok()) return ToGrpc(pos.status(), method);
        txid = *pos;
    }
    v1::BounceEvent event;
    while (!ctx->IsCancelled() && !stopping_) {
        std::vector<storage::EventRecord> batch;
        {
            // The connection is held only for the query, not while waiting.
            auto conn = pool_->Acquire();
            if (!conn.ok()) return ToGrpc(conn.status(), method);
            auto rows = storage::FeedAfter(**conn, *account, txid, id, kWatchBatch);
            if (!rows.ok()) return ToGrpc(rows.status(), method);
            batch = std::move(*rows);
        }
        for (const auto& e : batch) {
            event.Clear();
            Fill(e, &event);
            if (!writer->Write(event)) return grpc::Status::OK;  // the client left
            txid = e.txid;
            id = e.id;
        }
        if (batch.size() < static_cast<std::size_t>(kWatchBatch)) std::this_thread::sleep_for(kWatchPoll);
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream ended; resume from the last cursor");
}

}  // namespace rebound::api
