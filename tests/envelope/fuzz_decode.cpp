// libFuzzer target for the token decoder: any byte string must decode to some status
// without crashing, and anything attributed must re-encode to the same token.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/envelope/codec.h"

namespace {

const rebound::envelope::Codec& TheCodec() {
    static const rebound::envelope::Codec* codec = [] {
        auto c = rebound::envelope::Codec::Create("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                                                  "b-", 60);
        if (!c.ok()) std::abort();
        return new rebound::envelope::Codec(std::move(*c));
    }();
    return *codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using rebound::envelope::AccountKeys;
    // The first byte picks the account's key state, so key checks are exercised too.
    std::uint32_t current = 3;
    std::uint64_t account = 1;
    if (size > 0) {
        current = data[0] & 7;
        account = data[0] >> 6;
        ++data;
        --size;
    }
    const AccountKeys keys{account, current, {1}};
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const rebound::envelope::Decoded d = TheCodec().DecodeLocalPart(input, keys, 20414);
    if (rebound::envelope::IsAttributed(d.status)) {
        // Only reachable with a real MAC: the fuzzer would have to forge one. If it does,
        // re-encoding must reproduce the input up to case.
        const AccountKeys minted{account, d.token.key_id, {}};
        auto again = TheCodec().EncodeLocalPart(minted, d.token.mailing_id, d.token.recipient_id, d.token.issued_day);
        if (!again.ok() || again->size() != input.size()) std::abort();
        for (std::size_t i = 0; i < input.size(); ++i) {
            const char a = (*again)[i];
            char b = input[i];
            if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
            if (a != b) std::abort();
        }
    }
    return 0;
}
