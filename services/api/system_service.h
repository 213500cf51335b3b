#pragma once

#include "rebound/v1/system.grpc.pb.h"
#include "storage/pool.h"

namespace rebound::api {

class SystemServiceImpl final : public rebound::v1::SystemService::Service {
  public:
    // `pool` must outlive the service.
    SystemServiceImpl(storage::Pool* pool, std::int64_t known_schema_version)
        : pool_(pool), known_schema_version_(known_schema_version) {}

    grpc::Status GetInfo(grpc::ServerContext* context, const rebound::v1::GetInfoRequest* request,
                         rebound::v1::GetInfoResponse* response) override;

  private:
    storage::Pool* pool_;
    std::int64_t known_schema_version_;
};

}  // namespace rebound::api
