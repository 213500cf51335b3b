#include "storage/database.h"

#include "absl/strings/cord.h"
#include "services/common/strings.h"
#include "storage/embedded_queries.h"

namespace rebound::storage {

std::vector<EmbeddedFile> Queries() {
    return embedded::QueryFiles();
}

std::string_view QueryText(std::string_view name) {
    static const std::vector<EmbeddedFile> queries = Queries();
    for (const EmbeddedFile& q : queries) {
        if (q.name.size() == name.size() + 4 && q.name.substr(0, name.size()) == name) return q.content;
    }
    return {};
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url) {
    try {
        auto conn = std::make_unique<pqxx::connection>(url);
        for (const EmbeddedFile& q : Queries()) {
            std::string_view name = q.name;
            name.remove_suffix(4);  // ".sql"
            conn->prepare(std::string(name), std::string(q.content));
        }
        return conn;
    } catch (...) {
        return StatusFromException("connect");
    }
}

namespace {

constexpr char kDatabasePayload[] = "rebound.storage/database-error";

absl::Status Mark(absl::Status status) {
    status.SetPayload(kDatabasePayload, absl::Cord("1"));
    return status;
}

absl::Status Classify(std::string_view what);

}  // namespace

bool IsDatabaseError(const absl::Status& status) {
    return status.GetPayload(kDatabasePayload).has_value();
}

absl::Status StatusFromException(std::string_view what) {
    return Mark(Classify(what));
}

namespace {

absl::Status Classify(std::string_view what) {
    try {
        throw;
    } catch (const pqxx::broken_connection& e) {
        return absl::UnavailableError(rebound::StrCat(what, ": database unreachable: ", e.what()));
    } catch (const pqxx::in_doubt_error& e) {
        return absl::UnavailableError(rebound::StrCat(what, ": commit outcome unknown: ", e.what()));
    } catch (const pqxx::sql_error& e) {
        const std::string state = e.sqlstate();
        const std::string msg = rebound::StrCat(what, ": ", e.what(), " (SQLSTATE ", state, ")");
        if (state == "40001" || state == "40P01") return absl::AbortedError(msg);
        if (state == "23505") return absl::AlreadyExistsError(msg);
        if (state.rfind("23", 0) == 0) return absl::FailedPreconditionError(msg);
        if (state == "57014" || state == "55P03") return absl::DeadlineExceededError(msg);
        if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
            return absl::UnavailableError(msg);
        }
        if (state.rfind("53", 0) == 0) return absl::ResourceExhaustedError(msg);
        return absl::InternalError(msg);
    } catch (const pqxx::failure& e) {
        return absl::InternalError(rebound::StrCat(what, ": ", e.what()));
    } catch (const std::exception& e) {
        return absl::InternalError(rebound::StrCat(what, ": ", e.what()));
    }
}

}  // namespace

}  // namespace rebound::storage
