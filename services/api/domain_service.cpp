#include "services/api/domain_service.h"

#include <limits>

#include "services/api/convert.h"
#include "services/api/status.h"
#include "services/common/dns_name.h"
#include "services/common/strings.h"
#include "storage/domain_store.h"

namespace rebound::api {
namespace {

constexpr std::string_view kDefaultLabel = "feedback";

void FillRecord(const dns::RecommendedRecord& r, v1::DnsRecord* out) {
    out->set_name(r.name);
    out->set_type(r.type);
    out->set_ttl(dns::kRecommendedTtl);
    out->set_preference(r.preference);
    out->set_value(r.value);
    out->set_zone_line(r.zone_line);
}

absl::StatusOr<std::int64_t> DomainId(std::uint64_t id) {
    if (id == 0 || id > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return absl::InvalidArgumentError("id: required, a domain id");
    }
    return static_cast<std::int64_t>(id);
}

absl::StatusOr<int> PageSize(std::uint32_t requested) {
    if (requested > 1000) return absl::InvalidArgumentError("page_size: at most 1000");
    return requested == 0 ? 100 : static_cast<int>(requested);
}

}  // namespace

DomainServiceImpl::DomainServiceImpl(storage::Pool* pool, Authenticator* auth, const config::DnsConfig& dns)
    : pool_(pool),
      auth_(auth),
      expect_(dns::ExpectationFromConfig(dns)),
      schedule_(dns::ScheduleFromConfig(dns)),
      lookups_(dns::AresFactory(dns)) {}

void DomainServiceImpl::Fill(const storage::SenderDomainRow& row, v1::Domain* out) const {
    out->set_id(static_cast<std::uint64_t>(row.id));
    out->set_domain(row.domain);
    out->set_feedback_label(row.feedback_label);
    out->set_feedback_domain(row.feedback_domain);
    out->set_state(row.state);
    FromMicros(row.state_since_us, out->mutable_state_since());
    if (row.last_checked_us != 0) FromMicros(row.last_checked_us, out->mutable_last_checked_at());
    FromMicros(row.next_check_us, out->mutable_next_check_at());
    out->set_check_failures(static_cast<std::uint32_t>(row.check_failures));
    out->set_last_outcome(row.last_outcome);
    out->set_last_check_json(row.last_check_json);
    FromMicros(row.created_us, out->mutable_created_at());
    const dns::Recommendation rec = dns::Recommend(expect_, row.feedback_domain);
    v1::RecommendedRecords* records = out->mutable_records();
    for (const auto& mx : rec.mx)
        FillRecord(mx, records->add_mx());
    FillRecord(rec.spf, records->mutable_spf());
    FillRecord(rec.cname, records->mutable_cname());
    records->set_zone_file(rec.zone_file);
}

grpc::Status DomainServiceImpl::RegisterDomain(grpc::ServerContext* ctx, const v1::RegisterDomainRequest* req,
                                               v1::Domain* resp) {
    const char* method = "RegisterDomain";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    const std::string domain = NormalizeDnsName(req->domain());
    if (!IsHostName(domain, 2)) {
        return ToGrpc(absl::InvalidArgumentError(StrCat("domain: \"", req->domain().substr(0, 64),
                                                        "\" is not a domain name (like example.com)")),
                      method);
    }
    const std::string label =
        req->feedback_label().empty() ? std::string(kDefaultLabel) : NormalizeDnsName(req->feedback_label());
    if (!IsHostLabel(label)) {
        return ToGrpc(absl::InvalidArgumentError(StrCat("feedback_label: \"", req->feedback_label().substr(0, 64),
                                                        "\" is not a DNS label (a-z, 0-9, '-', 1-63 characters)")),
                      method);
    }
    const std::string feedback_domain = StrCat(label, ".", domain);
    if (feedback_domain.size() > 253) {
        return ToGrpc(absl::InvalidArgumentError("domain: too long for a feedback subdomain (at most 253 octets "
                                                 "with the label)"),
                      method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto row = storage::RegisterDomain(**conn, *account, domain, label, feedback_domain);
    if (!row.ok()) return ToGrpc(row.status(), method);
    Fill(*row, resp);
    return grpc::Status::OK;
}

grpc::Status DomainServiceImpl::GetDomain(grpc::ServerContext* ctx, const v1::GetDomainRequest* req, v1::Domain* resp) {
    const char* method = "GetDomain";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto id = DomainId(req->id());
    if (!id.ok()) return ToGrpc(id.status(), method);
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto row = storage::GetDomain(**conn, *account, *id);
    if (!row.ok()) return ToGrpc(row.status(), method);
    Fill(*row, resp);
    return grpc::Status::OK;
}

grpc::Status DomainServiceImpl::ListDomains(grpc::ServerContext* ctx, const v1::ListDomainsRequest* req,
                                            v1::ListDomainsResponse* resp) {
    const char* method = "ListDomains";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto size = PageSize(req->page_size());
    if (!size.ok()) return ToGrpc(size.status(), method);
    std::int64_t after = 0;
    if (!req->page_token().empty() && (!ParseInt(req->page_token(), &after) || after < 0)) {
        return ToGrpc(absl::InvalidArgumentError("page_token: invalid"), method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto rows = storage::ListDomains(**conn, *account, after, *size + 1);
    if (!rows.ok()) return ToGrpc(rows.status(), method);
    const std::size_t n = static_cast<std::size_t>(*size);
    for (std::size_t i = 0; i < rows->size() && i < n; ++i)
        Fill((*rows)[i], resp->add_domains());
    if (rows->size() > n) resp->set_next_page_token(std::to_string((*rows)[n - 1].id));
    return grpc::Status::OK;
}

grpc::Status DomainServiceImpl::DeleteDomain(grpc::ServerContext* ctx, const v1::DeleteDomainRequest* req,
                                             v1::DeleteDomainResponse* /*resp*/) {
    const char* method = "DeleteDomain";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto id = DomainId(req->id());
    if (!id.ok()) return ToGrpc(id.status(), method);
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    return ToGrpc(storage::DeleteDomain(**conn, *account, *id), method);
}

grpc::Status DomainServiceImpl::VerifyDomain(grpc::ServerContext* ctx, const v1::VerifyDomainRequest* req,
                                             v1::VerifyDomainResponse* resp) {
    const char* method = "VerifyDomain";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto id = DomainId(req->id());
    if (!id.ok()) return ToGrpc(id.status(), method);
    storage::SenderDomainRow row;
    {
        auto conn = pool_->Acquire();
        if (!conn.ok()) return ToGrpc(conn.status(), method);
        auto found = storage::GetDomain(**conn, *account, *id);
        if (!found.ok()) return ToGrpc(found.status(), method);
        row = std::move(*found);
    }
    auto result = dns::VerifyAndRecord(*pool_, row, expect_, schedule_, lookups_);
    if (!result.ok()) return ToGrpc(result.status(), method);
    Fill(result->domain, resp->mutable_domain());
    v1::DomainCheck* check = resp->mutable_check();
    check->set_outcome(std::string(dns::OutcomeName(result->check.outcome)));
    check->set_mode(result->check.mode);
    for (const dns::Record& r : result->check.found) {
        v1::DnsRecord* out = check->add_found();
        out->set_name(r.name);
        out->set_type(std::string(dns::TypeName(r.type)));
        out->set_ttl(r.ttl);
        out->set_preference(r.preference);
        out->set_value(SanitizeUtf8(r.data));
    }
    for (const dns::Verdict& v : result->check.verdicts) {
        v1::Verdict* out = check->add_verdicts();
        out->set_code(v.code);
        out->set_severity(std::string(dns::SeverityName(v.severity)));
        out->set_message(SanitizeUtf8(v.message));
    }
    return grpc::Status::OK;
}

grpc::Status DomainServiceImpl::ListStateChanges(grpc::ServerContext* ctx, const v1::ListStateChangesRequest* req,
                                                 v1::ListStateChangesResponse* resp) {
    const char* method = "ListStateChanges";
    auto account = auth_->RequireAccount(*ctx);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto size = PageSize(req->page_size());
    if (!size.ok()) return ToGrpc(size.status(), method);
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (req->domain_id() > kMax || req->after_id() > kMax) {
        return ToGrpc(absl::InvalidArgumentError("domain_id and after_id: out of range"), method);
    }
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    auto rows = storage::ListStateChanges(**conn, *account, static_cast<std::int64_t>(req->domain_id()),
                                          static_cast<std::int64_t>(req->after_id()), *size);
    if (!rows.ok()) return ToGrpc(rows.status(), method);
    for (const auto& c : *rows) {
        v1::StateChange* out = resp->add_changes();
        out->set_id(static_cast<std::uint64_t>(c.id));
        out->set_domain_id(static_cast<std::uint64_t>(c.domain_id));
        out->set_feedback_domain(c.feedback_domain);
        out->set_from_state(c.from_state);
        out->set_to_state(c.to_state);
        out->set_outcome(c.outcome);
        out->set_summary(c.summary);
        FromMicros(c.changed_us, out->mutable_changed_at());
    }
    return grpc::Status::OK;
}

}  // namespace rebound::api
