// `rebound token` as a process: exit codes, JSON output, configuration errors.

#include <gtest/gtest.h>

#include <algorithm>
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

const std::string kMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct Result {
    int exit_code = -1;
    std::string out;  // stdout, plus stderr when merged
};

std::string Quote(const std::string& arg) {
    std::string q = "'";
    for (char c : arg) {
        if (c == '\'') {
            q += "'\\''";
        } else {
            q += c;
        }
    }
    return q + "'";
}

// Runs the CLI with a clean environment: only the variables given (no REBOUND_CONFIG).
Result RunCli(const std::vector<std::string>& env, const std::vector<std::string>& args, bool merge_stderr = false) {
    std::string cmd = "env -i PATH=/usr/bin:/bin";
    for (const std::string& e : env)
        cmd += " " + Quote(e);
    cmd += " " + Quote(REBOUND_CLI_PATH);
    for (const std::string& a : args)
        cmd += " " + Quote(a);
    cmd += merge_stderr ? " 2>&1" : " 2>/dev/null";
    Result r;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) return r;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
        r.out.append(buf, n);
    const int status = pclose(pipe);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    return r;
}

const std::vector<std::string> kEnv = {"REBOUND_MASTER_KEY=" + kMasterKey, "REBOUND_ENVELOPE_PREFIX=b-"};

std::string EncodeAddress(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"token",       "encode",    "--mailing", "100000",
                                     "--recipient", "100000000", "--domain",  "Feedback.Example.COM",
                                     "--day",       "2025-11-01"};
    args.insert(args.end(), extra.begin(), extra.end());
    // Offline: without --account the account would be looked up in the database.
    if (std::find(extra.begin(), extra.end(), "--account") == extra.end()) {
        args.insert(args.end(), {"--account", "1"});
    }
    Result r = RunCli(kEnv, args);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
}

