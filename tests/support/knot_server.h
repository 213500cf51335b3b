#pragma once
// A real authoritative DNS server for tests: Knot DNS (Debian's `knot`, tools/install-deps)
// started on 127.0.0.1 and a free port, serving zone files the test gives. Knot is run with
// `semantic-checks: soft` so that a zone may hold mistakes customers make (a CNAME beside
// other records) and still load. Zones whose text is empty are configured without a file:
// Knot answers SERVFAIL for them.

#include <map>
#include <string>

#include "services/config/config.h"
#include "tests/support/process.h"

namespace rebound::testing {

class KnotServer {
  public:
    KnotServer();
    ~KnotServer();
    KnotServer(const KnotServer&) = delete;
    KnotServer& operator=(const KnotServer&) = delete;

    // True when knotd is installed. Tests skip without it, except under CI=true.
    static bool Available();

    // origin ("customer.test") -> zone file text. Returns false with *error on failure.
    bool Start(const std::map<std::string, std::string>& zones, std::string* error);
    // Stops and starts again on the same address with other zones.
    bool Restart(const std::map<std::string, std::string>& zones, std::string* error);
    void Stop();

    // "127.0.0.1:PORT"
    std::string address() const;

  private:
    std::string dir_;
    int port_ = 0;
    std::unique_ptr<ChildProcess> child_;
};

// Zones for the checker's scenarios: rebound.test (Rebound's hosts) and customer.test, with a
// subdomain per case (DOMAIN = CASE.customer.test, label "feedback"): good, backup,
// foreignfirst, mxcname, mxip, missing, addr, nxdomain (no records at all), cname,
// cnamechain, cnamewrong, cnameplus, bare, doubled, backwards, spfbad; and broken.test,
// which answers SERVFAIL.
std::map<std::string, std::string> ScenarioZones();

// The [dns] configuration matching ScenarioZones, asking only `resolver`.
config::DnsConfig ScenarioDnsConfig(const std::string& resolver);

// A loopback address:port where nothing listens (for "resolver unreachable").
std::string DeadResolverAddress();

}  // namespace rebound::testing
