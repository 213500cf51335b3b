#include "services/dns/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "services/common/strings.h"

namespace rebound::dns {

std::string_view TypeName(RecordType type) {
    return TypeName(static_cast<std::uint16_t>(type));
}

std::string_view TypeName(std::uint16_t type) {
    switch (type) {
        case 1:
            return "A";
        case 2:
            return "NS";
        case 5:
            return "CNAME";
        case 6:
            return "SOA";
        case 15:
            return "MX";
        case 16:
            return "TXT";
        case 28:
            return "AAAA";
        default:
            return "OTHER";
    }
}

std::string_view RcodeName(Rcode rcode) {
    switch (rcode) {
        case Rcode::kAnswer:
            return "NOERROR";
        case Rcode::kNoData:
            return "NODATA";
        case Rcode::kNxDomain:
            return "NXDOMAIN";
        case Rcode::kServFail:
            return "SERVFAIL";
        case Rcode::kTimeout:
            return "TIMEOUT";
        case Rcode::kError:
            return "ERROR";
    }
    return "ERROR";
}

namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr int kMaxPointerJumps = 32;
constexpr std::size_t kMaxTxtBytes = 4096;

// Reads a possibly compressed name at `*pos`; on success moves *pos past it (past the
// first pointer when compressed). Bounded: 255 octets, kMaxPointerJumps pointers.
bool ReadName(const unsigned char* msg, std::size_t size, std::size_t* pos, std::string* out) {
    std::size_t p = *pos;
    std::size_t after = 0;  // where the caller continues, once a pointer was followed
    int jumps = 0;
    std::string name;
    while (true) {
        if (p >= size) return false;
        const unsigned len = msg[p];
        if ((len & 0xC0) == 0xC0) {
            if (p + 1 >= size || ++jumps > kMaxPointerJumps) return false;
            if (after == 0) after = p + 2;
            p = ((len & 0x3F) << 8) | msg[p + 1];
            continue;
        }
        if ((len & 0xC0) != 0) return false;  // extended label types: not in answers we ask for
        if (len == 0) {
            ++p;
            break;
        }
        if (p + 1 + len > size || name.size() + len + 1 > 255) return false;
        if (!name.empty()) name.push_back('.');
        for (unsigned i = 0; i < len; ++i) {
            const char c = static_cast<char>(msg[p + 1 + i]);
            name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        }
        p += 1 + len;
    }
    *pos = after != 0 ? after : p;
    *out = std::move(name);
    return true;
}

std::uint16_t U16(const unsigned char* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t U32(const unsigned char* p) {
    return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
           (static_cast<std::uint32_t>(p[2]) << 8) | p[3];
}

Answer Malformed(std::string_view what) {
    Answer a;
    a.rcode = Rcode::kError;
    a.error = StrCat("malformed answer: ", what);
    return a;
}

}  // namespace

Answer ParseResponse(const unsigned char* msg, std::size_t size) {
    if (msg == nullptr || size < kHeaderSize) return Malformed("shorter than a header");
    const unsigned rcode = msg[3] & 0x0F;
    const std::uint16_t qdcount = U16(msg + 4);
    const std::uint16_t ancount = U16(msg + 6);
    Answer answer;
    switch (rcode) {
        case 0:
            answer.rcode = ancount > 0 ? Rcode::kAnswer : Rcode::kNoData;
            break;
        case 2:
            answer.rcode = Rcode::kServFail;
            answer.error = "SERVFAIL";
            break;
        case 3:
            answer.rcode = Rcode::kNxDomain;
            break;
        case 5:
            answer.rcode = Rcode::kServFail;
            answer.error = "REFUSED";
            break;
        default:
            answer.rcode = Rcode::kError;
            answer.error = StrCat("rcode ", rcode);
            break;
    }
    std::size_t pos = kHeaderSize;
    std::string name;
    for (unsigned i = 0; i < qdcount; ++i) {
        if (!ReadName(msg, size, &pos, &name) || pos + 4 > size) return Malformed("question");
        pos += 4;
    }
    for (unsigned i = 0; i < ancount && answer.records.size() < kMaxRecords; ++i) {
        Record r;
        if (!ReadName(msg, size, &pos, &r.name) || pos + 10 > size) return Malformed("answer record");
        r.type = U16(msg + pos);
        const std::uint16_t klass = U16(msg + pos + 2);
        r.ttl = U32(msg + pos + 4);
        const std::size_t rdlength = U16(msg + pos + 8);
        pos += 10;
        if (pos + rdlength > size) return Malformed("record data past the end");
        const std::size_t end = pos + rdlength;
        const unsigned char* rd = msg + pos;
        if (klass != 1) {
            pos = end;
            continue;
        }
        switch (r.type) {
            case 1:
                if (rdlength != 4) return Malformed("A record length");
                {
                    char buf[INET_ADDRSTRLEN];
                    inet_ntop(AF_INET, rd, buf, sizeof buf);
                    r.data = buf;
                }
                break;
            case 28:
                if (rdlength != 16) return Malformed("AAAA record length");
                {
                    char buf[INET6_ADDRSTRLEN];
                    inet_ntop(AF_INET6, rd, buf, sizeof buf);
                    r.data = buf;
                }
                break;
            case 2:
            case 5: {
                std::size_t p = pos;
                if (!ReadName(msg, size, &p, &r.data) || p > end) return Malformed("target name");
                break;
            }
            case 15: {
                if (rdlength < 3) return Malformed("MX record length");
                r.preference = U16(rd);
                std::size_t p = pos + 2;
                if (!ReadName(msg, size, &p, &r.data) || p > end) return Malformed("MX exchange");
                break;
            }
            case 16: {
                for (std::size_t p = pos; p < end;) {
                    const std::size_t len = msg[p];
                    if (p + 1 + len > end) return Malformed("TXT string");
                    if (r.data.size() + len > kMaxTxtBytes) break;
                    r.data.append(reinterpret_cast<const char*>(msg + p + 1), len);
                    p += 1 + len;
                }
                break;
            }
            default:
                break;
        }
        pos = end;
        answer.records.push_back(std::move(r));
    }
    return answer;
}

// ---- c-ares transport ----

struct AresLookup::Channel {
    ares_channel channel = nullptr;
    ~Channel() {
        if (channel != nullptr) ares_destroy(channel);
    }
};

namespace {

struct Pending {
    bool done = false;
    Answer answer;
};

void OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    auto* pending = static_cast<Pending*>(arg);
    pending->done = true;
    Answer& a = pending->answer;
    // c-ares maps the rcode to a status but still hands the message over when there is one:
    // parse it for the records and TTLs, and trust the status for the kind of answer.
    if (abuf != nullptr && alen > 0) a = ParseResponse(abuf, static_cast<std::size_t>(alen));
    switch (status) {
        case ARES_SUCCESS:
            if (abuf == nullptr) a = Malformed("no message");
            break;
        case ARES_ENODATA:
            a.rcode = Rcode::kNoData;
            break;
        case ARES_ENOTFOUND:
            a.rcode = Rcode::kNxDomain;
            break;
        case ARES_ESERVFAIL:
            a.rcode = Rcode::kServFail;
            a.error = "SERVFAIL";
            break;
        case ARES_EREFUSED:
            a.rcode = Rcode::kServFail;
            a.error = "REFUSED";
            break;
        case ARES_ETIMEOUT:
            a.rcode = Rcode::kTimeout;
            a.error = "no answer in time";
            break;
        case ARES_ECONNREFUSED:
            a.rcode = Rcode::kTimeout;
            a.error = "connection refused by every resolver";
            break;
        default:
            a.rcode = Rcode::kError;
            a.error = ares_strerror(status);
            break;
    }
}

std::once_flag library_once;
int library_status = ARES_SUCCESS;

}  // namespace