TEST(TokenCli, EncodePrintsAnAddressThatDecodesToJson) {
    const std::string address = EncodeAddress();
    ASSERT_EQ(address.substr(0, 2), "b-");
    ASSERT_NE(address.find("@feedback.example.com"), std::string::npos) << address;
    Result r = RunCli(kEnv, {"token", "decode", address, "--today", "2025-11-20", "--account", "1"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "{\"address\":\"" + address +
                         "\",\"status\":\"valid\",\"stale\":false,\"account\":1,\"key_id\":1,\"mailing\":100000,"
                         "\"recipient\":100000000,\"issued\":\"2025-11-01\",\"version\":1}\n");
}

TEST(TokenCli, StaleTokensExitZeroAndSayStale) {
    const std::string address = EncodeAddress();
    Result r = RunCli(kEnv, {"token", "decode", address, "--today", "2026-06-01", "--account", "1"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("\"status\":\"stale\",\"stale\":true"), std::string::npos) << r.out;
}

TEST(TokenCli, UpperCaseAndAngleBracketsDecode) {
    std::string address = EncodeAddress();
    for (char& c : address)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(RunCli(kEnv, {"token", "decode", "<" + address + ">", "--today", "2025-11-20", "--account", "1"}).exit_code, 0);
}

TEST(TokenCli, InvalidTokensExitOneWithTheirStatus) {
    const std::string address = EncodeAddress({"--account", "7", "--key-id", "2"});
    struct Case {
        std::vector<std::string> args;
        std::string status;
    };
    const std::vector<Case> cases = {
        {{"--account", "8", "--key-id", "2"}, "forged"},
        {{"--account", "7", "--key-id", "1"}, "unknown_key"},
        {{"--account", "7", "--key-id", "3", "--retired", "1,2"}, "retired_key"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args = {"token", "decode", address};
        args.insert(args.end(), c.args.begin(), c.args.end());
        Result r = RunCli(kEnv, args);
        EXPECT_EQ(r.exit_code, 1) << c.status;
        EXPECT_NE(r.out.find("\"status\":\"" + c.status + "\""), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("\"mailing\":null"), std::string::npos) << r.out;
    }
    Result ok = RunCli(kEnv, {"token", "decode", address, "--account", "7", "--key-id", "3", "--retired", "1"});
    EXPECT_EQ(ok.exit_code, 0) << ok.out;
    Result bad = RunCli(kEnv, {"token", "decode", "postmaster@example.com", "--account", "1"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.out.find("\"status\":\"malformed\""), std::string::npos) << bad.out;
    // Peer-controlled text is echoed as valid JSON.
    Result weird = RunCli(kEnv, {"token", "decode", "a\"b\\c\x01@x", "--account", "1"});
    EXPECT_EQ(weird.exit_code, 1);
    EXPECT_NE(weird.out.find("\"address\":\"a\\\"b\\\\c\\u0001@x\""), std::string::npos) << weird.out;
}

TEST(TokenCli, LargestValuesRoundTrip) {
    const std::string max64 = "18446744073709551615";
    Result enc = RunCli(kEnv, {"token", "encode", "--mailing", max64, "--recipient", max64, "--account", max64,
                               "--key-id", "4294967295", "--domain", "a.example", "--day", "9999-12-31"});
    ASSERT_EQ(enc.exit_code, 0);
    const std::string address = enc.out.substr(0, enc.out.size() - 1);
    // 35 bytes (the day 9999-12-31 needs 3 of its 4 possible bytes) = 56 characters + "b-".
    EXPECT_EQ(address.find('@'), 2 + 56u);
    Result dec = RunCli(kEnv, {"token", "decode", address, "--account", max64, "--key-id", "4294967295"});
    EXPECT_EQ(dec.exit_code, 0) << dec.out;
    EXPECT_NE(dec.out.find("\"mailing\":" + max64 + ",\"recipient\":" + max64), std::string::npos) << dec.out;
    EXPECT_NE(dec.out.find("\"issued\":\"9999-12-31\""), std::string::npos) << dec.out;
}

TEST(TokenCli, AddressesLongerThan254OctetsAreRefused) {
    // 4 labels of 60 = 243 octets of domain: a valid name, but no room for a 38-octet local part.
    const std::string label(60, 'a');
    const std::string domain = label + "." + label + "." + label + "." + label;
    Result r = RunCli(kEnv, {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", domain, "--account", "1"}, true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("longer than 254"), std::string::npos) << r.out;
    EXPECT_EQ(RunCli(kEnv, {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", label + ".example", "--account", "1"})
                  .exit_code,
              0);
}

TEST(TokenCli, MissingMasterKeyIsAClearFailure) {
    Result r = RunCli({}, {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x.example", "--account", "1"}, true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("no master key configured"), std::string::npos) << r.out;
    Result d = RunCli({}, {"token", "decode", "abc@x.example", "--account", "1"}, true);
    EXPECT_EQ(d.exit_code, 1);
    Result shortkey = RunCli({"REBOUND_MASTER_KEY=abcd"},
                             {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x.y"}, true);
    EXPECT_EQ(shortkey.exit_code, 1);
    EXPECT_EQ(shortkey.out.find("abcd"), std::string::npos) << "the key must not be echoed: " << shortkey.out;
}

TEST(TokenCli, UsageErrorsExitTwo) {
    const std::vector<std::vector<std::string>> cases = {
        {"token"},
        {"token", "mint"},
        {"token", "encode", "--mailing", "1", "--recipient", "2"},
        {"token", "encode", "--mailing", "-1", "--recipient", "2", "--domain", "x.y"},
        {"token", "encode", "--mailing", "18446744073709551616", "--recipient", "2", "--domain", "x.y"},
        {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x..y"},
        {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "-x.y"},
        {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x.y", "--day", "2025-02-30"},
        {"token", "encode", "--mailing", "1", "--mailing", "2", "--recipient", "2", "--domain", "x.y"},
        {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x.y", "--bogus", "1"},
        {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x.y", "extra"},
        {"token", "encode", "--mailing"},
        {"token", "decode"},
        {"token", "decode", "a@b", "c@d"},
        {"token", "decode", "a@b", "--retired", "1,x"},
        {"token", "decode", "a@b", "--key-id", "4294967296"},
        {"token", "decode", "a@b", "--today", "yesterday"},
        {"token", "decode", "a@b", "--mailing", "1"},
    };
    for (const auto& args : cases) {
        std::string joined;
        for (const auto& a : args)
            joined += a + " ";
        EXPECT_EQ(RunCli(kEnv, args).exit_code, 2) << joined;
    }
    Result help = RunCli(kEnv, {"token", "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("looked up from the feedback domain"), std::string::npos);
}

TEST(TokenCli, KeygenPrintsAUsableMasterKey) {
    Result a = RunCli({}, {"token", "keygen"});
    Result b = RunCli({}, {"token", "keygen"});
    ASSERT_EQ(a.exit_code, 0);
    ASSERT_EQ(a.out.size(), 65u);
    EXPECT_NE(a.out, b.out);
    const std::string key = a.out.substr(0, 64);
    Result enc = RunCli({"REBOUND_MASTER_KEY=" + key},
                        {"token", "encode", "--mailing", "1", "--recipient", "2", "--domain", "x.example", "--account", "1"});
    EXPECT_EQ(enc.exit_code, 0);
    EXPECT_EQ(RunCli({}, {"token", "keygen", "extra"}).exit_code, 2);
}

TEST(TokenCli, EqualsFormOfOptions) {
    Result r =
        RunCli(kEnv, {"token", "encode", "--mailing=5", "--recipient=6", "--domain=x.example", "--day=2025-11-01", "--account", "1"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.back(), '\n');
}

}  // namespace
