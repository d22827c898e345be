#include "gateway/config.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr char kMinimalConfig[] = R"(listen: 127.0.0.1:50051
cells:
  - name: cell1
    transport_url: rabbit://guest:guest@127.0.0.1:5672/cell1
    control_exchange: nova
)";

// One cell with a given body (indented under "- "), for error cases.
std::string CellConfig(const std::string& extra_cell_lines,
                       const std::string& url = "rabbit://u:s3cr3t@h/v") {
  return absl::StrCat("cells:\n  - name: cell1\n    transport_url: \"", url, "\"\n",
                      extra_cell_lines);
}

TEST(ParseConfigTest, MinimalConfigParsesWithDefaults) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(kMinimalConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_EQ(config->metrics_listen, "");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->shutdown_grace_period, absl::Seconds(30));
  ASSERT_EQ(config->cells.size(), 1u);
  const bridge::CellOptions& cell = config->cells[0];
  EXPECT_EQ(cell.name, "cell1");
  EXPECT_EQ(cell.transport_url, "rabbit://guest:guest@127.0.0.1:5672/cell1");
  EXPECT_EQ(cell.control_exchange, "nova");
  EXPECT_TRUE(cell.upgrade_levels.empty());
  EXPECT_TRUE(cell.version_aliases.empty());
  EXPECT_EQ(cell.rpc_response_timeout, absl::Seconds(60));
  EXPECT_EQ(cell.connections, 1);
  EXPECT_FALSE(cell.amqp_durable_queues);
  EXPECT_FALSE(cell.amqp_auto_delete);
  EXPECT_FALSE(cell.rabbit_quorum_queue);
  EXPECT_EQ(cell.heartbeat_timeout_threshold, absl::Seconds(60));
}

TEST(ParseConfigTest, ControlExchangeDefaultsToOpenstack) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(CellConfig(""));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].control_exchange, "openstack");
}

TEST(ParseConfigTest, EveryKeyIsRead) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(R"(
listen: "[::]:0"
metrics_listen: 0.0.0.0:9100
log_level: debug
shutdown_grace_period: 2.5
cells:
  - name: cell1
    transport_url: rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh
    control_exchange: nova
    upgrade_levels:
      compute: grizzly
      conductor: 1.10
      scheduler: "5.0.3"
    version_aliases:
      grizzly: 1.0
      havana: 2.0
    rpc_response_timeout: 0.25
    connections: 64
    amqp_durable_queues: true
    amqp_auto_delete: True
    rabbit_quorum_queue: TRUE
    heartbeat_timeout_threshold: 0
  - name: cell2
    transport_url: rabbit://
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "[::]:0");
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9100");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->shutdown_grace_period, absl::Milliseconds(2500));
  ASSERT_EQ(config->cells.size(), 2u);
  const bridge::CellOptions& cell = config->cells[0];
  EXPECT_EQ(cell.name, "cell1");
  EXPECT_EQ(cell.transport_url, "rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh");
  EXPECT_EQ(cell.control_exchange, "nova");
  EXPECT_THAT(cell.upgrade_levels, ElementsAre(Pair("compute", "grizzly"),
                                               Pair("conductor", "1.10"),
                                               Pair("scheduler", "5.0.3")));
  EXPECT_THAT(cell.version_aliases, ElementsAre(Pair("grizzly", "1.0"), Pair("havana", "2.0")));
  EXPECT_EQ(cell.rpc_response_timeout, absl::Milliseconds(250));
  EXPECT_EQ(cell.connections, 64);
  EXPECT_TRUE(cell.amqp_durable_queues);
  EXPECT_TRUE(cell.amqp_auto_delete);
  EXPECT_TRUE(cell.rabbit_quorum_queue);
  EXPECT_EQ(cell.heartbeat_timeout_threshold, absl::ZeroDuration());
  EXPECT_EQ(config->cells[1].name, "cell2");
  EXPECT_EQ(config->cells[1].transport_url, "rabbit://");
}

TEST(ParseConfigTest, VersionsWrittenAsBareNumbersKeepTheirText) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(CellConfig(R"(    upgrade_levels:
      compute: 1.10
      conductor: 2.0
    version_aliases:
      grizzly: 1.0
      icehouse: 3.40
)"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].upgrade_levels.at("compute"), "1.10");
  EXPECT_EQ(config->cells[0].upgrade_levels.at("conductor"), "2.0");
  EXPECT_EQ(config->cells[0].version_aliases.at("grizzly"), "1.0");
  EXPECT_EQ(config->cells[0].version_aliases.at("icehouse"), "3.40");
}

