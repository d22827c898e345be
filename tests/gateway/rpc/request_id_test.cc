#include "gateway/rpc/request_id.h"

#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

TEST(RequestIdTest, UsesTheCallersIdWhenItIsPrintableAndShort) {
  EXPECT_EQ(ChooseRequestId("req-abc-123"), "req-abc-123");
}

TEST(RequestIdTest, GeneratesReqUuidOtherwise) {
  for (const std::string& bad : {std::string(), std::string("has space"), std::string(129, 'a'),
                                std::string("tab\there"), std::string("caf\xc3\xa9")}) {
    const std::string id = ChooseRequestId(bad);
    EXPECT_EQ(id.size(), 40u) << bad;  // "req-" + 36-character dashed uuid
    EXPECT_EQ(id.substr(0, 4), "req-") << bad;
  }
  EXPECT_NE(ChooseRequestId(""), ChooseRequestId(""));
}

}  // namespace
}  // namespace cellgw::gateway
