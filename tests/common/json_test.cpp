#include "services/common/json.h"

#include <gtest/gtest.h>

#include "services/common/strings.h"

namespace rebound::common {
namespace {

TEST(JsonWriterTest, NestedContainersGetCommas) {
    JsonWriter w;
    w.BeginObject()
        .Field("a", 1)
        .Key("b")
        .BeginArray()
        .Int(1)
        .String("x")
        .Null()
        .EndArray()
        .Field("c", true)
        .EndObject();
    EXPECT_EQ(w.str(), R"({"a":1,"b":[1,"x",null],"c":true})");
}

TEST(JsonWriterTest, EscapesControlAndQuotes) {
    JsonWriter w;
    w.String("a\"b\\c\n\t\x01");
    EXPECT_EQ(w.str(), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalidBytes) {
    JsonWriter w;
    w.String("caf\xC3\xA9 \xFF \xE2\x82");
    EXPECT_EQ(w.str(), "\"caf\xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriterTest, RejectsOverlongAndSurrogateEncodings) {
    JsonWriter w;
    w.String("\xC0\xAF\xED\xA0\x80");
    std::string expected = "\"";
    for (int i = 0; i < 5; ++i)
        expected += "\xEF\xBF\xBD";
    EXPECT_EQ(w.str(), expected + "\"");
}

TEST(JsonWriterTest, OptionalNullWhenEmpty) {
    JsonWriter w;
    w.BeginObject().Field("x", std::optional<std::string>()).Field("y", std::optional<std::string>("v")).EndObject();
    EXPECT_EQ(w.str(), R"({"x":null,"y":"v"})");
}

}  // namespace
}  // namespace rebound::common

namespace rebound {
namespace {

TEST(SanitizeUtf8Test, ReplacesInvalidDropsNulAndCutsOnCharacterBoundary) {
    EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), "ab");
    EXPECT_EQ(SanitizeUtf8("x\xFFy"), "x\xEF\xBF\xBDy");
    EXPECT_EQ(SanitizeUtf8("caf\xC3\xA9", 4), "caf") << "a 2-byte character is not split";
    EXPECT_EQ(SanitizeUtf8("caf\xC3\xA9", 5), "caf\xC3\xA9");
}

}  // namespace
}  // namespace rebound
