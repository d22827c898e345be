#include "gateway/observability/grpc_log.h"

#include <fcntl.h>
#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json_text.h"
#include "gateway/observability/json_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;

// The lines written to fd 2 while `log` runs.
std::vector<std::string> StderrLinesOf(const std::function<void()>& log) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/grpc_log_stderr");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int saved = dup(2);
  dup2(fd, 2);
  close(fd);
  log();
  dup2(saved, 2);
  close(saved);
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
}

// gRPC reads its verbosity (GRPC_VERBOSITY, ERROR by default) in grpc_init(), as in the
// gateway, where the server has initialised gRPC before it logs anything.
class GrpcLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_init();
    RouteGrpcLogsToJsonLog();
  }
  void TearDown() override { grpc_shutdown(); }
};

TEST_F(GrpcLogTest, GrpcLinesBecomeJsonLines) {
  const std::vector<std::string> lines = StderrLinesOf(
      [] { gpr_log(GPR_ERROR, "Handshake failed with fatal error %s", "SSL_ERROR_SSL"); });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(json::Validate(lines[0]).ok()) << lines[0];
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"error\",\"message\":\"grpc\""));
  EXPECT_THAT(lines[0],
              HasSubstr("\"detail\":\"Handshake failed with fatal error SSL_ERROR_SSL\""));
  EXPECT_THAT(lines[0], HasSubstr("\"source\":\"tests/gateway/observability/grpc_log_test.cc:"));
}

TEST_F(GrpcLogTest, LongMessagesAreCutAndLevelsBelowTheConfiguredOneDropped) {
  const std::string long_text(5000, 'p');
  std::vector<std::string> lines =
      StderrLinesOf([&] { gpr_log(GPR_ERROR, "peer said %s", long_text.c_str()); });  // 10 + 5000 bytes
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(lines[0].size(), 1400u);
  EXPECT_THAT(lines[0], HasSubstr("...[5010 bytes]"));

  SetLogLevel(LogLevel::kError);
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
  lines = StderrLinesOf([] { gpr_log(GPR_INFO, "an info line"); });
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  SetLogLevel(LogLevel::kInfo);
  EXPECT_TRUE(lines.empty());
}

}  // namespace
}  // namespace cellgw::gateway