TEST(ParseConfigTest, UrlHeartbeatOverridesTheKeyWhicheverComesFirst) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(
      CellConfig("    heartbeat_timeout_threshold: 30\n",
                 "rabbit://u:p@h/v?heartbeat_timeout_threshold=10"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].heartbeat_timeout_threshold, absl::Seconds(10));
}

TEST(ParseConfigTest, UrlSslOptionIsAccepted) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(CellConfig("", "rabbit://u:p@h/v?ssl=true"));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(ParseConfigTest, EmptyMapsAreAccepted) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(CellConfig("    upgrade_levels: {}\n    version_aliases: {}\n"));
  EXPECT_TRUE(config.ok()) << config.status();
}

struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string message_prefix;  // key path and reason, from the start of the message
};

class ParseConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseConfigErrorTest, IsInvalidArgumentNamingTheKeyPath) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<GatewayConfig> config = ParseConfig(c.yaml);
  ASSERT_FALSE(config.ok()) << c.yaml;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith(c.message_prefix));
}

// Every case's URL holds the password "s3cr3t", so the same table proves that no error
// message ever shows it.
TEST_P(ParseConfigErrorTest, MessageNeverContainsThePassword) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(GetParam().yaml);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), Not(HasSubstr("s3cr3t")));
}

