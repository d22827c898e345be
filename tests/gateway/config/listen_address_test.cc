#include "gateway/config/listen_address.h"

#include <string>

#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

TEST(IsLoopbackListenTest, LoopbackAddressesAndUnixSockets) {
  for (const char* listen :
       {"127.0.0.1:50051", "127.255.0.9:1", "localhost:50051", "LOCALHOST:1", "[::1]:50051",
        "[0:0:0:0:0:0:0:1]:0", "[::ffff:127.0.0.1]:50051", "unix:/run/cellgw.sock",
        "unix:relative.sock"}) {
    EXPECT_TRUE(IsLoopbackListen(listen)) << listen;
  }
}

TEST(IsLoopbackListenTest, WildcardsOtherAddressesAndNamesAreReachable) {
  for (const char* listen :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.1:50051", "128.0.0.1:1", "[fe80::1]:1",
        "[::ffff:10.0.0.1]:1", "cellgw:50051", "localhost.example.org:1", "127.0.0.1.nip.io:1",
        "no-port", "[::1"}) {
    EXPECT_FALSE(IsLoopbackListen(listen)) << listen;
  }
}

}  // namespace
}  // namespace cellgw::gateway
