#include "services/api/account_service.h"

#include "services/api/status.h"
#include "services/common/log.h"
#include "services/common/strings.h"
#include "storage/account_store.h"

namespace rebound::api {
namespace {

void Fill(const storage::AccountRow& row, v1::Account* out) {
    out->set_id(static_cast<std::uint64_t>(row.id));
    out->set_name(row.name);
    out->set_envelope_key_id(row.envelope_key_id);
    for (std::uint32_t k : row.retired_key_ids)
        out->add_retired_envelope_key_ids(k);
    out->set_created_at(row.created_at);
}

absl::Status CheckAccountId(std::uint64_t id) {
    if (id == 0 || id > static_cast<std::uint64_t>(INT64_MAX)) {
        return absl::InvalidArgumentError("account_id: required");
    }
    return absl::OkStatus();
}

// Admin check, then a pooled connection, then `fn(conn)` returning a status.
template <typename Fn>
grpc::Status AdminCall(Authenticator* auth, storage::Pool* pool, grpc::ServerContext* ctx, const char* method,
                       Fn&& fn) {
    if (absl::Status s = auth->RequireAdmin(*ctx); !s.ok()) return ToGrpc(s, method);
    auto conn = pool->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), method);
    return ToGrpc(fn(**conn), method);
}

}  // namespace

grpc::Status AccountServiceImpl::CreateAccount(grpc::ServerContext* ctx, const v1::CreateAccountRequest* req,
                                               v1::Account* resp) {
    const std::string name(StripWhitespace(req->name()));
    if (name.empty() || name.size() > 200) {
        return ToGrpc(absl::InvalidArgumentError("name: 1 to 200 characters"), "CreateAccount");
    }
    if (SanitizeUtf8(name) != name)
        return ToGrpc(absl::InvalidArgumentError("name: must be UTF-8 text"), "CreateAccount");
    return AdminCall(auth_, pool_, ctx, "CreateAccount", [&](pqxx::connection& conn) -> absl::Status {
        auto row = storage::CreateAccount(conn, name);
        if (!row.ok()) return row.status();
        Fill(*row, resp);
        log::Info("account.created").Kv("account", row->id);
        return absl::OkStatus();
    });
}

grpc::Status AccountServiceImpl::GetAccount(grpc::ServerContext* ctx, const v1::GetAccountRequest* req,
                                            v1::Account* resp) {
    if (absl::Status s = CheckAccountId(req->account_id()); !s.ok()) return ToGrpc(s, "GetAccount");
    return AdminCall(auth_, pool_, ctx, "GetAccount", [&](pqxx::connection& conn) -> absl::Status {
        auto row = storage::GetAccount(conn, static_cast<std::int64_t>(req->account_id()));
        if (!row.ok()) return row.status();
        Fill(*row, resp);
        return absl::OkStatus();
    });
}

grpc::Status AccountServiceImpl::ListAccounts(grpc::ServerContext* ctx, const v1::ListAccountsRequest* req,
                                              v1::ListAccountsResponse* resp) {
    const std::uint32_t size = req->page_size() == 0 ? 100 : req->page_size();
    if (size > 1000) return ToGrpc(absl::InvalidArgumentError("page_size: at most 1000"), "ListAccounts");
    std::int64_t after = 0;
    if (!req->page_token().empty() && (!ParseInt(req->page_token(), &after) || after < 0)) {
        return ToGrpc(absl::InvalidArgumentError("page_token: not a token from a previous response"), "ListAccounts");
    }
    return AdminCall(auth_, pool_, ctx, "ListAccounts", [&](pqxx::connection& conn) -> absl::Status {
        auto rows = storage::ListAccounts(conn, after, static_cast<int>(size) + 1);
        if (!rows.ok()) return rows.status();
        for (std::size_t i = 0; i < rows->size() && i < size; ++i)
            Fill((*rows)[i], resp->add_accounts());
        if (rows->size() > size) resp->set_next_page_token(std::to_string((*rows)[size - 1].id));
        return absl::OkStatus();
    });
}

