#include "services/api/admin_service.h"

#include "services/api/convert.h"
#include "services/api/status.h"
#include "services/common/log.h"
#include "services/common/strings.h"
#include "services/ingest/reprocess.h"

namespace rebound::api {

grpc::Status AdminServiceImpl::Reprocess(grpc::ServerContext* ctx, const v1::ReprocessRequest* req,
                                         v1::ReprocessResponse* resp) {
    const char* method = "Reprocess";
    if (absl::Status s = auth_->RequireAdmin(*ctx); !s.ok()) return ToGrpc(s, method);
    if (!req->has_since() || !req->has_until()) {
        return ToGrpc(absl::InvalidArgumentError("since and until: both required"), method);
    }
    const std::int64_t since = ToMicros(req->since());
    const std::int64_t until = ToMicros(req->until());
    if (until <= since) return ToGrpc(absl::InvalidArgumentError("until: must be after since"), method);
    const std::uint32_t max = req->max_messages() == 0 ? 10000 : req->max_messages();
    if (max > 100000) return ToGrpc(absl::InvalidArgumentError("max_messages: at most 100000"), method);
    std::int64_t after_us = since - 1;
    std::int64_t after_id = 0;
    if (!req->page_token().empty()) {
        const std::vector<std::string_view> parts = Split(req->page_token(), '.');
        if (parts.size() != 2 || !ParseInt(parts[0], &after_us) || !ParseInt(parts[1], &after_id)) {
            return ToGrpc(absl::InvalidArgumentError("page_token: not a token from a previous response"), method);
        }
    }
    std::shared_ptr<const ingest::DomainSnapshot> snapshot = domains_->Snapshot();
    if (snapshot == nullptr) {
        if (absl::Status s = domains_->Refresh(); !s.ok()) return ToGrpc(s, method);
        snapshot = domains_->Snapshot();
    }
    auto conn = pool_->Acquire(std::chrono::seconds(30));
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto page = ingest::Reprocess(**conn, *snapshot, *codec_, since, until, after_us, after_id, static_cast<int>(max));
    if (!page.ok()) return ToGrpc(page.status(), method);
    resp->set_messages(page->counts.messages);
    resp->set_events_before(page->counts.events_before);
    resp->set_events_after(page->counts.events_after);
    resp->set_suppressed(page->counts.suppressed);
    resp->set_unparsed(page->counts.unparsed);
    if (page->next) resp->set_next_page_token(StrCat(page->next->first, ".", page->next->second));
    log::Info("reprocess.done")
        .Kv("messages", page->counts.messages)
        .Kv("events_before", page->counts.events_before)
        .Kv("events_after", page->counts.events_after);
    return grpc::Status::OK;
}

}  // namespace rebound::api
