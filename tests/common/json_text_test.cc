#include "common/json_text.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::json {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

// ---------------------------------------------------------------------------------------------
// Validate / ValidateAndKind

struct KindCase {
  std::string text;
  Kind kind;
};

class ValidJsonTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(ValidJsonTest, IsAcceptedWithItsKind) {
  EXPECT_TRUE(Validate(GetParam().text).ok()) << GetParam().text;
  const absl::StatusOr<Kind> kind = ValidateAndKind(GetParam().text);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, GetParam().kind);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidJsonTest,
    ::testing::Values(
        KindCase{"{}", Kind::kObject}, KindCase{" \t\r\n{ \"a\" : [ 1 , 2 ] }\n ", Kind::kObject},
        KindCase{"[]", Kind::kArray}, KindCase{"[[[[]]]]", Kind::kArray},
        KindCase{"\"\"", Kind::kString},
        KindCase{"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", Kind::kString},
        KindCase{"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"", Kind::kString},
        // A lone surrogate escape: Python's json.loads accepts it, so Validate does too.
        KindCase{"\"\\ud800\"", Kind::kString}, KindCase{"\"\x7f\"", Kind::kString},
        KindCase{"0", Kind::kNumber}, KindCase{"-0", Kind::kNumber},
        KindCase{"18446744073709551615", Kind::kNumber},
        KindCase{"1180591620717411303424", Kind::kNumber}, KindCase{"-1.5e-300", Kind::kNumber},
        KindCase{"1E+2", Kind::kNumber}, KindCase{"0.0", Kind::kNumber},
        KindCase{"true", Kind::kTrue}, KindCase{"false", Kind::kFalse},
        KindCase{" null ", Kind::kNull},
        KindCase{"{\"a\":1,\"a\":2}", Kind::kObject},  // duplicates are valid JSON
        KindCase{Nested(5000), Kind::kArray}, KindCase{Nested(kMaxDepth), Kind::kArray}));

struct InvalidCase {
  std::string name;
  std::string text;
  std::string message;  // a substring the error must contain (what and where)
};

class InvalidJsonTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidJsonTest, IsRefusedWithWhatAndWhere) {
  const absl::Status status = Validate(GetParam().text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(GetParam().message));
  // The other entry points agree.
  EXPECT_EQ(ValidateAndKind(GetParam().text).status().code(), absl::StatusCode::kInvalidArgument);
  std::string out = "prefix";
  EXPECT_EQ(AppendPythonStyle(GetParam().text, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "prefix");
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidJsonTest,
    ::testing::Values(
        InvalidCase{"Empty", "", "byte offset 0: unexpected end of input"},
        InvalidCase{"OnlyWhitespace", "  \n", "byte offset 3: unexpected end of input"},
        InvalidCase{"TrailingCommaArray", "[1,]", "byte offset 3: unexpected ']'"},
        InvalidCase{"TrailingCommaObject", "{\"a\":1,}", "byte offset 7: unexpected '}'"},
        InvalidCase{"LeadingZero", "[01]", "byte offset 2: unexpected '1'"},
        InvalidCase{"LeadingZeroTopLevel", "00", "byte offset 1: unexpected data after"},
        InvalidCase{"MinusAlone", "-", "byte offset 0: invalid number"},
        InvalidCase{"DotWithoutDigits", "1.", "invalid number: '.' must be followed"},
        InvalidCase{"LeadingDot", ".5", "unexpected '.'"},
        InvalidCase{"EmptyExponent", "1e+", "exponent has no digits"},
        InvalidCase{"PlusSign", "+1", "unexpected '+'"},
        InvalidCase{"NaN", "NaN", "byte offset 0: unexpected 'N'"},
        InvalidCase{"Infinity", "[Infinity]", "byte offset 1: unexpected 'I'"},
        InvalidCase{"MinusInfinity", "-Infinity", "invalid number"},
        InvalidCase{"BadEscape", "\"a\\x\"", "byte offset 2: invalid escape \\'x'"},
        InvalidCase{"ShortUnicodeEscape", "\"\\u12\"", "byte offset 1: \\u escape needs four hex"},
        InvalidCase{"NonHexUnicodeEscape", "\"\\u12G4\"", "\\u escape needs four hex"},
        InvalidCase{"RawNewlineInString", "\"a\nb\"", "byte offset 2: raw control character"},
        InvalidCase{"RawTabInString", "\"\t\"", "raw control character byte 0x09"},
        InvalidCase{"RawNulInString", std::string("\"\0\"", 3), "raw control character byte 0x00"},
        InvalidCase{"InvalidUtf8Lead", "\"\xff\"", "byte offset 1: invalid UTF-8"},
        InvalidCase{"TruncatedUtf8", "\"\xc3\"", "invalid UTF-8"},
        InvalidCase{"OverlongUtf8", "\"\xc0\xaf\"", "invalid UTF-8"},
        InvalidCase{"Utf8EncodedSurrogate", "\"\xed\xa0\x80\"", "invalid UTF-8"},
        InvalidCase{"Utf8AboveMaxCodePoint", "\"\xf4\x90\x80\x80\"", "invalid UTF-8"},
        InvalidCase{"LineComment", "[1] // c", "byte offset 4: unexpected data after"},
        InvalidCase{"BlockComment", "/* c */ 1", "unexpected '/'"},
        InvalidCase{"TrailingGarbage", "{} x", "byte offset 3: unexpected data after"},
        InvalidCase{"TwoValues", "1 2", "byte offset 2: unexpected data after"},
        InvalidCase{"SingleQuotes", "'a'", "unexpected '''"},
        InvalidCase{"UnquotedKey", "{a:1}", "byte offset 1: unexpected 'a', expected a string key"},
        InvalidCase{"MissingColon", "{\"a\" 1}", "byte offset 5: expected ':'"},
        InvalidCase{"MissingComma", "[1 2]", "byte offset 3: unexpected '2', expected ','"},
        InvalidCase{"UnterminatedString", "\"abc", "byte offset 0: unterminated string"},
        InvalidCase{"UnterminatedArray", "[1,2", "unexpected end of input inside an array"},
        InvalidCase{"UnterminatedObject", "{\"a\":1", "unexpected end of input inside an object"},
        InvalidCase{"MisspelledLiteral", "tru", "invalid literal, expected 'true'"},
        InvalidCase{"CapitalLiteral", "True", "unexpected 'T'"},
        InvalidCase{"FormFeedWhitespace", "\f1", "unexpected byte 0x0c"},
        InvalidCase{"TooDeep", Nested(kMaxDepth + 1), "nesting deeper than 10000 levels"},
        InvalidCase{"HostileDepth", std::string(100000, '['), "nesting deeper than 10000 levels"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// AppendPythonStyle

struct ReemitCase {
  std::string name;
  std::string input;
  std::string python;  // json.dumps(json.loads(input)) as CPython prints it
};

class PythonStyleTest : public ::testing::TestWithParam<ReemitCase> {};

TEST_P(PythonStyleTest, PrintsWhatPythonJsonDumpsPrints) {
  std::string out = "<";
  const absl::Status status = AppendPythonStyle(GetParam().input, &out);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(out, "<" + GetParam().python);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PythonStyleTest,
    ::testing::Values(
        ReemitCase{"CompactGetsSpaced", "{\"a\":[1,2,{\"b\":null}],\"c\":true}",
                   "{\"a\": [1, 2, {\"b\": null}], \"c\": true}"},
        ReemitCase{"PrettyGetsCompacted", " {\n  \"a\" : [\n   1 ,\n   false\n  ]\n }\n",
                   "{\"a\": [1, false]}"},
        ReemitCase{"EmptyContainers", "[ { } , [ ] ]", "[{}, []]"},
        ReemitCase{"NonAsciiEscaped", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
                   "\"caf\\u00e9 \\ud83d\\ude00\""},
        ReemitCase{"ThreeByteUtf8", "\"\xe2\x98\x83\"", "\"\\u2603\""},
        ReemitCase{"UpperHexEscapesLowercased", "\"\\u00E9\\uD83D\\uDE00\"",
                   "\"\\u00e9\\ud83d\\ude00\""},
        ReemitCase{"AsciiEscapesUnescaped", "\"\\u0041\\/\"", "\"A/\""},
        ReemitCase{"ShortEscapesKept", "\"\\\"\\\\\\b\\f\\n\\r\\t\"",
                   "\"\\\"\\\\\\b\\f\\n\\r\\t\""},
        ReemitCase{"ControlEscapesAsU00xx", "\"\\u0001\\u001F\\u000a\"", "\"\\u0001\\u001f\\n\""},
        ReemitCase{"DelIsEscaped", "[\"\\u007f\", \"\x7f\"]", "[\"\\u007f\", \"\\u007f\"]"},
        ReemitCase{"SlashNotEscaped", "\"a/b\"", "\"a/b\""},
        ReemitCase{"LoneSurrogatesKept", "[\"\\ud83d\", \"\\uDE00\\ud83d\", \"\\ud83d\\u0041\"]",
                   "[\"\\ud83d\", \"\\ude00\\ud83d\", \"\\ud83dA\"]"},
        ReemitCase{"BigIntegersUntouched",
                   "[18446744073709551615,1180591620717411303424,-9223372036854775808]",
                   "[18446744073709551615, 1180591620717411303424, -9223372036854775808]"},
        ReemitCase{"NumbersCopiedVerbatim", "[1.50,1E+2,-0]", "[1.50, 1E+2, -0]"},
        ReemitCase{"DuplicateKeyTakesLastValueAtFirstPosition", "{\"a\":1,\"b\":2,\"a\":3}",
                   "{\"a\": 3, \"b\": 2}"},
        ReemitCase{"DuplicateKeysCompareDecoded", "{\"\\u0061\":1,\"a\":2}", "{\"a\": 2}"},
        ReemitCase{"DuplicateKeysNested",
                   "{\"k\":[{\"a\":1,\"a\":2}],\"k2\":{\"b\":{\"c\":1,\"c\":2},\"b\":{\"d\":1}}}",
                   "{\"k\": [{\"a\": 2}], \"k2\": {\"b\": {\"d\": 1}}}"},
        ReemitCase{"DuplicateOuterKeyDropsNestedValue",
                   "{\"x\":{\"y\":1,\"y\":{\"z\":[1,2]}},\"x\":5}", "{\"x\": 5}"}),
    [](const ::testing::TestParamInfo<ReemitCase>& info) { return info.param.name; });

TEST(PythonStyleTest, DuplicateKeysInLargeObjectsResolveLikePython) {
  // Past the linear-scan threshold, duplicates are found through the hash index.
  std::string input = "{";
  std::string expected = "{";
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&input, i > 0 ? "," : "", "\"k", i, "\":", i);
    absl::StrAppend(&expected, i > 0 ? ", " : "", "\"k", i, "\": ", i == 3 ? 1003 : i);
  }
  absl::StrAppend(&input, ",\"k3\":1003}");
  expected += "}";
  std::string out;
  ASSERT_TRUE(AppendPythonStyle(input, &out).ok());
  EXPECT_EQ(out, expected);
}

TEST(PythonStyleTest, DeepNestingWithinTheLimitIsReemitted) {
  std::string out;
  ASSERT_TRUE(AppendPythonStyle(Nested(5000), &out).ok());
  EXPECT_EQ(out, Nested(5000));
}

// ---------------------------------------------------------------------------------------------
// AppendQuoted / AppendQuotedLossy

TEST(AppendQuotedTest, EscapesLikePythonEnsureAscii) {
  std::string out;
  ASSERT_TRUE(AppendQuoted("caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ / \n\t\x01\x7f", &out).ok());
  EXPECT_EQ(out, "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ / \\n\\t\\u0001\\u007f\"");
}

TEST(AppendQuotedTest, EmptyStringIsTwoQuotes) {
  std::string out;
  ASSERT_TRUE(AppendQuoted("", &out).ok());
  EXPECT_EQ(out, "\"\"");
}

TEST(AppendQuotedTest, InvalidUtf8IsRefusedAndOutputRestored) {
  std::string out = "keep";
  const absl::Status status = AppendQuoted("ab\xc3(", &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("byte offset 2"));
  EXPECT_EQ(out, "keep");
}

TEST(AppendQuotedTest, LossyReplacesEachInvalidByte) {
  std::string out;
  AppendQuotedLossy(
      "a\xff\xfe"
      "b",
      &out);
  EXPECT_EQ(out, "\"a\\ufffd\\ufffdb\"");
}

// ---------------------------------------------------------------------------------------------
// Unquote

TEST(UnquoteTest, JoinsEscapedSurrogatePairs) {
  const absl::StatusOr<std::string> text = Unquote("\"\\ud83d\\ude00 \\uD83D\\uDE00\"");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
}

TEST(UnquoteTest, DecodesEscapesAndKeepsRawUtf8) {
  const absl::StatusOr<std::string> text = Unquote("\"a\\\"b\\\\c\\/d\\n\\u00e9 caf\xc3\xa9\"");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "a\"b\\c/d\n\xc3\xa9 caf\xc3\xa9");
}

TEST(UnquoteTest, RefusesLoneSurrogates) {
  for (const char* literal :
       {"\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"\\ude00\\ud83d\""}) {
    const absl::StatusOr<std::string> text = Unquote(literal);
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << literal;
    EXPECT_THAT(std::string(text.status().message()), HasSubstr("lone surrogate")) << literal;
  }
}

TEST(UnquoteTest, RefusesAnythingButExactlyOneLiteral) {
  for (const char* literal : {"", "abc", " \"a\"", "\"a\" ", "\"a\"\"b\"", "\"a", "1"}) {
    EXPECT_EQ(Unquote(literal).status().code(), absl::StatusCode::kInvalidArgument) << literal;
  }
}

// ---------------------------------------------------------------------------------------------
// ObjectMembers / ArrayElements / CollapseDuplicateKeys

TEST(ObjectMembersTest, ReturnsRawNestedValuesInOrder) {
  const std::string text =
      " { \"a\" : {\"x\": [1, {\"y\": 2}]} ,\"b\\u00e9\":[ 18446744073709551615 ],"
      "\"c\":\"s\" , \"d\" : null }\n";
  const absl::StatusOr<std::vector<Member>> members = ObjectMembers(text);
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->size(), 4u);
  EXPECT_EQ((*members)[0].key, "a");
  EXPECT_EQ((*members)[0].raw_key, "\"a\"");
  EXPECT_EQ((*members)[0].value, "{\"x\": [1, {\"y\": 2}]}");
  EXPECT_EQ((*members)[1].key, "b\xc3\xa9");
  EXPECT_EQ((*members)[1].raw_key, "\"b\\u00e9\"");
  EXPECT_EQ((*members)[1].value, "[ 18446744073709551615 ]");
  EXPECT_EQ((*members)[2].value, "\"s\"");
  EXPECT_EQ((*members)[3].value, "null");
  // The views point into the input.
  EXPECT_GE((*members)[0].value.data(), text.data());
  EXPECT_LT((*members)[0].value.data(), text.data() + text.size());
}

