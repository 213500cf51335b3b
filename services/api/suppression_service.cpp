#include "services/api/suppression_service.h"

#include "services/api/convert.h"
#include "services/api/status.h"
#include "services/common/strings.h"
#include "storage/suppression_store.h"

namespace rebound::api {
namespace {

constexpr int kMaxCheck = 10000;
constexpr int kExportPage = 5000;

// Lower-cases and checks an address: local@domain, 3 to 320 octets, no spaces or controls.
absl::StatusOr<std::string> NormalizeAddress(std::string_view field, std::string_view address) {
    const std::string lower = AsciiLower(StripWhitespace(address));
    const std::size_t at = lower.rfind('@');
    bool ok = lower.size() >= 3 && lower.size() <= 320 && at != std::string::npos && at > 0 && at + 1 < lower.size();
    for (char c : lower)
        ok = ok && static_cast<unsigned char>(c) > 0x20 && c != 0x7F;
    if (!ok) return absl::InvalidArgumentError(StrCat(field, ": \"", address.substr(0, 64), "\" is not an address"));
    return lower;
}

void Fill(const storage::SuppressionRow& r, v1::Suppression* out) {
    out->set_address(r.address);
    out->set_recipient_id(r.recipient_id);
    out->set_cause(r.cause);
    out->set_reason(r.reason);
    out->set_event_id(static_cast<std::uint64_t>(r.event_id));
    FromMicros(r.created_us, out->mutable_created_at());
}

}  // namespace

grpc::Status SuppressionServiceImpl::ListSuppressions(grpc::ServerContext* ctx, const v1::ListSuppressionsRequest* req,
                                                      v1::ListSuppressionsResponse* resp) {
    const char* method = "ListSuppressions";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    const std::uint32_t size = req->page_size() == 0 ? 100 : req->page_size();
    if (size > 1000) return ToGrpc(absl::InvalidArgumentError("page_size: at most 1000"), method);
    std::optional<std::string> cause;
    if (!req->cause().empty()) {
        if (req->cause() != "hard_bounce" && req->cause() != "soft_bounce" && req->cause() != "complaint" &&
            req->cause() != "manual") {
            return ToGrpc(absl::InvalidArgumentError("cause: one of hard_bounce, soft_bounce, complaint, manual"),
                          method);
        }
        cause = req->cause();
    }
    if (req->page_token().size() > 320) return ToGrpc(absl::InvalidArgumentError("page_token: invalid"), method);
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto rows = storage::ListSuppressions(**conn, *account, req->page_token(), cause, static_cast<int>(size) + 1);
    if (!rows.ok()) return ToGrpc(rows.status(), method);
    for (std::size_t i = 0; i < rows->size() && i < size; ++i)
        Fill((*rows)[i], resp->add_suppressions());
    if (rows->size() > size) resp->set_next_page_token((*rows)[size - 1].address);
    return grpc::Status::OK;
}

grpc::Status SuppressionServiceImpl::CheckSuppressions(grpc::ServerContext* ctx,
                                                       const v1::CheckSuppressionsRequest* req,
                                                       v1::CheckSuppressionsResponse* resp) {
    const char* method = "CheckSuppressions";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    if (req->addresses_size() + req->recipient_ids_size() > kMaxCheck) {
        return ToGrpc(absl::InvalidArgumentError("addresses and recipient_ids: at most 10000 together per call"),
                      method);
    }
    std::vector<std::string> addresses;
    addresses.reserve(static_cast<std::size_t>(req->addresses_size()));
    for (int i = 0; i < req->addresses_size(); ++i) {
        auto a = NormalizeAddress(StrCat("addresses[", i, "]"), req->addresses(i));
        if (!a.ok()) return ToGrpc(a.status(), method);
        addresses.push_back(std::move(*a));
    }
    std::vector<std::uint64_t> ids(req->recipient_ids().begin(), req->recipient_ids().end());
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto suppressed = storage::SuppressedAddresses(**conn, *account, addresses);
    if (!suppressed.ok()) return ToGrpc(suppressed.status(), method);
    auto suppressed_ids = storage::SuppressedRecipientIds(**conn, *account, ids);
    if (!suppressed_ids.ok()) return ToGrpc(suppressed_ids.status(), method);
    for (auto& a : *suppressed)
        resp->add_suppressed_addresses(std::move(a));
    for (auto id : *suppressed_ids)
        resp->add_suppressed_recipient_ids(id);
    return grpc::Status::OK;
}

grpc::Status SuppressionServiceImpl::AddSuppression(grpc::ServerContext* ctx, const v1::AddSuppressionRequest* req,
                                                    v1::Suppression* resp) {
    const char* method = "AddSuppression";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto address = NormalizeAddress("address", req->address());
    if (!address.ok()) return ToGrpc(address.status(), method);
    if (req->reason().size() > 500 || SanitizeUtf8(req->reason()) != req->reason()) {
        return ToGrpc(absl::InvalidArgumentError("reason: at most 500 characters of UTF-8 text"), method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto row = storage::AddSuppression(**conn, *account, *address, req->recipient_id(), req->reason());
    if (!row.ok()) return ToGrpc(row.status(), method);
    Fill(*row, resp);
    return grpc::Status::OK;
}

grpc::Status SuppressionServiceImpl::RemoveSuppression(grpc::ServerContext* ctx,
                                                       const v1::RemoveSuppressionRequest* req,
                                                       v1::RemoveSuppressionResponse* resp) {
    const char* method = "RemoveSuppression";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto address = NormalizeAddress("address", req->address());
    if (!address.ok()) return ToGrpc(address.status(), method);
    const std::string reason(StripWhitespace(req->reason()));
    if (reason.empty() || reason.size() > 500 || SanitizeUtf8(reason) != reason) {
        return ToGrpc(absl::InvalidArgumentError("reason: required, at most 500 characters of UTF-8 text"), method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto row = storage::RemoveSuppression(**conn, *account, *address, reason);
    if (!row.ok()) return ToGrpc(row.status(), method);
    Fill(*row, resp->mutable_removed());
    return grpc::Status::OK;
}

grpc::Status SuppressionServiceImpl::ExportSuppressions(grpc::ServerContext* ctx,
                                                        const v1::ExportSuppressionsRequest* /*req*/,
                                                        grpc::ServerWriter<v1::Suppression>* writer) {
    const char* method = "ExportSuppressions";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    std::string after;
    v1::Suppression out;
    while (!ctx->IsCancelled()) {
        std::vector<storage::SuppressionRow> page;
        {
            auto conn = pool_->Acquire();
            if (!conn.ok()) return ToGrpc(conn.status(), method);
            auto rows = storage::ListSuppressions(**conn, *account, after, std::nullopt, kExportPage);
            if (!rows.ok()) return ToGrpc(rows.status(), method);
            page = std::move(*rows);
        }
        for (const auto& r : page) {
            out.Clear();
            Fill(r, &out);
            if (!writer->Write(out)) return grpc::Status::OK;
        }
        if (page.size() < static_cast<std::size_t>(kExportPage)) return grpc::Status::OK;
        after = page.back().address;
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
}

grpc::Status SuppressionServiceImpl::GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest* /*req*/,
                                               v1::SuppressionPolicy* resp) {
    const char* method = "GetPolicy";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto p = storage::GetPolicy(**conn, *account);
    if (!p.ok()) return ToGrpc(p.status(), method);
    resp->set_soft_bounce_threshold(static_cast<std::uint32_t>(p->soft_bounce_threshold));
    resp->set_soft_bounce_window_days(static_cast<std::uint32_t>(p->soft_bounce_window_days));
    resp->set_suppress_complaints(p->suppress_complaints);
    return grpc::Status::OK;
}

grpc::Status SuppressionServiceImpl::SetPolicy(grpc::ServerContext* ctx, const v1::SuppressionPolicy* req,
                                               v1::SuppressionPolicy* resp) {
    const char* method = "SetPolicy";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    if (req->soft_bounce_threshold() < 1 || req->soft_bounce_threshold() > 1000) {
        return ToGrpc(absl::InvalidArgumentError("soft_bounce_threshold: 1 to 1000"), method);
    }
    if (req->soft_bounce_window_days() < 1 || req->soft_bounce_window_days() > 3650) {
        return ToGrpc(absl::InvalidArgumentError("soft_bounce_window_days: 1 to 3650"), method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    storage::PolicyRow p{static_cast<int>(req->soft_bounce_threshold()),
                         static_cast<int>(req->soft_bounce_window_days()), req->suppress_complaints()};
    if (absl::Status s = storage::SetPolicy(**conn, *account, p); !s.ok()) return ToGrpc(s, method);
    *resp = *req;
    return grpc::Status::OK;
}

}  // namespace rebound::api
