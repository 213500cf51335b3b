#pragma once

#include "rebound/v1/domain.grpc.pb.h"
#include "services/api/auth.h"
#include "services/config/config.h"
#include "services/dns/records.h"
#include "services/dns/state.h"
#include "services/dns/verify.h"
#include "storage/pool.h"

namespace rebound::api {

class DomainServiceImpl final : public rebound::v1::DomainService::Service {
  public:
    DomainServiceImpl(storage::Pool* pool, Authenticator* auth, const config::DnsConfig& dns);

    grpc::Status RegisterDomain(grpc::ServerContext* ctx, const v1::RegisterDomainRequest* req,
                                v1::Domain* resp) override;
    grpc::Status GetDomain(grpc::ServerContext* ctx, const v1::GetDomainRequest* req, v1::Domain* resp) override;
    grpc::Status ListDomains(grpc::ServerContext* ctx, const v1::ListDomainsRequest* req,
                             v1::ListDomainsResponse* resp) override;
    grpc::Status DeleteDomain(grpc::ServerContext* ctx, const v1::DeleteDomainRequest* req,
                              v1::DeleteDomainResponse* resp) override;
    grpc::Status VerifyDomain(grpc::ServerContext* ctx, const v1::VerifyDomainRequest* req,
                              v1::VerifyDomainResponse* resp) override;
    grpc::Status ListStateChanges(grpc::ServerContext* ctx, const v1::ListStateChangesRequest* req,
                                  v1::ListStateChangesResponse* resp) override;

  private:
    void Fill(const storage::SenderDomainRow& row, v1::Domain* out) const;

    storage::Pool* pool_;
    Authenticator* auth_;
    const dns::Expectation expect_;
    const dns::Schedule schedule_;
    const dns::LookupFactory lookups_;
};

}  // namespace rebound::api
