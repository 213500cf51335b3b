#pragma once

#include <atomic>

#include "rebound/v1/bounce.grpc.pb.h"
#include "services/api/auth.h"
#include "storage/pool.h"

namespace rebound::api {

class BounceServiceImpl final : public rebound::v1::BounceService::Service {
  public:
    BounceServiceImpl(storage::Pool* pool, Authenticator* auth) : pool_(pool), auth_(auth) {}

    grpc::Status ListEvents(grpc::ServerContext* ctx, const v1::ListEventsRequest* req,
                            v1::ListEventsResponse* resp) override;
    grpc::Status GetEvent(grpc::ServerContext* ctx, const v1::GetEventRequest* req, v1::BounceEvent* resp) override;
    grpc::Status GetMailingStats(grpc::ServerContext* ctx, const v1::GetMailingStatsRequest* req,
                                 v1::GetMailingStatsResponse* resp) override;
    grpc::Status GetDomainStats(grpc::ServerContext* ctx, const v1::GetDomainStatsRequest* req,
                                v1::GetDomainStatsResponse* resp) override;
    grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                             grpc::ServerWriter<v1::BounceEvent>* writer) override;

    // Ends running WatchEvents streams (at shutdown).
    void StopWatching() { stopping_ = true; }

  private:
    storage::Pool* pool_;
    Authenticator* auth_;
    std::atomic<bool> stopping_{false};
};

}  // namespace rebound::api
