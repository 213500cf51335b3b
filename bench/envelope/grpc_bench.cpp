// envelope_grpc_bench: address generation streamed over gRPC on loopback (the goal:
// >= 500,000 addresses/s), using envelope.proto's StreamGenerateAddresses.
//
// The service here is a minimal stand-in written for this benchmark (no authentication, no
// account lookup: one fixed account), NOT the production EnvelopeService of services/api.
// It measures what the proto design, gRPC's transport and the codec allow together, so the
// real server has a figure to compare with. Two client patterns:
//   - range:  one request message naming 2,000,000 consecutive recipient ids; the server
//             streams responses of 10,000 addresses;
//   - ids:    the client streams batches of 10,000 explicit ids (a writer thread) while
//             reading responses.
// Reference in the same run: the same addresses generated into the same response messages
// and serialized, without gRPC (the ceiling the transport is measured against).

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rebound/v1/envelope.grpc.pb.h"
#include "services/envelope/codec.h"

namespace {

using rebound::envelope::Encoder;
using rebound::v1::StreamGenerateAddressesRequest;
using rebound::v1::StreamGenerateAddressesResponse;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kDay = 20414;
constexpr std::size_t kBatch = 10'000;
constexpr std::uint64_t kMailing = 1'234'567;
const std::string kDomain = "feedback.customer.example";

// Appends one address per id to `response`.
void AddAddresses(const Encoder& encoder, std::uint64_t first, std::size_t count, const std::uint64_t* ids,
                  StreamGenerateAddressesResponse* response) {
    char buf[rebound::envelope::kMaxLocalPartOctets + 1 + 256];
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t id = ids != nullptr ? ids[i] : first + i;
        std::size_t n = encoder.EncodeTo(kMailing, id, kDay, buf);
        buf[n++] = '@';
        kDomain.copy(buf + n, kDomain.size());
        response->add_addresses()->assign(buf, n + kDomain.size());
    }
}

class BenchService final : public rebound::v1::EnvelopeService::Service {
  public:
    explicit BenchService(Encoder encoder) : encoder_(std::move(encoder)) {}

    grpc::Status StreamGenerateAddresses(
        grpc::ServerContext* /*context*/,
        grpc::ServerReaderWriter<StreamGenerateAddressesResponse, StreamGenerateAddressesRequest>* stream) override {
        StreamGenerateAddressesRequest request;
        StreamGenerateAddressesResponse response;
        while (stream->Read(&request)) {
            std::uint64_t offset = 0;
            auto flush = [&](bool complete) {
                response.set_batch_id(request.batch_id());
                response.set_offset(offset);
                response.set_batch_complete(complete);
                response.set_key_id(encoder_.key_id());
                response.set_issued_day(kDay);
                offset += static_cast<std::uint64_t>(response.addresses_size());
                const bool ok = stream->Write(response);
                response.Clear();
                return ok;
            };
            const auto& ids = request.recipient_ids();
            for (int i = 0; i < ids.size(); i += static_cast<int>(kBatch)) {
                const std::size_t n = std::min<std::size_t>(kBatch, static_cast<std::size_t>(ids.size() - i));
                AddAddresses(encoder_, 0, n, ids.data() + i, &response);
                const bool last = request.ranges().empty() && i + static_cast<int>(n) == ids.size();
                if (!flush(last)) return grpc::Status::CANCELLED;
            }
            for (int r = 0; r < request.ranges_size(); ++r) {
                const auto& range = request.ranges(r);
                for (std::uint64_t done = 0; done < range.count(); done += kBatch) {
                    const std::size_t n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, range.count() - done));
                    AddAddresses(encoder_, range.first() + done, n, nullptr, &response);
                    const bool last = r + 1 == request.ranges_size() && done + n == range.count();
                    if (!flush(last)) return grpc::Status::CANCELLED;
                }
            }
        }
        return grpc::Status::OK;
    }

  private:
    Encoder encoder_;
};

struct Figure {
    double per_second = 0;
    std::uint64_t addresses = 0;
    std::uint64_t bytes = 0;
};

Figure RunRange(rebound::v1::EnvelopeService::Stub& stub, std::uint64_t total) {
    grpc::ClientContext ctx;
    const auto start = Clock::now();
    auto stream = stub.StreamGenerateAddresses(&ctx);
    StreamGenerateAddressesRequest request;
    request.set_mailing_id(kMailing);
    request.set_batch_id(1);
    auto* range = request.add_ranges();
    range->set_first(1'000'000);
    range->set_count(total);
    stream->Write(request);
    stream->WritesDone();
    StreamGenerateAddressesResponse response;
    Figure f;
    while (stream->Read(&response)) {
        f.addresses += static_cast<std::uint64_t>(response.addresses_size());
        for (const auto& a : response.addresses())
            f.bytes += a.size();
    }
    const grpc::Status status = stream->Finish();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (!status.ok()) std::fprintf(stderr, "range stream failed: %s\n", status.error_message().c_str());
    f.per_second = static_cast<double>(f.addresses) / elapsed;
    return f;
}

