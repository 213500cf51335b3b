// Golden tests: every tests/fixtures/bounce/NAME.eml parses to exactly NAME.expected.json
// (one JSON object per line, as `rebound parse --jsonl` prints them, without rules_version).
// Regenerate after an intended change with REBOUND_UPDATE_GOLDEN=1 and review the diff.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "services/bounce/parser.h"
#include "services/bounce/record_json.h"

namespace rebound::bounce {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> FixtureNames() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(REBOUND_BOUNCE_FIXTURES, ec)) {
        if (entry.path().extension() == ".eml") names.push_back(entry.path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string ReadFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string Render(const std::string& name, const Report& report) {
    std::string out;
    int index = 0;
    for (const Record& r : report.records)
        out += RecordJson(name + ".eml", ++index, r, "") + "\n";
    if (index == 0) out += EmptyJson(name + ".eml", "") + "\n";
    return out;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesExpected) {
    const std::string& name = GetParam();
    fs::path dir(REBOUND_BOUNCE_FIXTURES);
    std::string raw = ReadFile(dir / (name + ".eml"));
    auto report = Parse(raw);
    ASSERT_TRUE(report.ok()) << report.status();
    std::string got = Render(name, *report);
    fs::path expected_path = dir / (name + ".expected.json");
    const char* update = std::getenv("REBOUND_UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(expected_path, std::ios::binary) << got;
    }
    EXPECT_EQ(got, ReadFile(expected_path));

    // CRLF input gives the same records.
    std::string crlf;
    for (char c : raw) {
        if (c == '\n') crlf.push_back('\r');
        crlf.push_back(c);
    }
    auto crlf_report = Parse(crlf);
    ASSERT_TRUE(crlf_report.ok());
    EXPECT_EQ(Render(name, *crlf_report), got);
}

std::string FixtureTestName(const ::testing::TestParamInfo<std::string>& param_info) {
    std::string n = param_info.param;
    std::replace_if(
        n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    return n;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::ValuesIn(FixtureNames()), FixtureTestName);

TEST(GoldenFixtures, Present) {
    EXPECT_GE(FixtureNames().size(), 100u);
}

}  // namespace
}  // namespace rebound::bounce
