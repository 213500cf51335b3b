// envelope_bench: tokens per second on one core (the goal: >= 2 million/s for both
// encode and decode+verify), next to references measured in the same run:
//   - OpenSSL's one-shot HMAC() over the same token bytes (what a naive codec would pay
//     per token for the MAC alone, key setup included);
//   - EVP_MAC with the context kept and re-initialised per message.
// Each figure is the best of several ~0.3 s rounds, so noise from other processes on a
// shared machine lowers the chance of a bad figure rather than inventing a good one.
//
// Usage: envelope_bench [--rounds N] [--seconds S]

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "services/envelope/codec.h"
#include "services/envelope/keys.h"

namespace {

using rebound::envelope::AccountKeys;
using rebound::envelope::Codec;
using rebound::envelope::Decoded;
using rebound::envelope::Encoder;
using rebound::envelope::TokenStatus;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kDay = 20414;
constexpr std::size_t kSetSize = 4096;  // distinct inputs, cycled through (fits in L1/L2)

volatile std::uint64_t g_sink;  // keeps results alive

// Runs `op` (which performs `per_call` operations) for about `seconds`, best of `rounds`.
double OpsPerSecond(const std::function<std::uint64_t()>& op, std::size_t per_call, int rounds, double seconds) {
    double best = 0;
    for (int r = 0; r < rounds; ++r) {
        std::uint64_t sink = 0;
        std::uint64_t ops = 0;
        const auto start = Clock::now();
        double elapsed = 0;
        do {
            for (int i = 0; i < 16; ++i)
                sink += op();
            ops += 16 * per_call;
            elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        } while (elapsed < seconds);
        g_sink = g_sink + sink;
        best = std::max(best, static_cast<double>(ops) / elapsed);
    }
    return best;
}

void Print(const char* name, double per_second, double reference) {
    std::printf("%-46s %12.0f /s %9.1f ns/op", name, per_second, 1e9 / per_second);
    if (reference > 0) std::printf("   x%.2f vs HMAC() one-shot", per_second / reference);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 5;
    double seconds = 0.3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::max(0.01, std::atof(argv[i + 1]));
    }
    const std::string master = "8f0e4c2a9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
    absl::StatusOr<Codec> codec = Codec::Create(master, "b-", 60);
    if (!codec.ok()) {
        std::fprintf(stderr, "codec: %s\n", std::string(codec.status().message()).c_str());
        return 1;
    }
    const AccountKeys keys{42, 3, {1}};
    absl::StatusOr<Encoder> encoder = codec->ForAccount(keys);
    if (!encoder.ok()) return 1;

    // Realistic ids: a mailing below 2^24, recipients below 2^32 (36-character tokens).
    std::mt19937_64 rng(1);
    std::vector<std::uint64_t> recipients(kSetSize);
    for (auto& r : recipients)
        r = rng() % 4'000'000'000ull;
    const std::uint64_t mailing = 1'234'567;
    std::vector<std::string> tokens;
    tokens.reserve(kSetSize);
    for (std::uint64_t r : recipients)
        tokens.push_back(encoder->Encode(mailing, r, kDay));
    for (const std::string& t : tokens) {
        if (codec->DecodeLocalPart(t, keys, kDay).status != TokenStatus::kValid) {
            std::fprintf(stderr, "self-check failed for %s\n", t.c_str());
            return 1;
        }
    }
    std::printf("envelope_bench: one thread, token length %zu chars (prefix \"b-\" included), best of %d x %.2fs\n",
                tokens[0].size(), rounds, seconds);