Figure RunIds(rebound::v1::EnvelopeService::Stub& stub, std::uint64_t total) {
    grpc::ClientContext ctx;
    const auto start = Clock::now();
    auto stream = stub.StreamGenerateAddresses(&ctx);
    std::thread writer([&] {
        StreamGenerateAddressesRequest request;
        request.set_mailing_id(kMailing);
        std::uint64_t next = 5'000'000'000ull;
        for (std::uint64_t sent = 0, batch = 0; sent < total; sent += kBatch, ++batch) {
            request.set_batch_id(batch);
            request.clear_recipient_ids();
            for (std::size_t i = 0; i < kBatch; ++i)
                request.add_recipient_ids(next += 7);  // sparse ids, as a platform would have
            if (!stream->Write(request)) break;
        }
        stream->WritesDone();
    });
    StreamGenerateAddressesResponse response;
    Figure f;
    while (stream->Read(&response)) {
        f.addresses += static_cast<std::uint64_t>(response.addresses_size());
        for (const auto& a : response.addresses())
            f.bytes += a.size();
    }
    writer.join();
    const grpc::Status status = stream->Finish();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (!status.ok()) std::fprintf(stderr, "ids stream failed: %s\n", status.error_message().c_str());
    f.per_second = static_cast<double>(f.addresses) / elapsed;
    return f;
}

// The same work without gRPC: fill responses of 10,000 and serialize them.
double RunInProcess(const Encoder& encoder, std::uint64_t total) {
    StreamGenerateAddressesResponse response;
    std::string wire;
    std::uint64_t sink = 0;
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < total; done += kBatch) {
        AddAddresses(encoder, 1'000'000 + done, kBatch, nullptr, &response);
        response.SerializeToString(&wire);
        sink += wire.size();
        response.Clear();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    return sink > 0 ? static_cast<double>(total) / elapsed : 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t total = 2'000'000;
    int rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--addresses") == 0)
            total = std::max<std::uint64_t>(kBatch, std::strtoull(argv[i + 1], nullptr, 10));
        if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
    }
    total = total / kBatch * kBatch;
    auto codec =
        rebound::envelope::Codec::Create("8f0e4c2a9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f", "b-", 60);
    if (!codec.ok()) return 1;
    auto encoder = codec->ForAccount({42, 3, {}});
    if (!encoder.ok()) return 1;

    BenchService service(*encoder);
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    builder.SetMaxSendMessageSize(16 * 1024 * 1024);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr || port == 0) {
        std::fprintf(stderr, "cannot start the loopback server\n");
        return 1;
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
    auto channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args);
    auto stub = rebound::v1::EnvelopeService::NewStub(channel);

    double in_process = 0;
    Figure range;
    Figure ids;
    for (int r = 0; r < rounds; ++r) {
        in_process = std::max(in_process, RunInProcess(*encoder, total));
        const Figure fr = RunRange(*stub, total);
        if (fr.per_second > range.per_second) range = fr;
        const Figure fi = RunIds(*stub, total);
        if (fi.per_second > ids.per_second) ids = fi;
    }
    if (range.addresses != total || ids.addresses != total) {
        std::fprintf(stderr, "expected %llu addresses, got %llu / %llu\n", static_cast<unsigned long long>(total),
                     static_cast<unsigned long long>(range.addresses), static_cast<unsigned long long>(ids.addresses));
        return 1;
    }
    std::printf(
        "envelope_grpc_bench: %llu addresses per stream (%.1f bytes each), batches of %zu, best of %d, "
        "client and server in one process on loopback (the machine's cores are shared by both)\n",
        static_cast<unsigned long long>(total), static_cast<double>(range.bytes) / static_cast<double>(total), kBatch,
        rounds);
    std::printf("%-52s %10.0f addresses/s\n", "reference: generate + serialize, no gRPC", in_process);
    std::printf("%-52s %10.0f addresses/s   x%.2f of reference\n", "gRPC stream, one range request", range.per_second,
                range.per_second / in_process);
    std::printf("%-52s %10.0f addresses/s   x%.2f of reference\n", "gRPC stream, client sends id batches",
                ids.per_second, ids.per_second / in_process);
    const double goal = 500'000;
    std::printf("goal >= %.0f/s: range %s (x%.2f), id batches %s (x%.2f)\n", goal,
                range.per_second >= goal ? "met" : "NOT met", range.per_second / goal,
                ids.per_second >= goal ? "met" : "NOT met", ids.per_second / goal);
    server->Shutdown();
    return 0;
}
