#pragma once

#include "rebound/v1/suppression.grpc.pb.h"
#include "services/api/auth.h"
#include "storage/pool.h"

namespace rebound::api {

class SuppressionServiceImpl final : public rebound::v1::SuppressionService::Service {
  public:
    SuppressionServiceImpl(storage::Pool* pool, Authenticator* auth) : pool_(pool), auth_(auth) {}

    grpc::Status ListSuppressions(grpc::ServerContext* ctx, const v1::ListSuppressionsRequest* req,
                                  v1::ListSuppressionsResponse* resp) override;
    grpc::Status CheckSuppressions(grpc::ServerContext* ctx, const v1::CheckSuppressionsRequest* req,
                                   v1::CheckSuppressionsResponse* resp) override;
    grpc::Status AddSuppression(grpc::ServerContext* ctx, const v1::AddSuppressionRequest* req,
                                v1::Suppression* resp) override;
    grpc::Status RemoveSuppression(grpc::ServerContext* ctx, const v1::RemoveSuppressionRequest* req,
                                   v1::RemoveSuppressionResponse* resp) override;
    grpc::Status ExportSuppressions(grpc::ServerContext* ctx, const v1::ExportSuppressionsRequest* req,
                                    grpc::ServerWriter<v1::Suppression>* writer) override;
    grpc::Status GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest* req,
                           v1::SuppressionPolicy* resp) override;
    grpc::Status SetPolicy(grpc::ServerContext* ctx, const v1::SuppressionPolicy* req,
                           v1::SuppressionPolicy* resp) override;

  private:
    storage::Pool* pool_;
    Authenticator* auth_;
};

}  // namespace rebound::api
