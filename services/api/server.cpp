#include "services/api/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>

#include "services/api/account_service.h"
#include "services/api/admin_service.h"
#include "services/api/auth.h"
#include "services/api/bounce_service.h"
#include "services/api/domain_service.h"
#include "services/api/envelope_service.h"
#include "services/api/status.h"
#include "services/api/suppression_service.h"
#include "services/api/system_service.h"
#include "services/common/log.h"
#include "services/common/strings.h"
#include "storage/database.h"

namespace rebound::api {

grpc::Status ToGrpc(const absl::Status& status, std::string_view method) {
    if (status.ok()) return grpc::Status::OK;
    static std::atomic<std::uint64_t> next_id{1};
    const std::string_view message(status.message().data(), status.message().size());
    // Messages from the database are for the log, never for a client.
    const bool from_database = storage::IsDatabaseError(status);
    auto code = static_cast<grpc::StatusCode>(status.code());
    switch (status.code()) {
        case absl::StatusCode::kInvalidArgument:
        case absl::StatusCode::kNotFound:
        case absl::StatusCode::kAlreadyExists:
        case absl::StatusCode::kPermissionDenied:
        case absl::StatusCode::kUnauthenticated:
        case absl::StatusCode::kFailedPrecondition:
        case absl::StatusCode::kOutOfRange:
        case absl::StatusCode::kResourceExhausted:
            // These messages are written for clients by the service code.
            if (!from_database) return grpc::Status(code, std::string(message));
            code = grpc::StatusCode::INTERNAL;  // a constraint the service code did not expect
            break;
        default:
            break;
    }
    const std::uint64_t id = next_id.fetch_add(1);
    log::Error("grpc.error").Kv("method", method).Kv("error_id", id).Kv("status", status.ToString());
    const char* what = code == grpc::StatusCode::UNAVAILABLE         ? "service temporarily unavailable"
                       : code == grpc::StatusCode::DEADLINE_EXCEEDED ? "deadline exceeded"
                                                                     : "internal error";
    return grpc::Status(code, StrCat(what, " (error id ", id, ")"));
}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const config::GrpcConfig& config, Dependencies deps) {
    std::unique_ptr<ApiServer> api(new ApiServer());
    api->auth_ = std::make_unique<Authenticator>(deps.pool, config.admin_key);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    int bound_port = 0;
    builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &bound_port);
    builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
    builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes));
    api->services_.push_back(std::make_unique<SystemServiceImpl>(deps.pool, deps.known_schema_version));
    api->services_.push_back(std::make_unique<AccountServiceImpl>(deps.pool, api->auth_.get()));
    api->services_.push_back(std::make_unique<EnvelopeServiceImpl>(deps.pool, api->auth_.get(), deps.codec));
    api->services_.push_back(std::make_unique<SuppressionServiceImpl>(deps.pool, api->auth_.get()));
    api->services_.push_back(std::make_unique<DomainServiceImpl>(deps.pool, api->auth_.get(), deps.dns));
    if (deps.domains != nullptr) {
        api->services_.push_back(
            std::make_unique<AdminServiceImpl>(deps.pool, api->auth_.get(), deps.codec, deps.domains));
    }
    auto bounce = std::make_unique<BounceServiceImpl>(deps.pool, api->auth_.get());
    api->bounce_ = bounce.get();
    api->services_.push_back(std::move(bounce));
    for (auto& service : api->services_)
        builder.RegisterService(service.get());
    api->server_ = builder.BuildAndStart();
    if (api->server_ == nullptr || bound_port == 0) {
        return absl::UnavailableError(StrCat("grpc.listen: cannot listen on ", config.listen));
    }
    const std::size_t colon = config.listen.rfind(':');
    api->address_ = StrCat(config.listen.substr(0, colon), ":", bound_port);
    return api;
}

void ApiServer::Shutdown(std::chrono::milliseconds deadline) {
    if (server_ == nullptr) return;
    // Streams that would otherwise run until the deadline end now.
    if (bounce_ != nullptr) bounce_->StopWatching();
    server_->Shutdown(std::chrono::system_clock::now() + deadline);
    server_->Wait();
    server_.reset();
}

ApiServer::~ApiServer() {
    Shutdown(std::chrono::milliseconds(0));
}

}  // namespace rebound::api
