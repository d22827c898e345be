#include "gateway/grpc_server_options.h"

#include <grpc/grpc.h>

#include <map>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

bridge::CellOptions Cell(const std::string& name, uint64_t max_message_bytes) {
  bridge::CellOptions cell;
  cell.name = name;
  cell.max_message_bytes = max_message_bytes;
  return cell;
}

std::map<std::string, int> Arguments(const GrpcServerOptions& options) {
  std::map<std::string, int> arguments;
  for (const auto& [name, value] : options.int_arguments) {
    EXPECT_TRUE(arguments.emplace(name, value).second) << name << " given twice";
  }
  return arguments;
}

TEST(ServerOptionsForTest, ReceiveLimitIsTheLargestCellsMessagePlusTheEnvelope) {
  GatewayConfig config;
  config.cells = {Cell("a", 2048), Cell("b", 8 << 20), Cell("c", 4096)};
  EXPECT_EQ(ServerOptionsFor(config).max_receive_message_bytes, (8 << 20) + (64 << 10));
  config.cells = {Cell("a", 2048)};
  EXPECT_EQ(ServerOptionsFor(config).max_receive_message_bytes, 2048 + (64 << 10));
}

TEST(ServerOptionsForTest, DefaultsAreTheConfigsDefaults) {
  GatewayConfig config;
  config.cells = {Cell("a", 4 << 20)};
  const std::map<std::string, int> arguments = Arguments(ServerOptionsFor(config));
  EXPECT_EQ(arguments.at(GRPC_ARG_MAX_CONCURRENT_STREAMS), 1024);
  EXPECT_EQ(arguments.at(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS), 30000);
  EXPECT_EQ(arguments.at(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS), 0);
  EXPECT_EQ(arguments.at(GRPC_ARG_KEEPALIVE_TIME_MS), 7200000);
  EXPECT_EQ(arguments.at(GRPC_ARG_KEEPALIVE_TIMEOUT_MS), 20000);
  EXPECT_EQ(arguments.at(GRPC_ARG_HTTP2_MAX_PING_STRIKES), 2);
  EXPECT_EQ(arguments.size(), 6u);
}

TEST(ServerOptionsForTest, EveryKeyBecomesItsChannelArgument) {
  GatewayConfig config;
  config.cells = {Cell("a", 4 << 20)};
  config.max_concurrent_streams = 7;
  config.keepalive.min_ping_interval = absl::Milliseconds(1500);
  config.keepalive.permit_without_calls = true;
  config.keepalive.time = absl::Seconds(45);
  config.keepalive.timeout = absl::Seconds(3);
  const std::map<std::string, int> arguments = Arguments(ServerOptionsFor(config));
  EXPECT_EQ(arguments.at(GRPC_ARG_MAX_CONCURRENT_STREAMS), 7);
  EXPECT_EQ(arguments.at(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS), 1500);
  EXPECT_EQ(arguments.at(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS), 1);
  EXPECT_EQ(arguments.at(GRPC_ARG_KEEPALIVE_TIME_MS), 45000);
  EXPECT_EQ(arguments.at(GRPC_ARG_KEEPALIVE_TIMEOUT_MS), 3000);
}

TEST(ServerOptionsForTest, TheLongestConfigurableTimesFitGrpcsIntMilliseconds) {
  GatewayConfig config;
  config.cells = {Cell("a", 128 << 20)};
  config.keepalive.time = absl::Seconds(2147483);
  const GrpcServerOptions options = ServerOptionsFor(config);
  EXPECT_EQ(Arguments(options).at(GRPC_ARG_KEEPALIVE_TIME_MS), 2147483000);
  EXPECT_EQ(options.max_receive_message_bytes, (128 << 20) + (64 << 10));
}

}  // namespace
}  // namespace cellgw::gateway
