// libFuzzer target: arbitrary client input through the line framer and the session state
// machine (command table, MAIL/RCPT parsing, DATA handling), plus the argument parsers.
//   build-fuzz/tests/smtp/smtp_fuzz -max_total_time=600 CORPUS_DIR tests/smtp/fuzz_seeds

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "services/common/log.h"
#include "services/smtp/command.h"
#include "services/smtp/line_reader.h"
#include "services/smtp/protocol.h"

namespace {

using namespace rebound::smtp;

class FuzzDelegate : public Delegate {
  public:
    Reply CheckRecipient(const SessionInfo&, const std::string& address) override {
        return address.size() % 3 == 0 ? Reply{550, "5.1.1", "no"} : Reply{250, "2.1.5", "ok"};
    }
    void Deliver(const SessionInfo&, Envelope, std::string, std::function<void(Reply)> done) override {
        done(Reply{250, "2.0.0", "ok"});
    }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    // Per-event log lines would dominate the run time.
    rebound::log::SetMinLevel(rebound::log::Level::kError);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    MailArgs mail;
    (void)ParseMailArgs(input, &mail);
    RcptArgs rcpt;
    (void)ParseRcptArgs(input, &rcpt);

    ServerOptions options;
    options.limits.max_message_bytes = 4096;
    options.limits.max_recipients = 5;
    options.limits.max_errors = 1000;
    FuzzDelegate delegate;
    Counters counters;
    SessionInfo info;
    Protocol protocol(options, /*tls_available=*/true, &delegate, &counters, &info);
    LineBuffer buffer(options.limits.text_line_max + 4096);
    std::string out;
    Next next = Next::kReadCommand;
    std::size_t off = 0;
    while (next != Next::kClose) {
        LineResult line =
            buffer.Next(next == Next::kReadData ? options.limits.text_line_max : options.limits.command_line_max);
        if (line.status == LineStatus::kNeedMore) {
            if (off == input.size()) break;
            const std::size_t n = std::min(input.size() - off, buffer.WriteSize());
            std::copy_n(input.data() + off, n, buffer.WriteData());
            buffer.Commit(n);
            off += n;
            continue;
        }
        next = next == Next::kReadData ? protocol.OnDataLine(line, &out) : protocol.OnCommandLine(line, &out);
        if (next == Next::kDeliver) {
            Protocol::Delivery d = protocol.TakeDelivery();
            next = protocol.OnDelivered(Reply{d.message.size() % 7 == 0 ? 421 : 250, "2.0.0", "ok"}, d.message.size(),
                                        &out);
        } else if (next == Next::kStartTls) {
            buffer.Clear();
            protocol.OnTlsStarted();
            next = Next::kReadCommand;
        }
        if (out.size() > 1 << 20) out.clear();
    }
    return 0;
}
