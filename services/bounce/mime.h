#pragma once
// MIME for the bounce parsers: flattens a message into the parts they read, with transfer
// encodings undone (mimetic's codecs) and text converted to UTF-8. Internal to rebound::bounce.

#include <cstddef>
#include <forward_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::bounce {

// One header field: `name` as written (compare it case-insensitively), `value` unfolded, without
// outer blanks, RFC 2047 words decoded where the reader asked for it. Both are views, into the text
// the header was read from or into the storage of the Headers that holds the field.
struct HeaderField {
    std::string_view name;
    std::string_view value;
};

// Header fields in their order. Move-only: values may point into its own storage.
class Headers {
  public:
    Headers() = default;
    Headers(Headers&&) noexcept = default;
    Headers& operator=(Headers&&) noexcept = default;
    Headers(const Headers&) = delete;
    Headers& operator=(const Headers&) = delete;

    // First value of the field (name compared case-insensitively), or "" if absent.
    std::string_view Get(std::string_view name) const;
    bool Has(std::string_view name) const;
    const std::vector<HeaderField>& fields() const { return fields_; }
    bool empty() const { return fields_.empty(); }
    std::size_t size() const { return fields_.size(); }

    // Adds a field from its raw value (folds included), unfolded and, with `decode`, with RFC 2047
    // words decoded. `name` and `raw_value` are viewed: their text must outlive the Headers.
    void Add(std::string_view name, std::string_view raw_value, bool decode);
    // Adds a field as it is; the text of both views must outlive the Headers.
    void AddView(std::string_view name, std::string_view value) { fields_.push_back({name, value}); }
    void Reserve(std::size_t n) { fields_.reserve(n); }

  private:
    std::vector<HeaderField> fields_;
    std::forward_list<std::string> storage_;  // values that are not in the text (unfolded, decoded)
};

struct MimePart {
    std::string content_type;  // lower-case "type/subtype"; "text/plain" when absent
    std::string charset;       // lower-case, may be empty
    // Transfer decoding undone, converted to UTF-8: a view of the message, or of FlatMessage::storage
    // when decoding changed it. Only the bodies the parsers read are decoded:
    // text/* and message/* parts, except text/html when there is a text/plain part at the top level
    // (the first HTML part stands in for a missing one), and except the parts inside an attached
    // message (message_level > 0) unless it is a forwarded delivery report. Other bodies are empty;
    // so are text/rfc822-headers parts, which are read as AttachedMessage headers.
    std::string_view body;
    int depth = 0;          // 0 = top-level entity
    int message_level = 0;  // number of enclosing message/rfc822 entities
    Headers headers;        // the part's own Content-* fields
};

// A message/rfc822, message/global (or text/rfc822-headers) entity found inside the message. The body
// of an attached message is not split into parts, unless it is a delivery report (multipart/report)
// attached to the top level.
struct AttachedMessage {
    Headers headers;
};

struct MimeLimits {
    int max_depth = 8;
    int max_parts = 256;
};

// Views into the message it was made from (header fields, bodies): keep the message alive while it
// is used.
struct FlatMessage {
    Headers headers;  // top-level header
    std::vector<MimePart> parts;
    std::vector<AttachedMessage> attached;
    std::forward_list<std::string> storage;  // decoded texts that bodies and attached headers view
};

// `message` must use LF line ends and outlive the result. RESOURCE_EXHAUSTED past a limit (checked while splitting: no
// recursion goes deeper than max_depth). Any other input gives a FlatMessage.
absl::StatusOr<FlatMessage> FlattenMessage(std::string_view message, const MimeLimits& limits);

// Parses a header block ("Name: value" lines, folded continuation lines) as in
// text/rfc822-headers; stops at the first empty line. At most `max_fields` fields. The result views
// `text`: keep it alive while the Headers are used. With `keep`, only the fields it accepts are stored
// (the others still count toward max_fields): a reader of a few fields does not pay for unfolding and
// decoding the rest.
Headers ParseHeaderBlock(std::string_view text, std::size_t max_fields = 512,
                         bool (*keep)(std::string_view name) = nullptr);

// Trace and signature fields no parser reads (Received, DKIM-Signature, ARC-*, ...), which make up
// the bulk of most header blocks; they are left out of FlatMessage's headers.
bool IsTraceField(std::string_view name);

// Decodes RFC 2047 encoded words, converting their charsets to UTF-8.
std::string DecodeEncodedWords(std::string_view value);

// Converts `text` from `charset` to UTF-8 (iconv); invalid sequences are replaced.
std::string ToUtf8(std::string_view text, std::string_view charset);

std::string DecodeBase64(std::string_view text);
std::string DecodeQuotedPrintable(std::string_view text);

}  // namespace rebound::bounce
