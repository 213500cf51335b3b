// rebound parse [--jsonl] [--text-reasons] FILE...: decode bounce messages into JSON records.

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "services/bounce/parser.h"
#include "services/bounce/record_json.h"
#include "services/cli/command.h"

namespace rebound::cli {
namespace {

constexpr std::size_t kMaxInputBytes = 64 * 1024 * 1024;

bool ReadInput(const std::string& path, std::string* out, std::string* error) {
    std::istream* in = &std::cin;
    std::ifstream file;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) {
            *error = "cannot open file";
            return false;
        }
        in = &file;
    }
    out->clear();
    char buf[65536];
    while (*in) {
        in->read(buf, sizeof buf);
        out->append(buf, static_cast<std::size_t>(in->gcount()));
        if (out->size() > kMaxInputBytes) {
            *error = "file too large";
            return false;
        }
    }
    if (in->bad()) {
        *error = "read error";
        return false;
    }
    return true;
}

int RunParse(const Context&, const std::vector<std::string>& args) {
    bool jsonl = false;
    bool text_reasons = false;
    std::vector<std::string> files;
    for (const std::string& a : args) {
        if (a == "--jsonl") {
            jsonl = true;
        } else if (a == "--text-reasons") {
            text_reasons = true;
        } else if (a == "-h" || a == "--help") {
            std::cout << "usage: rebound parse [--jsonl] [--text-reasons] FILE...   (- for standard input)\n\n"
                         "Prints one JSON object per decoded record; a file with nothing decoded prints one\n"
                         "object with \"index\": 0. --jsonl prints one object per line (default: indented\n"
                         "blocks separated by blank lines). --text-reasons reports, for delay notices, the\n"
                         "reason their text gives instead of \"delayed\".\n";
            return kExitOk;
        } else if (a.size() > 1 && a[0] == '-') {
            std::cerr << "rebound parse: unknown option \"" << a << "\"\n";
            return kExitUsage;
        } else {
            files.push_back(a);
        }
    }
    if (files.empty()) {
        std::cerr << "usage: rebound parse [--jsonl] FILE...\n";
        return kExitUsage;
    }
    int rc = kExitOk;
    std::string data;
    std::string rules_version(bounce::RulesVersion());
    for (const std::string& path : files) {
        std::string error;
        if (!ReadInput(path, &data, &error)) {
            std::cerr << "rebound parse: " << path << ": " << error << "\n";
            rc = kExitFailure;
            continue;
        }
        absl::StatusOr<bounce::Report> report = bounce::Parse(data);
        if (!report.ok()) {
            std::cerr << "rebound parse: " << path << ": " << report.status().message() << "\n";
            rc = kExitFailure;
            continue;
        }
        std::vector<std::string> lines;
        int index = 0;
        for (bounce::Record& r : report->records) {
            if (text_reasons && r.reason == "delayed") r.reason = r.text_reason;
            lines.push_back(bounce::RecordJson(path, ++index, r, report->rules_version));
        }
        if (lines.empty()) lines.push_back(bounce::EmptyJson(path, report->rules_version));
        for (const std::string& l : lines) {
            if (jsonl) {
                std::cout << l << "\n";
            } else {
                // Readable form: one field per line.
                std::string pretty;
                bool in_string = false;
                for (std::size_t i = 0; i < l.size(); ++i) {
                    char c = l[i];
                    if (!in_string && c == '}') pretty.push_back('\n');
                    pretty.push_back(c);
                    if (in_string) {
                        if (c == '\\' && i + 1 < l.size()) {
                            pretty.push_back(l[++i]);
                        } else if (c == '"') {
                            in_string = false;
                        }
                        continue;
                    }
                    if (c == '"') {
                        in_string = true;
                    } else if (c == '{' || c == ',') {
                        pretty.append("\n  ");
                    } else if (c == ':') {
                        pretty.push_back(' ');
                    }
                }
                std::cout << pretty << "\n\n";
            }
        }
    }
    std::cout.flush();
    return rc;
}

}  // namespace

REBOUND_CLI_COMMAND(parse, "parse bounce messages into JSON records", RunParse);

}  // namespace rebound::cli
