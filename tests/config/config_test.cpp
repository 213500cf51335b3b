#include "services/config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

namespace rebound::config {
namespace {

// Environment substitutes: tests never read the real environment.
std::map<std::string, std::string>& FakeEnv() {
    static std::map<std::string, std::string> env;
    return env;
}
const char* GetFake(const char* name) {
    auto it = FakeEnv().find(name);
    return it == FakeEnv().end() ? nullptr : it->second.c_str();
}
Environment Env() {
    return Environment{&GetFake};
}

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override { FakeEnv().clear(); }
};

std::string MessageOf(const absl::StatusOr<Config>& c) {
    return std::string(c.status().message());
}

TEST_F(ConfigTest, DefaultsAreValid) {
    auto c = Load("", Env());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->smtp.listen, std::vector<std::string>{"127.0.0.1:2525"});
    EXPECT_EQ(c->grpc.listen, "127.0.0.1:50051");
    EXPECT_TRUE(c->database.migrate_on_start);
}

TEST_F(ConfigTest, FileValuesOverrideDefaults) {
    auto c = LoadFromString(R"(
data_dir = "/var/lib/rebound"
[smtp]
listen = ["0.0.0.0:25", "[::]:25"]
max_recipients = 50
[database]
url = "host=/run/postgresql dbname=rebound"
migrate_on_start = false
)",
                            "test.toml", Env());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->data_dir, "/var/lib/rebound");
    EXPECT_EQ(c->smtp.listen.size(), 2u);
    EXPECT_EQ(c->smtp.max_recipients, 50);
    EXPECT_FALSE(c->database.migrate_on_start);
    EXPECT_EQ(DatabaseUrl(*c), "host=/run/postgresql dbname=rebound");
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
    FakeEnv()["REBOUND_SMTP_MAX_RECIPIENTS"] = "7";
    FakeEnv()["REBOUND_SMTP_LISTEN"] = "127.0.0.1:2526, [::1]:2526";
    FakeEnv()["REBOUND_DATABASE_MIGRATE_ON_START"] = "no";
    auto c = LoadFromString("[smtp]\nmax_recipients = 50\n", "test.toml", Env());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->smtp.max_recipients, 7);
    EXPECT_EQ(c->smtp.listen, (std::vector<std::string>{"127.0.0.1:2526", "[::1]:2526"}));
    EXPECT_FALSE(c->database.migrate_on_start);
}

TEST_F(ConfigTest, MasterKeyFromItsShortEnvironmentName) {
    const std::string key(64, 'a');
    FakeEnv()["REBOUND_MASTER_KEY"] = key;
    auto c = Load("", Env());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->envelope.master_key, key);
    EXPECT_EQ(Describe(*c).find(key), std::string::npos) << "secrets never appear in the description";
    EXPECT_NE(Describe(*c).find("<redacted>"), std::string::npos);
}

