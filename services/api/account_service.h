#pragma once

#include "rebound/v1/account.grpc.pb.h"
#include "services/api/auth.h"
#include "storage/pool.h"

namespace rebound::api {

class AccountServiceImpl final : public rebound::v1::AccountService::Service {
  public:
    AccountServiceImpl(storage::Pool* pool, Authenticator* auth) : pool_(pool), auth_(auth) {}

    grpc::Status CreateAccount(grpc::ServerContext* ctx, const v1::CreateAccountRequest* req,
                               v1::Account* resp) override;
    grpc::Status GetAccount(grpc::ServerContext* ctx, const v1::GetAccountRequest* req, v1::Account* resp) override;
    grpc::Status ListAccounts(grpc::ServerContext* ctx, const v1::ListAccountsRequest* req,
                              v1::ListAccountsResponse* resp) override;
    grpc::Status CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                              v1::CreateApiKeyResponse* resp) override;
    grpc::Status RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                              v1::RevokeApiKeyResponse* resp) override;
    grpc::Status RotateEnvelopeKey(grpc::ServerContext* ctx, const v1::RotateEnvelopeKeyRequest* req,
                                   v1::Account* resp) override;
    grpc::Status RetireEnvelopeKey(grpc::ServerContext* ctx, const v1::RetireEnvelopeKeyRequest* req,
                                   v1::Account* resp) override;

  private:
    storage::Pool* pool_;
    Authenticator* auth_;
};

}  // namespace rebound::api
