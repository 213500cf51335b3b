#pragma once
// MIME for the bounce parsers: flattens a message into the parts they read, with transfer
// encodings undone (mimetic's codecs) and text converted to UTF-8. Internal to rebound::bounce.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::bounce {

// One unfolded header field; `name` is lower-case, `value` has RFC 2047 words decoded.
struct HeaderField {
    std::string name;
    std::string value;
};

class Headers {
  public:
    Headers() = default;
    explicit Headers(std::vector<HeaderField> fields) : fields_(std::move(fields)) {}
    // First value of the field (name compared case-insensitively), or "" if absent.
    std::string_view Get(std::string_view name) const;
    bool Has(std::string_view name) const;
    const std::vector<HeaderField>& fields() const { return fields_; }
    bool empty() const { return fields_.empty(); }

  private:
    std::vector<HeaderField> fields_;
};

struct MimePart {
    std::string content_type;  // lower-case "type/subtype"; "text/plain" when absent
    std::string charset;       // lower-case, may be empty
    // Transfer decoding undone, converted to UTF-8. Only the bodies the parsers read are decoded:
    // text/* and message/* parts, except text/html when there is a text/plain part at the top level
    // (the first HTML part stands in for a missing one), and except the parts inside an attached
    // message (message_level > 0) unless it is a forwarded delivery report. Other bodies are empty;
    // so are text/rfc822-headers parts, which are read as AttachedMessage headers.
    std::string body;
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

struct FlatMessage {
    Headers headers;  // top-level header
    std::vector<MimePart> parts;
    std::vector<AttachedMessage> attached;
};

// `message` must use LF line ends. RESOURCE_EXHAUSTED past a limit (checked while splitting: no
// recursion goes deeper than max_depth). Any other input gives a FlatMessage.
absl::StatusOr<FlatMessage> FlattenMessage(std::string_view message, const MimeLimits& limits);

// Parses a header block ("Name: value" lines, folded continuation lines) as in
// text/rfc822-headers; stops at the first empty line. At most `max_fields` fields.
Headers ParseHeaderBlock(std::string_view text, std::size_t max_fields = 512);

// Trace and signature fields no parser reads (Received, DKIM-Signature, ARC-*, ...), which make up
// the bulk of most header blocks; they are left out of FlatMessage's headers.
bool IsTraceField(std::string_view name);

// Decodes RFC 2047 encoded words, converting their charsets to UTF-8.
std::string DecodeEncodedWords(std::string_view value);

// Converts `text` from `charset` to UTF-8 (iconv); invalid sequences are replaced.
std::string ToUtf8(std::string_view text, std::string_view charset);
// The same, converting `text` only when it is not already the result.
void ToUtf8InPlace(std::string& text, std::string_view charset);

std::string DecodeBase64(std::string_view text);
std::string DecodeQuotedPrintable(std::string_view text);

}  // namespace rebound::bounce