std::string TopLevel(const std::string& lines) { return lines + CellConfig(""); }

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseConfigErrorTest,
    ::testing::Values(
        // Top level.
        ErrorCase{"EmptyDocument", "", "cells: required key is missing"},
        ErrorCase{"RootIsList", "- a\n", "config: must be a map of settings"},
        ErrorCase{"UnknownTopLevelKey", TopLevel("listn: 1.2.3.4:5\n"), "listn: unknown key"},
        ErrorCase{"DuplicateTopLevelKey", TopLevel("log_level: info\nlog_level: debug\n"),
                  "log_level: key appears more than once"},
        ErrorCase{"MissingCells", "listen: 127.0.0.1:1\n", "cells: required key is missing"},
        ErrorCase{"EmptyCells", "cells: []\n", "cells: must be a non-empty list"},
        ErrorCase{"CellsIsMap", "cells: {a: b}\n", "cells: must be a non-empty list"},
        ErrorCase{"ListenWithoutPort", TopLevel("listen: localhost\n"),
                  "listen: must be host:port"},
        ErrorCase{"ListenBadPort", TopLevel("listen: localhost:70000\n"),
                  "listen: must be host:port"},
        ErrorCase{"ListenBareIpv6", TopLevel("listen: ::1:50051\n"),
                  "listen: must be host:port"},
        ErrorCase{"ListenIsList", TopLevel("listen: [a]\n"), "listen: must be a string"},
        ErrorCase{"ListenIsNull", TopLevel("listen:\n"), "listen: has no value"},
        ErrorCase{"MetricsListenBad", TopLevel("metrics_listen: nope\n"),
                  "metrics_listen: must be host:port"},
        ErrorCase{"LogLevelUnknown", TopLevel("log_level: verbose\n"),
                  "log_level: must be one of debug, info, warning, error"},
        ErrorCase{"GraceNotNumber", TopLevel("shutdown_grace_period: soon\n"),
                  "shutdown_grace_period: must be a number of seconds"},
        ErrorCase{"GraceNegative", TopLevel("shutdown_grace_period: -1\n"),
                  "shutdown_grace_period: must be a number of seconds"},
        ErrorCase{"GraceInfinite", TopLevel("shutdown_grace_period: inf\n"),
                  "shutdown_grace_period: must be a number of seconds"},
        // Per cell.
        ErrorCase{"CellIsString", "cells:\n  - cell1\n", "cells[0]: must be a map"},
        ErrorCase{"UnknownCellKey", CellConfig("    upgrade_level:\n      compute: 1.0\n"),
                  "cells[0].upgrade_level: unknown key"},
        ErrorCase{"UnknownKeyInSecondCell",
                  CellConfig("") + "  - name: cell2\n    transport_url: rabbit://\n"
                                   "    exchange: nova\n",
                  "cells[1].exchange: unknown key"},
        ErrorCase{"DuplicateCellKey", CellConfig("    connections: 1\n    connections: 2\n"),
                  "cells[0].connections: key appears more than once"},
        ErrorCase{"NonStringKey", CellConfig("    [a]: b\n"), "cells[0]: a key is a list"},
        ErrorCase{"MissingName", "cells:\n  - transport_url: rabbit://u:s3cr3t@h/\n",
                  "cells[0].name: required key is missing"},
        ErrorCase{"EmptyName",
                  "cells:\n  - name: \"\"\n    transport_url: rabbit://u:s3cr3t@h/\n",
                  "cells[0].name: must not be empty"},
        ErrorCase{"MissingTransportUrl", "cells:\n  - name: cell1\n",
                  "cells[0].transport_url: required key is missing"},
        ErrorCase{"DuplicateCellNames",
                  CellConfig("") + "  - name: cell1\n    transport_url: rabbit://u:s3cr3t@h2/\n",
                  "cells[1].name: \"cell1\" is also the name of cells[0]"},
        ErrorCase{"TransportUrlBadPort", CellConfig("", "rabbit://u:s3cr3t@h:0/v"),
                  "cells[0].transport_url: host 1: port"},
        ErrorCase{"TransportUrlAmqp", CellConfig("", "amqp://u:s3cr3t@h/v"),
                  "cells[0].transport_url: scheme \"amqp\" selects"},
        ErrorCase{"TransportUrlRawSlashInPassword", CellConfig("", "rabbit://u:s3/cr3t@h/v"),
                  "cells[0].transport_url: "},
        ErrorCase{"TransportUrlRawCommaInPassword", CellConfig("", "rabbit://u:12,s3cr3t@h/v"),
                  "cells[0].transport_url: host 1: has no credentials"},
        ErrorCase{"TransportUrlUnknownQueryOption",
                  CellConfig("", "rabbit://u:s3cr3t@h/v?control_exchange=nova"),
                  "cells[0].transport_url: query option \"control_exchange\" is not "
                  "supported"},
        ErrorCase{"TransportUrlBadHeartbeat",
                  CellConfig("", "rabbit://u:s3cr3t@h/v?heartbeat_timeout_threshold=x"),
                  "cells[0].transport_url: query option heartbeat_timeout_threshold: must be "
                  "an integer from 0 to 65535"},
        ErrorCase{"TransportUrlBadSsl", CellConfig("", "rabbit://u:s3cr3t@h/v?ssl=maybe"),
                  "cells[0].transport_url: query option ssl: must be a boolean"},
        ErrorCase{"TransportUrlIsMap", "cells:\n  - name: c\n    transport_url: {a: b}\n",
                  "cells[0].transport_url: must be a string"},
        ErrorCase{"ControlExchangeEmpty", CellConfig("    control_exchange: \"\"\n"),
                  "cells[0].control_exchange: must not be empty"},
        ErrorCase{"ControlExchangeTooLong",
                  CellConfig("    control_exchange: " + std::string(256, 'x') + "\n"),
                  "cells[0].control_exchange: is 256 bytes long; the limit is 255"},
        ErrorCase{"UpgradeLevelsIsList", CellConfig("    upgrade_levels: [1.0]\n"),
                  "cells[0].upgrade_levels: must be a map of strings"},
        ErrorCase{"UpgradeLevelValueIsMap",
                  CellConfig("    upgrade_levels:\n      compute: {a: b}\n"),
                  "cells[0].upgrade_levels.compute: must be a string"},
        ErrorCase{"UpgradeLevelMalformed",
                  CellConfig("    upgrade_levels:\n      compute: 1.0.0.0\n"),
                  "cells[0].upgrade_levels.compute: version \"1.0.0.0\" is malformed"},
        ErrorCase{"UpgradeLevelUnknownAlias",
                  CellConfig("    upgrade_levels:\n      compute: icehouse\n"),
                  "cells[0].upgrade_levels.compute: \"icehouse\" is neither a version"},
        ErrorCase{"VersionAliasMalformed",
                  CellConfig("    version_aliases:\n      grizzly: one\n"),
                  "cells[0].version_aliases.grizzly: version \"one\" is malformed"},
        ErrorCase{"RpcTimeoutZero", CellConfig("    rpc_response_timeout: 0\n"),
                  "cells[0].rpc_response_timeout: must be a number of seconds"},
        ErrorCase{"RpcTimeoutNan", CellConfig("    rpc_response_timeout: nan\n"),
                  "cells[0].rpc_response_timeout: must be a number of seconds"},
        ErrorCase{"RpcTimeoutHuge", CellConfig("    rpc_response_timeout: 1e300\n"),
                  "cells[0].rpc_response_timeout: must be a number of seconds"},
        ErrorCase{"ConnectionsZero", CellConfig("    connections: 0\n"),
                  "cells[0].connections: must be an integer from 1 to 64"},
        ErrorCase{"ConnectionsTooMany", CellConfig("    connections: 65\n"),
                  "cells[0].connections: must be an integer from 1 to 64"},
        ErrorCase{"ConnectionsFractional", CellConfig("    connections: 1.5\n"),
                  "cells[0].connections: must be an integer from 1 to 64"},
        ErrorCase{"ConnectionsOverflow",
                  CellConfig("    connections: 99999999999999999999999\n"),
                  "cells[0].connections: must be an integer from 1 to 64"},
        ErrorCase{"BoolNotBool", CellConfig("    amqp_durable_queues: yes please\n"),
                  "cells[0].amqp_durable_queues: must be true or false"},
        ErrorCase{"BoolIsList", CellConfig("    amqp_auto_delete: [true]\n"),
                  "cells[0].amqp_auto_delete: must be true or false"},
        ErrorCase{"QuorumNotBool", CellConfig("    rabbit_quorum_queue: 2\n"),
                  "cells[0].rabbit_quorum_queue: must be true or false"},
        ErrorCase{"HeartbeatNegative", CellConfig("    heartbeat_timeout_threshold: -1\n"),
                  "cells[0].heartbeat_timeout_threshold: must be an integer from 0 to 65535"},
        ErrorCase{"HeartbeatTooLarge",
                  CellConfig("    heartbeat_timeout_threshold: 65536\n"),
                  "cells[0].heartbeat_timeout_threshold: must be an integer from 0 to 65535"},
        // YAML itself.
        ErrorCase{"SyntaxError", CellConfig("    upgrade_levels: {compute: 1.0\n"),
                  "line "},
        ErrorCase{"DeepFlowNesting", "cells: " + std::string(100000, '[') + "\n", "line "},
        ErrorCase{"DeepBlockNesting",
                  [] {
                    std::string yaml = "cells:\n";
                    for (int i = 0; i < 3000; ++i) yaml += std::string(i, ' ') + "- \n";
                    return yaml;
                  }(),
                  "line "},
        ErrorCase{"RpcTimeoutHex", CellConfig("    rpc_response_timeout: 0x10\n"),
                  "cells[0].rpc_response_timeout: must be a number of seconds"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ParseConfigTest, SyntaxErrorGivesOneBasedLineAndColumn) {
  absl::StatusOr<GatewayConfig> config = ParseConfig("cells:\n  - name: [a\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), StartsWith("line 3, column 1: YAML"));
}

TEST(ParseConfigTest, HostileNestingIsRefusedAsTooDeep) {
  absl::StatusOr<GatewayConfig> config = ParseConfig("cells: " + std::string(100000, '{'));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("YAML nesting is too deep"));
}

TEST(ParseConfigTest, CellReferencedTwiceByAliasIsADuplicateName) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(R"(cells:
  - &c {name: cell1, transport_url: "rabbit://u:s3cr3t@h/"}
  - *c
)");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("cells[1].name: \"cell1\" is also the name of cells[0]"));
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

TEST(LoadConfigFileTest, ReadsAndParsesAFile) {
  const std::string path = TempPath("good.yaml");
  std::ofstream(path) << kMinimalConfig;
  absl::StatusOr<GatewayConfig> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].name, "cell1");
}

TEST(LoadConfigFileTest, MissingFileIsNotFoundWithThePath) {
  const std::string path = TempPath("does-not-exist.yaml");
  absl::StatusOr<GatewayConfig> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat("config file \"", path, "\": ")));
}

TEST(LoadConfigFileTest, DirectoryIsInvalidArgumentWithThePath) {
  const std::string path = TempPath("");
  absl::StatusOr<GatewayConfig> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("is not a regular file"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

TEST(LoadConfigFileTest, BadContentIsInvalidArgumentWithPathThenKeyPath) {
  const std::string path = TempPath("bad.yaml");
  std::ofstream(path) << CellConfig("    colour: blue\n");
  absl::StatusOr<GatewayConfig> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            absl::StrCat("config file \"", path, "\": cells[0].colour: unknown key"));
}

}  // namespace
}  // namespace cellgw::gateway
