#include "services/api/system_service.h"

#include "services/api/status.h"
#include "storage/migrations.h"

namespace rebound::api {

grpc::Status SystemServiceImpl::GetInfo(grpc::ServerContext* /*context*/,
                                        const rebound::v1::GetInfoRequest* /*request*/,
                                        rebound::v1::GetInfoResponse* response) {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return ToGrpc(conn.status(), "GetInfo");
    auto version = storage::SchemaVersion(**conn);
    if (!version.ok()) return ToGrpc(version.status(), "GetInfo");
    response->set_version(REBOUND_VERSION);
    response->set_schema_version(*version);
    response->set_known_schema_version(known_schema_version_);
    return grpc::Status::OK;
}

}  // namespace rebound::api
