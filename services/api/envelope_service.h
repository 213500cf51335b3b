#pragma once

#include "rebound/v1/envelope.grpc.pb.h"
#include "services/api/auth.h"
#include "services/envelope/codec.h"
#include "storage/pool.h"

namespace rebound::api {

class EnvelopeServiceImpl final : public rebound::v1::EnvelopeService::Service {
  public:
    // All pointers must outlive the service.
    EnvelopeServiceImpl(storage::Pool* pool, Authenticator* auth, const envelope::Codec* codec)
        : pool_(pool), auth_(auth), codec_(codec) {}

    grpc::Status GenerateAddresses(grpc::ServerContext* ctx, const v1::GenerateAddressesRequest* req,
                                   v1::GenerateAddressesResponse* resp) override;
    grpc::Status StreamGenerateAddresses(grpc::ServerContext* ctx,
                                         grpc::ServerReaderWriter<v1::StreamGenerateAddressesResponse,
                                                                  v1::StreamGenerateAddressesRequest>* stream) override;
    grpc::Status DecodeAddress(grpc::ServerContext* ctx, const v1::DecodeAddressRequest* req,
                               v1::DecodeAddressResponse* resp) override;

  private:
    storage::Pool* pool_;
    Authenticator* auth_;
    const envelope::Codec* codec_;
};

}  // namespace rebound::api