    // Reference 1: OpenSSL one-shot HMAC() over the same 14 body bytes a token MACs.
    std::array<std::uint8_t, rebound::envelope::kDerivedKeyBytes> key;
    auto master_bytes = rebound::envelope::ParseHexSecret(master);
    if (!master_bytes.ok() || !rebound::envelope::DeriveTokenKey(*master_bytes, 42, 3, &key).ok()) return 1;
    std::vector<std::array<std::uint8_t, 14>> bodies(kSetSize);
    for (std::size_t i = 0; i < kSetSize; ++i)
        for (std::size_t j = 0; j < 14; ++j)
            bodies[i][j] = static_cast<std::uint8_t>(recipients[i] >> (j % 8 * 8));
    std::size_t idx = 0;
    const double hmac_oneshot = OpsPerSecond(
        [&] {
            unsigned char md[32];
            unsigned int len = 0;
            const auto& b = bodies[idx++ % kSetSize];
            HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), b.data(), b.size(), md, &len);
            return std::uint64_t{md[0]};
        },
        1, rounds, seconds);

    // Reference 2: EVP_MAC, context fetched and keyed once, re-initialised per message
    // (EVP_MAC_init with a NULL key reuses the key).
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* mctx = EVP_MAC_CTX_new(mac);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(mctx, key.data(), key.size(), params) != 1) return 1;
    const double evp_mac_reused = OpsPerSecond(
        [&] {
            unsigned char md[32];
            std::size_t len = 0;
            const auto& b = bodies[idx++ % kSetSize];
            EVP_MAC_init(mctx, nullptr, 0, nullptr);
            EVP_MAC_update(mctx, b.data(), b.size());
            EVP_MAC_final(mctx, md, &len, sizeof md);
            return std::uint64_t{md[0]};
        },
        1, rounds, seconds);
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);

    const double encode_to = OpsPerSecond(
        [&] {
            char out[rebound::envelope::kMaxLocalPartOctets];
            const std::size_t n = encoder->EncodeTo(mailing, recipients[idx++ % kSetSize], kDay, out);
            return std::uint64_t{static_cast<unsigned char>(out[n - 1])};
        },
        1, rounds, seconds);
    const double encode_string = OpsPerSecond(
        [&] {
            std::string s = encoder->Encode(mailing, recipients[idx++ % kSetSize], kDay);
            return std::uint64_t{static_cast<unsigned char>(s.back())};
        },
        1, rounds, seconds);
    const double encode_codec = OpsPerSecond(
        [&] {
            absl::StatusOr<std::string> s = codec->EncodeLocalPart(keys, mailing, recipients[idx++ % kSetSize], kDay);
            return std::uint64_t{static_cast<unsigned char>(s->back())};
        },
        1, rounds, seconds);
    const double decode = OpsPerSecond(
        [&] {
            const Decoded d = codec->DecodeLocalPart(tokens[idx++ % kSetSize], keys, kDay);
            return d.token.recipient_id + static_cast<std::uint64_t>(d.status);
        },
        1, rounds, seconds);
    // Rejections: a forged token costs a full MAC; a malformed one is refused before it.
    std::vector<std::string> forged = tokens;
    for (std::string& t : forged)
        t[t.size() - 2] = t[t.size() - 2] == '0' ? '1' : '0';
    const double decode_forged = OpsPerSecond(
        [&] { return static_cast<std::uint64_t>(codec->DecodeLocalPart(forged[idx++ % kSetSize], keys, kDay).status); },
        1, rounds, seconds);
    const double decode_garbage = OpsPerSecond(
        [&] { return static_cast<std::uint64_t>(codec->DecodeLocalPart("postmaster-bounces-x", keys, kDay).status); },
        1, rounds, seconds);

    std::printf("\nreferences\n");
    Print("OpenSSL HMAC() one-shot (MAC only)", hmac_oneshot, 0);
    Print("OpenSSL EVP_MAC, context reused (MAC only)", evp_mac_reused, hmac_oneshot);
    std::printf("\ncodec (whole token: layout, MAC, base32)\n");
    Print("encode  Encoder::EncodeTo (no allocation)", encode_to, hmac_oneshot);
    Print("encode  Encoder::Encode (std::string)", encode_string, hmac_oneshot);
    Print("encode  Codec::EncodeLocalPart (key lookup)", encode_codec, hmac_oneshot);
    Print("decode+verify  valid token", decode, hmac_oneshot);
    Print("decode+verify  forged token (MAC mismatch)", decode_forged, hmac_oneshot);
    Print("decode  malformed input", decode_garbage, hmac_oneshot);
    const double goal = 2'000'000;
    std::printf("\ngoal >= %.0f/s each: encode %s (x%.2f of goal), decode+verify %s (x%.2f of goal)\n", goal,
                encode_to >= goal ? "met" : "NOT met", encode_to / goal, decode >= goal ? "met" : "NOT met",
                decode / goal);
    return 0;
}
