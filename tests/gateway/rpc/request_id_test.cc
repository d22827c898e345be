#include "gateway/rpc/request_id.h"

#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

TEST(RequestIdTest, UsesTheCallersIdWhenItIsPrintableAndShort) {
  EXPECT_EQ(ChooseRequestId("req-abc-123"), "req-abc-123");
}

TEST(RequestIdTest, GeneratesReqUuidOtherwise) {
  for (const std::string bad : {std::string(), std::string("has space"), std::string(129, 'a'),
                                std::string("tab\there"), std::string("caf\xc3\xa9")}) {
    const std::string id = ChooseRequestId(bad);
    EXPECT_EQ(id.size(), 40u) << bad;  // "req-" + 36-character dashed uuid
    EXPECT_EQ(id.substr(0, 4), "req-") << bad;
  }
  EXPECT_NE(ChooseRequestId(""), ChooseRequestId(""));
}

TEST(RequestIdTest, AddsRequestIdWhenTheContextHasNone) {
  EXPECT_EQ(WithRequestId("", "req-1"), R"({"request_id": "req-1"})");
  EXPECT_EQ(WithRequestId("{}", "req-1"), R"({"request_id": "req-1"})");
  EXPECT_EQ(WithRequestId(R"({"user_id": "u", "n": 18446744073709551615})", "req-1"),
            R"({"user_id": "u", "n": 18446744073709551615, "request_id": "req-1"})");
  EXPECT_EQ(WithRequestId("{ \"a\": 1 }  ", "req-1"), "{ \"a\": 1 , \"request_id\": \"req-1\"}  ");
}

TEST(RequestIdTest, KeepsTheCallersRequestId) {
  const std::string context = R"({"request_id": "req-mine", "user_id": "u"})";
  EXPECT_EQ(WithRequestId(context, "req-other"), context);
}

TEST(RequestIdTest, LeavesInvalidContextAloneForTheValidatorToReport) {
  EXPECT_EQ(WithRequestId("[1]", "req-1"), "[1]");
  EXPECT_EQ(WithRequestId("{bad", "req-1"), "{bad");
}

}  // namespace
}  // namespace cellgw::gateway
