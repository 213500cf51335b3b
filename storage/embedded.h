#pragma once
// Files compiled into the binary (migrations, SQL queries), so a deployed reboundd needs
// nothing beside it.

#include <string_view>
#include <vector>

namespace rebound {

struct EmbeddedFile {
    std::string_view name;     // file name, e.g. "0001_core.sql"
    std::string_view content;  // exact bytes of the file
};

}  // namespace rebound