absl::StatusOr<std::unique_ptr<AresLookup>> AresLookup::Create(const ResolverOptions& options) {
    std::call_once(library_once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (library_status != ARES_SUCCESS) {
        return absl::InternalError(StrCat("c-ares initialisation: ", ares_strerror(library_status)));
    }
    std::unique_ptr<AresLookup> lookup(new AresLookup());
    lookup->channel_ = std::make_unique<Channel>();
    ares_options opts{};
    opts.timeout = options.timeout_ms;
    opts.tries = options.tries;
    // NOCHECKRESP: a SERVFAIL or REFUSED answer is reported as such (c-ares would otherwise
    // try the next server and, once all said so, report "connection refused").
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
    const int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    int rc = ares_init_options(&lookup->channel_->channel, &opts, mask);
    if (rc != ARES_SUCCESS) return absl::InternalError(StrCat("c-ares channel: ", ares_strerror(rc)));
    std::size_t servers = 1;
    if (!options.servers.empty()) {
        // Only the configured servers: nothing from /etc/resolv.conf is asked.
        const std::string csv = Join(options.servers, ",");
        rc = ares_set_servers_ports_csv(lookup->channel_->channel, csv.c_str());
        if (rc != ARES_SUCCESS) {
            return absl::InvalidArgumentError(StrCat("dns.resolvers: \"", csv, "\": ", ares_strerror(rc)));
        }
        servers = options.servers.size();
    } else {
        servers = 3;  // resolv.conf allows at most 3 nameservers
    }
    // c-ares bounds each query by tries x servers x timeout (doubling per round); this is
    // the backstop in case a query is never completed.
    lookup->deadline_ms_ = static_cast<int>(std::min<std::int64_t>(
        std::int64_t{options.timeout_ms} * options.tries * 4 * static_cast<std::int64_t>(servers) + 1000, 120'000));
    lookup->cancel_ = options.cancel;
    return lookup;
}

AresLookup::~AresLookup() = default;

Answer AresLookup::Query(std::string_view name, RecordType type) {
    Pending pending;
    auto cancelled = [this] { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); };
    if (cancelled()) {
        pending.answer.rcode = Rcode::kTimeout;
        pending.answer.error = "cancelled";
        return pending.answer;
    }
    const std::string qname(name);
    ares_query(channel_->channel, qname.c_str(), 1 /* C_IN */, static_cast<int>(type), OnAnswer, &pending);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms_);
    while (!pending.done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        const int bits = ares_getsock(channel_->channel, socks, ARES_GETSOCK_MAXNUM);
        pollfd fds[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
            short events = 0;
            if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
            if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
            if (events == 0) continue;
            fds[n++] = pollfd{socks[i], events, 0};
        }
        timeval tv{};
        timeval max{0, 100000};  // wake up to notice cancellation
        ares_timeout(channel_->channel, &max, &tv);
        const int wait_ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000);
        const int ready = poll(fds, n, wait_ms);
        if (ready <= 0) {
            ares_process_fd(channel_->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
        } else {
            for (nfds_t i = 0; i < n; ++i) {
                const bool r = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
                const bool w = (fds[i].revents & POLLOUT) != 0;
                if (r || w)
                    ares_process_fd(channel_->channel, r ? fds[i].fd : ARES_SOCKET_BAD,
                                    w ? fds[i].fd : ARES_SOCKET_BAD);
            }
        }
        if (!pending.done && (cancelled() || std::chrono::steady_clock::now() >= deadline)) {
            ares_cancel(channel_->channel);  // calls OnAnswer with ARES_ECANCELLED
            pending.answer.rcode = Rcode::kTimeout;
            pending.answer.error = cancelled() ? "cancelled" : "no answer in time";
            break;
        }
    }
    return pending.answer;
}

}  // namespace rebound::dns
