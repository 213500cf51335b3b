#include "services/api/envelope_service.h"

#include <algorithm>
#include <ctime>

#include "services/api/status.h"
#include "services/common/strings.h"
#include "services/envelope/day.h"
#include "storage/account_store.h"

namespace rebound::api {
namespace {

constexpr std::size_t kMaxIdsPerCall = 10000;
constexpr int kMaxRangesPerMessage = 100;
constexpr std::uint64_t kMaxRangeCount = 100'000'000;
constexpr std::size_t kAddressesPerResponse = 10000;

std::string NormalizeDomain(std::string_view domain) {
    std::string d = AsciiLower(StripWhitespace(domain));
    if (!d.empty() && d.back() == '.') d.pop_back();
    return d;
}

// The caller's account: its key state and feedback domains.
struct AccountContext {
    std::int64_t account_id = 0;
    envelope::AccountKeys keys;
    std::vector<std::string> domains;

    bool HasDomain(const std::string& d) const { return std::find(domains.begin(), domains.end(), d) != domains.end(); }
};

absl::StatusOr<AccountContext> LoadAccount(storage::Pool* pool, std::int64_t account_id) {
    auto conn = pool->Acquire();
    if (!conn.ok()) return conn.status();
    auto account = storage::GetAccount(**conn, account_id);
    if (!account.ok()) return account.status();
    auto domains = storage::AccountFeedbackDomains(**conn, account_id);
    if (!domains.ok()) return domains.status();
    AccountContext ctx;
    ctx.account_id = account_id;
    ctx.keys = {static_cast<std::uint64_t>(account_id), account->envelope_key_id, account->retired_key_ids};
    ctx.domains = std::move(*domains);
    return ctx;
}

// The domain addresses are generated for: the requested one (which must be the account's)
// or the account's first.
absl::StatusOr<std::string> ChooseDomain(const AccountContext& account, std::string_view requested) {
    if (requested.empty()) {
        if (account.domains.empty()) {
            return absl::FailedPreconditionError("the account has no feedback domain yet: register one first");
        }
        return account.domains.front();
    }
    std::string d = NormalizeDomain(requested);
    if (!account.HasDomain(d)) return absl::InvalidArgumentError("domain: not a feedback domain of this account");
    return d;
}

// Appends local@domain to `out`.
void AppendAddress(const envelope::Encoder& encoder, std::uint64_t mailing, std::uint64_t recipient, std::uint32_t day,
                   const std::string& at_domain, std::string* out) {
    char local[envelope::kMaxLocalPartOctets];
    const std::size_t n = encoder.EncodeTo(mailing, recipient, day, local);
    out->reserve(n + at_domain.size());
    out->assign(local, n);
    out->append(at_domain);
}

v1::TokenStatus ToProto(envelope::TokenStatus s) {
    switch (s) {
        case envelope::TokenStatus::kValid:
            return v1::TOKEN_STATUS_VALID;
        case envelope::TokenStatus::kStale:
            return v1::TOKEN_STATUS_STALE;
        case envelope::TokenStatus::kForged:
            return v1::TOKEN_STATUS_FORGED;
        case envelope::TokenStatus::kMalformed:
            return v1::TOKEN_STATUS_MALFORMED;
        case envelope::TokenStatus::kUnknownKey:
            return v1::TOKEN_STATUS_UNKNOWN_KEY;
        case envelope::TokenStatus::kRetiredKey:
            return v1::TOKEN_STATUS_RETIRED_KEY;
    }
    return v1::TOKEN_STATUS_UNSPECIFIED;
}

}  // namespace

grpc::Status EnvelopeServiceImpl::GenerateAddresses(grpc::ServerContext* ctx, const v1::GenerateAddressesRequest* req,
                                                    v1::GenerateAddressesResponse* resp) {
    const char* method = "GenerateAddresses";
    auto account_id = auth_->RequireAccount(*ctx);
    if (!account_id.ok()) return ToGrpc(account_id.status(), method);
    if (static_cast<std::size_t>(req->recipient_ids_size()) > kMaxIdsPerCall) {
        return ToGrpc(absl::InvalidArgumentError("recipient_ids: at most 10000 per call; use StreamGenerateAddresses"),
                      method);
    }
    auto account = LoadAccount(pool_, *account_id);
    if (!account.ok()) return ToGrpc(account.status(), method);
    auto domain = ChooseDomain(*account, req->domain());
    if (!domain.ok()) return ToGrpc(domain.status(), method);
    auto encoder = codec_->ForAccount(account->keys);
    if (!encoder.ok()) return ToGrpc(absl::FailedPreconditionError(std::string(encoder.status().message())), method);
    const std::uint32_t today = envelope::Today();
    const std::string at_domain = "@" + *domain;
    resp->mutable_addresses()->Reserve(req->recipient_ids_size());
    for (std::uint64_t id : req->recipient_ids()) {
        AppendAddress(*encoder, req->mailing_id(), id, today, at_domain, resp->add_addresses());
    }
    resp->set_key_id(encoder->key_id());
    resp->set_issued_day(today);
    return grpc::Status::OK;
}

grpc::Status EnvelopeServiceImpl::StreamGenerateAddresses(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::StreamGenerateAddressesResponse, v1::StreamGenerateAddressesRequest>* stream) {
    const char* method = "StreamGenerateAddresses";
    auto account_id = auth_->RequireAccount(*ctx);
    if (!account_id.ok()) return ToGrpc(account_id.status(), method);

    v1::StreamGenerateAddressesRequest req;
    std::optional<AccountContext> account;
    std::optional<envelope::Encoder> encoder;
    std::uint64_t mailing = 0;
    std::string at_domain;
    std::uint32_t today = 0;
    v1::StreamGenerateAddressesResponse resp;
    while (stream->Read(&req)) {
        if (!account) {
            auto loaded = LoadAccount(pool_, *account_id);
            if (!loaded.ok()) return ToGrpc(loaded.status(), method);
            account = std::move(*loaded);
            auto domain = ChooseDomain(*account, req.domain());
            if (!domain.ok()) return ToGrpc(domain.status(), method);
            auto enc = codec_->ForAccount(account->keys);
            if (!enc.ok()) return ToGrpc(absl::FailedPreconditionError(std::string(enc.status().message())), method);
            encoder = std::move(*enc);
            mailing = req.mailing_id();
            at_domain = "@" + *domain;
            today = envelope::Today();
        } else {
            if (req.mailing_id() != 0 && req.mailing_id() != mailing) {
                return ToGrpc(absl::InvalidArgumentError("mailing_id: a stream serves one mailing"), method);
            }
            if (!req.domain().empty() && "@" + NormalizeDomain(req.domain()) != at_domain) {
                return ToGrpc(absl::InvalidArgumentError("domain: a stream serves one domain"), method);
            }
        }
        if (static_cast<std::size_t>(req.recipient_ids_size()) > kMaxIdsPerCall) {
            return ToGrpc(absl::InvalidArgumentError("recipient_ids: at most 10000 per message"), method);
        }
        if (req.ranges_size() > kMaxRangesPerMessage) {
            return ToGrpc(absl::InvalidArgumentError("ranges: at most 100 per message"), method);
        }
        for (const v1::RecipientRange& r : req.ranges()) {
            if (r.count() > kMaxRangeCount) {
                return ToGrpc(absl::InvalidArgumentError("ranges.count: at most 100000000 per range"), method);
            }
            if (r.count() > 0 && r.first() > UINT64_MAX - (r.count() - 1)) {
                return ToGrpc(absl::InvalidArgumentError("ranges: first + count - 1 passes 2^64-1"), method);
            }
        }

        // The ids of this message in order: explicit ids, then each range.
        std::uint64_t offset = 0;
        resp.Clear();
        resp.set_batch_id(req.batch_id());
        resp.set_key_id(encoder->key_id());
        resp.set_issued_day(today);
        auto flush = [&](bool complete) -> bool {
            resp.set_offset(offset);
            resp.set_batch_complete(complete);
            offset += static_cast<std::uint64_t>(resp.addresses_size());
            const bool ok = stream->Write(resp);
            resp.clear_addresses();
            return ok;
        };
        auto emit = [&](std::uint64_t id) -> bool {
            AppendAddress(*encoder, mailing, id, today, at_domain, resp.add_addresses());
            if (static_cast<std::size_t>(resp.addresses_size()) == kAddressesPerResponse) return flush(false);
            return true;
        };
        for (std::uint64_t id : req.recipient_ids()) {
            if (!emit(id)) return grpc::Status::OK;  // the client went away
        }
        for (const v1::RecipientRange& r : req.ranges()) {
            for (std::uint64_t i = 0; i < r.count(); ++i) {
                if (!emit(r.first() + i)) return grpc::Status::OK;
                if ((i & 0xFFFF) == 0 && ctx->IsCancelled())
                    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
            }
        }
        if (!flush(true)) return grpc::Status::OK;
    }
    return grpc::Status::OK;
}

grpc::Status EnvelopeServiceImpl::DecodeAddress(grpc::ServerContext* ctx, const v1::DecodeAddressRequest* req,
                                                v1::DecodeAddressResponse* resp) {
    const char* method = "DecodeAddress";
    auto account_id = auth_->RequireAccount(*ctx);
    if (!account_id.ok()) return ToGrpc(account_id.status(), method);
    if (req->address().empty() || req->address().size() > 320) {
        return ToGrpc(absl::InvalidArgumentError("address: 1 to 320 characters"), method);
    }
    auto account = LoadAccount(pool_, *account_id);
    if (!account.ok()) return ToGrpc(account.status(), method);
    std::string_view local = req->address();
    std::string_view domain;
    if (req->address().find('@') != std::string::npos) {
        if (!envelope::SplitAddress(req->address(), &local, &domain)) {
            return ToGrpc(absl::InvalidArgumentError("address: expected local@domain"), method);
        }
        if (!account->HasDomain(NormalizeDomain(domain))) {
            resp->set_status(v1::TOKEN_STATUS_UNKNOWN_DOMAIN);
            return grpc::Status::OK;
        }
    }
    const envelope::Decoded d = codec_->DecodeLocalPart(local, account->keys, envelope::Today());
    resp->set_status(ToProto(d.status));
    if (envelope::IsAttributed(d.status)) {
        resp->set_attributed(true);
        resp->set_mailing_id(d.token.mailing_id);
        resp->set_recipient_id(d.token.recipient_id);
        resp->set_key_id(d.token.key_id);
        resp->set_issued_day(d.token.issued_day);
        resp->set_issued_date(envelope::FormatDay(d.token.issued_day));
        resp->set_version(d.token.version);
        resp->set_account_id(static_cast<std::uint64_t>(*account_id));
    }
    return grpc::Status::OK;
}

}  // namespace rebound::api
