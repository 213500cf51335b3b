#include "storage/migrations.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "services/common/log.h"
#include "services/common/strings.h"
#include "storage/database.h"
#include "storage/embedded_queries.h"

namespace rebound::storage {
namespace {

std::string Sha256Hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
    return HexLower(std::string_view(reinterpret_cast<const char*>(digest), len));
}

// "0007_add_index.sql" -> 7; the part after the digits must be "_" + [a-z0-9_]+ ".sql".
absl::StatusOr<std::int64_t> VersionOf(std::string_view name) {
    const std::size_t underscore = name.find('_');
    if (underscore == std::string_view::npos || underscore == 0 || !name.ends_with(".sql")) {
        return absl::InvalidArgumentError(rebound::StrCat("migration file \"", name, "\": expected NNNN_name.sql"));
    }
    std::int64_t version = 0;
    const std::string_view digits = name.substr(0, underscore);
    if (!ParseInt(digits, &version) || version <= 0) {
        return absl::InvalidArgumentError(
            rebound::StrCat("migration file \"", name, "\": version must be a positive number"));
    }
    const std::string_view word = name.substr(underscore + 1, name.size() - underscore - 5);
    if (word.empty() || !std::all_of(word.begin(), word.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        })) {
        return absl::InvalidArgumentError(
            rebound::StrCat("migration file \"", name, "\": name must be lowercase letters, digits and _"));
    }
    return version;
}

}  // namespace

absl::StatusOr<std::vector<Migration>> ParseMigrations(const std::vector<EmbeddedFile>& files) {
    std::vector<Migration> out;
    for (const EmbeddedFile& f : files) {
        absl::StatusOr<std::int64_t> version = VersionOf(f.name);
        if (!version.ok()) return version.status();
        out.push_back({*version, std::string(f.name), std::string(f.content), Sha256Hex(f.content)});
    }
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < out.size(); ++i) {
        if (out[i].version == out[i - 1].version) {
            return absl::InvalidArgumentError(
                rebound::StrCat("migrations ", out[i - 1].name, " and ", out[i].name, " have the same version"));
        }
    }
    return out;
}

absl::StatusOr<std::vector<Migration>> BuiltinMigrations() {
    return ParseMigrations(embedded::MigrationFiles());
}

absl::StatusOr<std::vector<Migration>> ReadMigrationDirectory(const std::string& dir) {
    std::error_code ec;
    std::vector<std::string> names;
    std::vector<std::string> contents;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".sql") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        if (!in) return absl::NotFoundError(rebound::StrCat("cannot read ", entry.path().string()));
        std::ostringstream buf;
        buf << in.rdbuf();
        names.push_back(entry.path().filename().string());
        contents.push_back(buf.str());
    }
    if (ec) return absl::NotFoundError(rebound::StrCat("cannot list ", dir, ": ", ec.message()));
    std::vector<EmbeddedFile> files;
    for (std::size_t i = 0; i < names.size(); ++i)
        files.push_back({names[i], contents[i]});
    return ParseMigrations(files);
}

absl::StatusOr<MigrationReport> Migrate(pqxx::connection& conn, const std::vector<Migration>& migrations) {
    MigrationReport report;
    bool locked = false;
    std::string current = "migrations_lock";
    try {
        {
            pqxx::nontransaction tx(conn);
            tx.exec_prepared("migrations_lock");
            locked = true;
            current = "migrations_create_table";
            tx.exec_prepared("migrations_create_table");
        }
        std::map<std::int64_t, std::pair<std::string, std::string>> applied;  // version -> (name, checksum)
        {
            current = "migrations_applied";
            pqxx::nontransaction tx(conn);
            for (const auto& row : tx.exec_prepared("migrations_applied")) {
                applied[row[0].as<std::int64_t>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
            }
        }
        for (const Migration& m : migrations) {
            auto it = applied.find(m.version);
            if (it != applied.end()) {
                if (it->second.second != m.checksum) {
                    pqxx::nontransaction(conn).exec_prepared("migrations_unlock");
                    return absl::FailedPreconditionError(
                        rebound::StrCat("migration ", m.name, " was changed after it was applied (recorded checksum ",
                                        it->second.second, ", file now ", m.checksum,
                                        "); applied migrations are never edited: add a new one instead"));
                }
                continue;
            }
            current = m.name;
            const auto start = std::chrono::steady_clock::now();
            pqxx::work tx(conn, m.name);
            tx.exec(m.sql);
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
            tx.exec_prepared("migrations_record", m.version, m.name, m.checksum, static_cast<int>(ms));
            tx.commit();
            log::Info("migration.applied").Kv("name", m.name).Kv("ms", ms);
            report.applied.push_back(m.name);
            applied[m.version] = {m.name, m.checksum};
        }
        for (const auto& [version, entry] : applied) {
            const bool known = std::any_of(migrations.begin(), migrations.end(),
                                           [v = version](const Migration& m) { return m.version == v; });
            if (!known) report.unknown_versions.push_back(version);
        }
        report.schema_version = applied.empty() ? 0 : applied.rbegin()->first;
        current = "migrations_unlock";
        pqxx::nontransaction(conn).exec_prepared("migrations_unlock");
        return report;
    } catch (...) {
        absl::Status status = StatusFromException(current);
        if (locked) {
            try {
                pqxx::nontransaction(conn).exec_prepared("migrations_unlock");
            } catch (const std::exception&) {
                // The connection is gone; the server released the session lock with it.
            }
        }
        return status;
    }
}

absl::StatusOr<std::int64_t> SchemaVersion(pqxx::connection& conn) {
    std::int64_t version = 0;
    absl::Status s = Guard("schema_version", [&] {
        pqxx::nontransaction tx(conn);
        // A database that was never migrated has no table yet: version 0.
        if (tx.exec_prepared1("schema_migrations_exists")[0].as<bool>()) {
            version = tx.exec_prepared1("schema_version")[0].as<std::int64_t>();
        }
    });
    if (!s.ok()) return s;
    return version;
}

absl::StatusOr<int> EnsurePartitions(pqxx::connection& conn, int months_ahead) {
    int created = 0;
    absl::Status s = Guard("ensure_partitions", [&] {
        pqxx::work tx(conn);
        created = tx.exec_prepared1("ensure_partitions", months_ahead)[0].as<int>();
        tx.commit();
    });
    if (!s.ok()) return s;
    return created;
}

absl::StatusOr<RetentionReport> ApplyRetention(pqxx::connection& conn, int raw_days, int event_days) {
    RetentionReport report;
    absl::Status s = Guard("retention_drop", [&] {
        pqxx::work tx(conn, "retention");
        for (const auto& [table, days] :
             {std::pair<const char*, int>{"raw_messages", raw_days}, {"bounce_events", event_days}}) {
            for (const auto& r : tx.exec_prepared("retention_drop", table, days)) {
                report.dropped.push_back(r[0].as<std::string>());
            }
        }
        report.digests_deleted = tx.exec_prepared("retention_digests", raw_days).affected_rows();
        tx.commit();
    });
    if (!s.ok()) return s;
    return report;
}

absl::StatusOr<std::int64_t> CompactMailingRollups(pqxx::connection& conn, int min_rows) {
    std::int64_t removed = 0;
    absl::Status s = Guard("rollups_compact", [&] {
        pqxx::nontransaction tx(conn);
        removed = tx.exec_prepared1("rollups_compact", min_rows)[0].as<std::int64_t>();
    });
    if (!s.ok()) return s;
    return removed;
}

}  // namespace rebound::storage
