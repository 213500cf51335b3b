#pragma once
// Runs the current parser and rules again over stored raw messages (after a rules update):
// each message's events are replaced and the suppression policy applied to the new ones,
// one transaction per message. Paged, so a range of any size can be worked through.

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "services/envelope/codec.h"
#include "services/ingest/domain_directory.h"

namespace rebound::ingest {

struct ReprocessCounts {
    std::uint64_t messages = 0;
    std::uint64_t events_before = 0;
    std::uint64_t events_after = 0;
    std::uint64_t suppressed = 0;  // recipients newly suppressed
    std::uint64_t unparsed = 0;    // messages the parser still cannot read
};

struct ReprocessPage {
    ReprocessCounts counts;
    // Where the next call continues: the last message done. Empty when the range is done.
    std::optional<std::pair<std::int64_t, std::int64_t>> next;  // (received_us, id)
};

absl::StatusOr<ReprocessPage> Reprocess(pqxx::connection& conn, const DomainSnapshot& domains,
                                        const envelope::Codec& codec, std::int64_t since_us, std::int64_t until_us,
                                        std::int64_t after_us, std::int64_t after_id, int max_messages);

}  // namespace rebound::ingest