TEST(ObjectMembersTest, KeepsDuplicates) {
  const absl::StatusOr<std::vector<Member>> members = ObjectMembers("{\"a\":1,\"a\":2}");
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].value, "1");
  EXPECT_EQ((*members)[1].value, "2");
}

TEST(ObjectMembersTest, EmptyObjectHasNoMembers) {
  const absl::StatusOr<std::vector<Member>> members = ObjectMembers(" {  } ");
  ASSERT_TRUE(members.ok());
  EXPECT_TRUE(members->empty());
}

TEST(ObjectMembersTest, RefusesNonObjectsAndInvalidJson) {
  for (const char* text : {"[]", "\"{}\"", "1", "{\"a\":1", "{\"a\":1} x", "{\"a\":[1,]}"}) {
    EXPECT_EQ(ObjectMembers(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_THAT(std::string(ObjectMembers("[]").status().message()),
              HasSubstr("expected a JSON object"));
}

TEST(ObjectMembersTest, HostileNestingInAValueIsAnError) {
  const std::string text = "{\"a\":" + std::string(100000, '[') + "}";
  EXPECT_EQ(ObjectMembers(text).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ArrayElementsTest, ReturnsRawElements) {
  const absl::StatusOr<std::vector<absl::string_view>> elements =
      ArrayElements("[ 1 , \"two\" ,{\"3\": [3]}, [ ] ,null]");
  ASSERT_TRUE(elements.ok()) << elements.status();
  EXPECT_THAT(*elements, ElementsAre("1", "\"two\"", "{\"3\": [3]}", "[ ]", "null"));
}

TEST(ArrayElementsTest, RefusesNonArrays) {
  EXPECT_EQ(ArrayElements("{}").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ArrayElements("[1,]").status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<std::vector<absl::string_view>> empty = ArrayElements("[]");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(CollapseDuplicateKeysTest, KeepsFirstPositionAndLastValue) {
  absl::StatusOr<std::vector<Member>> members =
      ObjectMembers("{\"a\":1,\"b\":2,\"\\u0061\":3,\"c\":4,\"b\":5}");
  ASSERT_TRUE(members.ok());
  CollapseDuplicateKeys(&*members);
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[0].key, "a");
  EXPECT_EQ((*members)[0].raw_key, "\"a\"");
  EXPECT_EQ((*members)[0].value, "3");
  EXPECT_EQ((*members)[1].key, "b");
  EXPECT_EQ((*members)[1].value, "5");
  EXPECT_EQ((*members)[2].key, "c");
  EXPECT_EQ((*members)[2].value, "4");
}

TEST(CollapseDuplicateKeysTest, LargeObjectsCollapseTheSameWay) {
  std::string text = "{";
  for (int i = 0; i < 30; ++i) absl::StrAppend(&text, "\"k", i % 20, "\":", i, ",");
  text.back() = '}';
  absl::StatusOr<std::vector<Member>> members = ObjectMembers(text);
  ASSERT_TRUE(members.ok());
  CollapseDuplicateKeys(&*members);
  ASSERT_EQ(members->size(), 20u);
  EXPECT_EQ((*members)[0].key, "k0");
  EXPECT_EQ((*members)[0].value, "20");
  EXPECT_EQ((*members)[19].key, "k19");
  EXPECT_EQ((*members)[19].value, "19");
}

TEST(KindOfValidTest, ReadsTheFirstByte) {
  EXPECT_EQ(KindOfValid(" {}"), Kind::kObject);
  EXPECT_EQ(KindOfValid("[1]"), Kind::kArray);
  EXPECT_EQ(KindOfValid("\"s\""), Kind::kString);
  EXPECT_EQ(KindOfValid("-1"), Kind::kNumber);
  EXPECT_EQ(KindOfValid("true"), Kind::kTrue);
  EXPECT_EQ(KindOfValid("false"), Kind::kFalse);
  EXPECT_EQ(KindOfValid("null"), Kind::kNull);
}

}  // namespace
}  // namespace cellgw::json
