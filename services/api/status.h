#pragma once
// The one place where Rebound's absl::Status values become gRPC statuses. Internal details
// (SQL text, server errors) never reach a client: they are logged with a request id and
// the client gets a generic message naming that id.

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "absl/status/status.h"

namespace rebound::api {

grpc::Status ToGrpc(const absl::Status& status, std::string_view method);

}  // namespace rebound::api
