#pragma once

#include "rebound/v1/admin.grpc.pb.h"
#include "services/api/auth.h"
#include "services/envelope/codec.h"
#include "services/ingest/domain_directory.h"
#include "storage/pool.h"

namespace rebound::api {

class AdminServiceImpl final : public rebound::v1::AdminService::Service {
  public:
    AdminServiceImpl(storage::Pool* pool, Authenticator* auth, const envelope::Codec* codec,
                     ingest::DomainDirectory* domains)
        : pool_(pool), auth_(auth), codec_(codec), domains_(domains) {}

    grpc::Status Reprocess(grpc::ServerContext* ctx, const v1::ReprocessRequest* req,
                           v1::ReprocessResponse* resp) override;

  private:
    storage::Pool* pool_;
    Authenticator* auth_;
    const envelope::Codec* codec_;
    ingest::DomainDirectory* domains_;
};

}  // namespace rebound::api
