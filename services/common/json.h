#pragma once
// A small streaming JSON writer for CLI output and logs. Strings are emitted as valid
// UTF-8: bytes that are not well-formed UTF-8 become U+FFFD, control characters are escaped.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rebound::common {

class JsonWriter {
  public:
    JsonWriter& BeginObject();
    JsonWriter& EndObject();
    JsonWriter& BeginArray();
    JsonWriter& EndArray();
    JsonWriter& Key(std::string_view key);

    JsonWriter& String(std::string_view value);
    JsonWriter& Int(std::int64_t value);
    JsonWriter& Uint(std::uint64_t value);
    JsonWriter& Bool(bool value);
    JsonWriter& Null();
    // Emits `value` verbatim; the caller guarantees it is valid JSON.
    JsonWriter& Raw(std::string_view value);

    // Key + value in one call; an empty optional writes null.
    JsonWriter& Field(std::string_view key, std::string_view value) { return Key(key).String(value); }
    JsonWriter& Field(std::string_view key, const char* value) { return Key(key).String(value); }
    JsonWriter& Field(std::string_view key, const std::string& value) { return Key(key).String(value); }
    JsonWriter& Field(std::string_view key, bool value) { return Key(key).Bool(value); }
    JsonWriter& Field(std::string_view key, int value) { return Key(key).Int(value); }
    JsonWriter& Field(std::string_view key, std::int64_t value) { return Key(key).Int(value); }
    JsonWriter& Field(std::string_view key, std::uint64_t value) { return Key(key).Uint(value); }
    JsonWriter& Field(std::string_view key, const std::optional<std::string>& value);

    const std::string& str() const { return out_; }
    std::string Take() { return std::move(out_); }

  private:
    void BeforeValue();

    std::string out_;
    // One entry per open container: true once it holds an element (a comma comes next).
    std::vector<bool> has_element_;
    bool after_key_ = false;
};

// Appends `value` as a quoted JSON string to `out`.
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace rebound::common
