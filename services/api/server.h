#pragma once
// The gRPC front of reboundd: Rebound's services plus standard health checking and server
// reflection (so grpcurl and grpc_cli work).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/config/config.h"
#include "services/envelope/codec.h"
#include "services/ingest/domain_directory.h"
#include "storage/pool.h"

namespace rebound::api {

class ApiServer {
  public:
    struct Dependencies {
        storage::Pool* pool = nullptr;           // must outlive the server
        const envelope::Codec* codec = nullptr;  // must outlive the server
        std::int64_t known_schema_version = 0;
        // For reprocessing; may be null (AdminService.Reprocess then answers UNAVAILABLE).
        ingest::DomainDirectory* domains = nullptr;
        // Rebound's expected records and the resolvers for DomainService.VerifyDomain.
        config::DnsConfig dns;
    };
    // Binds config.listen (port 0 picks a free one) and starts serving.
    static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const config::GrpcConfig& config, Dependencies deps);
    ~ApiServer();

    // The address actually bound, e.g. "127.0.0.1:50051".
    const std::string& address() const { return address_; }
    // Stops accepting calls and waits for running ones up to `deadline`.
    void Shutdown(std::chrono::milliseconds deadline);

  private:
    ApiServer() = default;
    std::unique_ptr<class Authenticator> auth_;
    class BounceServiceImpl* bounce_ = nullptr;
    std::vector<std::unique_ptr<grpc::Service>> services_;
    std::unique_ptr<grpc::Server> server_;
    std::string address_;
};

}  // namespace rebound::api