grpc::Status AccountServiceImpl::CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                                              v1::CreateApiKeyResponse* resp) {
    if (absl::Status s = CheckAccountId(req->account_id()); !s.ok()) return ToGrpc(s, "CreateApiKey");
    if (req->label().size() > 200 || SanitizeUtf8(req->label()) != req->label()) {
        return ToGrpc(absl::InvalidArgumentError("label: at most 200 characters of UTF-8 text"), "CreateApiKey");
    }
    return AdminCall(auth_, pool_, ctx, "CreateApiKey", [&](pqxx::connection& conn) -> absl::Status {
        const auto id = static_cast<std::int64_t>(req->account_id());
        if (auto account = storage::GetAccount(conn, id); !account.ok()) return account.status();
        NewApiKey key = GenerateApiKey();
        if (absl::Status s = storage::InsertApiKey(conn, id, key.prefix, key.sha256, req->label()); !s.ok()) return s;
        auth_->Forget(key.prefix);  // in case the prefix was tried before it existed
        resp->set_api_key(key.key);
        resp->set_prefix(key.prefix);
        log::Info("api_key.created").Kv("account", id).Kv("prefix", key.prefix);
        return absl::OkStatus();
    });
}

grpc::Status AccountServiceImpl::RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                                              v1::RevokeApiKeyResponse* resp) {
    // The whole key or its prefix: the prefix is rbk_ + 12 characters.
    const std::string prefix = req->prefix().substr(0, 16);
    if (prefix.size() != 16 || !prefix.starts_with("rbk_")) {
        return ToGrpc(absl::InvalidArgumentError("prefix: expected rbk_ and 12 characters"), "RevokeApiKey");
    }
    return AdminCall(auth_, pool_, ctx, "RevokeApiKey", [&](pqxx::connection& conn) -> absl::Status {
        auto account = storage::RevokeApiKey(conn, prefix);
        if (!account.ok()) return account.status();
        auth_->Forget(prefix);
        resp->set_account_id(static_cast<std::uint64_t>(*account));
        log::Info("api_key.revoked").Kv("account", *account).Kv("prefix", prefix);
        return absl::OkStatus();
    });
}

grpc::Status AccountServiceImpl::RotateEnvelopeKey(grpc::ServerContext* ctx, const v1::RotateEnvelopeKeyRequest* req,
                                                   v1::Account* resp) {
    if (absl::Status s = CheckAccountId(req->account_id()); !s.ok()) return ToGrpc(s, "RotateEnvelopeKey");
    return AdminCall(auth_, pool_, ctx, "RotateEnvelopeKey", [&](pqxx::connection& conn) -> absl::Status {
        auto row = storage::RotateEnvelopeKey(conn, static_cast<std::int64_t>(req->account_id()));
        if (!row.ok()) return row.status();
        Fill(*row, resp);
        log::Info("envelope_key.rotated").Kv("account", row->id).Kv("key_id", row->envelope_key_id);
        return absl::OkStatus();
    });
}

grpc::Status AccountServiceImpl::RetireEnvelopeKey(grpc::ServerContext* ctx, const v1::RetireEnvelopeKeyRequest* req,
                                                   v1::Account* resp) {
    if (absl::Status s = CheckAccountId(req->account_id()); !s.ok()) return ToGrpc(s, "RetireEnvelopeKey");
    if (req->key_id() == 0) return ToGrpc(absl::InvalidArgumentError("key_id: required"), "RetireEnvelopeKey");
    return AdminCall(auth_, pool_, ctx, "RetireEnvelopeKey", [&](pqxx::connection& conn) -> absl::Status {
        auto row = storage::RetireEnvelopeKey(conn, static_cast<std::int64_t>(req->account_id()), req->key_id());
        if (!row.ok()) return row.status();
        Fill(*row, resp);
        log::Info("envelope_key.retired").Kv("account", row->id).Kv("key_id", req->key_id());
        return absl::OkStatus();
    });
}

}  // namespace rebound::api