struct BadCase {
    std::string toml;
    std::string expected_in_message;
};

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(ConfigErrorTest, NamesTheField) {
    auto c = LoadFromString(GetParam().toml, "bad.toml", Env());
    ASSERT_FALSE(c.ok()) << GetParam().toml;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(MessageOf(c).find(GetParam().expected_in_message), std::string::npos) << MessageOf(c);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigErrorTest,
    ::testing::Values(BadCase{"[smtp]\nmax_recipients = 0\n", "smtp.max_recipients: 0 is out of range"},
                      BadCase{"[smtp]\nmax_recipients = \"ten\"\n", "smtp.max_recipients: expected an integer"},
                      BadCase{"[smtp]\nmax_recipent = 3\n", "unknown setting smtp.max_recipent"},
                      BadCase{"colour = 1\n", "unknown setting colour"},
                      BadCase{"[smtp]\nlisten = [\"localhost\"]\n", "smtp.listen: \"localhost\" is not host:port"},
                      BadCase{"[smtp]\nlisten = []\n", "smtp.listen: at least one address"},
                      BadCase{"[grpc]\nlisten = \"[::1:50051\"\n", "grpc.listen"},
                      BadCase{"[log]\nlevel = \"loud\"\n", "log.level"},
                      BadCase{"[envelope]\nmaster_key = \"xyz\"\n", "envelope.master_key: must be hexadecimal"},
                      BadCase{"[envelope]\nmaster_key = \"abcd\"\n", "envelope.master_key: must be at least 32 bytes"},
                      BadCase{"[envelope]\nprefix = \"B!\"\n", "envelope.prefix"},
                      BadCase{"[smtp]\ntls_key = \"/k.pem\"\n", "smtp.tls_certificate and smtp.tls_key"},
                      BadCase{"[smtp\n", "bad.toml:1"}, BadCase{"[dns]\nmx_hosts = []\n", "dns.mx_hosts: at least one"},
                      BadCase{"[dns]\nmx_hosts = [\"mx1.rebound.example\"]\n", "dns.mx_hosts: \"mx1.rebound.example\""},
                      BadCase{"[dns]\nmx_hosts = [\"70000 mx1.rebound.example\"]\n", "dns.mx_hosts"},
                      BadCase{"[dns]\nmx_hosts = [\"10 192.0.2.1\"]\n", "dns.mx_hosts"},
                      BadCase{"[dns]\nmx_hosts = [\"10 mx.r.example\", \"20 MX.r.example.\"]\n", "listed twice"},
                      BadCase{"[dns]\nfeedback_host = \"bad host\"\n", "dns.feedback_host"},
                      BadCase{"[dns]\nspf_include = \"nodot\"\n", "dns.spf_include"},
                      BadCase{"[dns]\nresolvers = [\"127.0.0.1\"]\n",
                              "dns.resolvers: \"127.0.0.1\" is not address:port"},
                      BadCase{"[dns]\ntries = 0\n", "dns.tries"},
                      BadCase{"[dns]\nretry_min_seconds = 600\nretry_max_seconds = 60\n", "dns.retry_max_seconds"},
                      BadCase{"[dns]\nresolver = []\n", "unknown setting dns.resolver"}),
    [](const ::testing::TestParamInfo<BadCase>& param) { return "case" + std::to_string(param.index); });

TEST_F(ConfigTest, DnsSectionDefaultsFileAndEnvironment) {
    auto d = Load("", Env());
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->dns.mx_hosts.size(), 2u);
    EXPECT_TRUE(d->dns.resolvers.empty()) << "default: the system's resolvers";
    EXPECT_TRUE(d->dns.recheck_enabled);
    FakeEnv()["REBOUND_DNS_RESOLVERS"] = "127.0.0.1:5353, [::1]:53";
    FakeEnv()["REBOUND_DNS_RECHECK_ENABLED"] = "false";
    auto c = LoadFromString(R"([dns]
mx_hosts = ["10 mx1.rebound.example.", "20 mx2.rebound.example"]
feedback_host = "feedback.rebound.example"
spf_include = "_spf.rebound.example"
timeout_ms = 1500
tries = 3
recheck_seconds = 7200
retry_min_seconds = 60
retry_max_seconds = 3600
)",
                            "dns.toml", Env());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->dns.resolvers, (std::vector<std::string>{"127.0.0.1:5353", "[::1]:53"}));
    EXPECT_FALSE(c->dns.recheck_enabled);
    EXPECT_EQ(c->dns.timeout_ms, 1500);
    EXPECT_EQ(c->dns.tries, 3);
    EXPECT_EQ(c->dns.retry_max_seconds, 3600);
    std::int64_t preference = 0;
    std::string host;
    ASSERT_TRUE(ParseMxHost(c->dns.mx_hosts[0], &preference, &host));
    EXPECT_EQ(preference, 10);
    EXPECT_EQ(host, "mx1.rebound.example");
    EXPECT_NE(Describe(*c).find("[dns]"), std::string::npos);
}

TEST_F(ConfigTest, BadEnvironmentValueNamesTheVariable) {
    FakeEnv()["REBOUND_SMTP_MAX_ERRORS"] = "many";
    auto c = Load("", Env());
    ASSERT_FALSE(c.ok());
    EXPECT_NE(MessageOf(c).find("REBOUND_SMTP_MAX_ERRORS"), std::string::npos) << MessageOf(c);
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
    auto c = Load("/nonexistent/rebound.toml", Env());
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound) << c.status();
}

TEST_F(ConfigTest, ShippedExampleConfigurationsLoad) {
    for (const char* path :
         {REBOUND_SOURCE_DIR "/deploy/rebound.local.toml", REBOUND_SOURCE_DIR "/deploy/rebound.example.toml"}) {
        auto c = Load(path, Env());
        EXPECT_TRUE(c.ok()) << path << ": " << c.status();
    }
}

}  // namespace
}  // namespace rebound::config
