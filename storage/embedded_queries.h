#pragma once
// Generated definitions (see storage/CMakeLists.txt).

#include <vector>

#include "storage/embedded.h"

namespace rebound::storage::embedded {
std::vector<EmbeddedFile> QueryFiles();
std::vector<EmbeddedFile> MigrationFiles();
}  // namespace rebound::storage::embedded
