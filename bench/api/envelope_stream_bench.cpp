// EnvelopeService.StreamGenerateAddresses over a real gRPC channel on loopback: addresses
// per second for one mailing of N recipients (one range), against the reference measured
// in the same run: the codec alone encoding the same addresses on one core.
//
//   envelope_stream_bench [N]        (default 5,000,000)

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "rebound/v1/account.grpc.pb.h"
#include "rebound/v1/envelope.grpc.pb.h"
#include "services/api/server.h"
#include "storage/database.h"
#include "storage/migrations.h"

using namespace rebound;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kAdminKey = "bench-admin-key-0123456789abcdef";
const std::string kMasterKey(64, 'b');

int Run(const std::string& cmd) {
    return std::system(cmd.c_str());
}

double Seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
    const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5'000'000;
    char tmpl[] = "/tmp/rebound-bench-api-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const int port = 57500 + ::getpid() % 400;
    const std::string pg =
        std::string(REBOUND_SOURCE_DIR) + "/tools/pg-local --dir " + dir + "/pg --port " + std::to_string(port);
    if (Run(pg + " start") != 0) return 1;
    const std::string url = "host=" + dir + "/pg port=" + std::to_string(port) + " user=postgres dbname=rebound";
    int rc = 1;
    {
        auto conn = storage::Connect(url);
        auto migrations = storage::BuiltinMigrations();
        if (!conn.ok() || !migrations.ok() || !storage::Migrate(**conn, *migrations).ok()) {
            std::fprintf(stderr, "database setup failed\n");
        } else {
            storage::Pool pool(url, 4);
            auto codec = envelope::Codec::Create(kMasterKey, "", 60);
            config::GrpcConfig cfg;
            cfg.listen = "127.0.0.1:0";
            cfg.admin_key = kAdminKey;
            auto server = api::ApiServer::Start(cfg, {&pool, &*codec, 1});
            auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
            auto accounts = v1::AccountService::NewStub(channel);
            auto envelope_stub = v1::EnvelopeService::NewStub(channel);

            grpc::ClientContext c1;
            c1.AddMetadata("authorization", "Bearer " + kAdminKey);
            v1::CreateAccountRequest areq;
            areq.set_name("bench");
            v1::Account account;
            accounts->CreateAccount(&c1, areq, &account);
            {
                pqxx::work tx(**conn);
                tx.exec_params(
                    "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES ($1, "
                    "'customer.example', 'feedback.customer.example')",
                    static_cast<std::int64_t>(account.id()));
                tx.commit();
            }
            grpc::ClientContext c2;
            c2.AddMetadata("authorization", "Bearer " + kAdminKey);
            v1::CreateApiKeyRequest kreq;
            kreq.set_account_id(account.id());
            v1::CreateApiKeyResponse key;
            accounts->CreateApiKey(&c2, kreq, &key);

            // Reference: the codec alone, one core, the same addresses.
            const envelope::AccountKeys keys{account.id(), 1, {}};
            auto encoder = codec->ForAccount(keys);
            const std::uint32_t today = static_cast<std::uint32_t>(std::time(nullptr) / 86400);
            std::size_t sink = 0;
            const auto r0 = Clock::now();
            char local[envelope::kMaxLocalPartOctets];
            std::string address;
            for (std::uint64_t i = 0; i < n; ++i) {
                const std::size_t len = encoder->EncodeTo(42, i, today, local);
                address.assign(local, len);
                address.append("@feedback.customer.example");
                sink += address.size();
            }
            const double ref_s = Seconds(r0, Clock::now());

            grpc::ClientContext c3;
            c3.AddMetadata("authorization", "Bearer " + key.api_key());
            const auto g0 = Clock::now();
            auto stream = envelope_stub->StreamGenerateAddresses(&c3);
            v1::StreamGenerateAddressesRequest req;
            req.set_mailing_id(42);
            auto* range = req.add_ranges();
            range->set_first(0);
            range->set_count(n);
            stream->Write(req);
            stream->WritesDone();
            v1::StreamGenerateAddressesResponse resp;
            std::uint64_t received = 0;
            while (stream->Read(&resp))
                received += static_cast<std::uint64_t>(resp.addresses_size());
            grpc::Status st = stream->Finish();
            const double grpc_s = Seconds(g0, Clock::now());
            if (!st.ok() || received != n) {
                std::fprintf(stderr, "stream failed: %s (%llu of %llu)\n", st.error_message().c_str(),
                             static_cast<unsigned long long>(received), static_cast<unsigned long long>(n));
            } else {
                std::printf("addresses: %llu (checksum %zu)\n", static_cast<unsigned long long>(n), sink % 10);
                std::printf("codec alone, one core:      %12.0f addresses/s\n", static_cast<double>(n) / ref_s);
                std::printf("gRPC stream over loopback:  %12.0f addresses/s\n", static_cast<double>(n) / grpc_s);
                std::printf("ratio stream / codec:       %12.2f\n", ref_s / grpc_s);
                std::printf("goal >= 500,000 addresses/s: %s\n",
                            static_cast<double>(n) / grpc_s >= 500000 ? "met" : "NOT met");
                rc = 0;
            }
            (*server)->Shutdown(std::chrono::seconds(1));
        }
    }
    Run(pg + " stop");
    Run("rm -rf " + dir);
    return rc;
}
