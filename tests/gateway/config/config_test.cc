#include "gateway/config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <utility>

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

TEST(ParseConfigTest, HardeningKeysHaveSafeDefaults) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(kMinimalConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->health_listen, "");
  EXPECT_FALSE(config->allow_insecure);
  EXPECT_EQ(config->max_concurrent_streams, 1024);
  EXPECT_EQ(config->keepalive.min_ping_interval, absl::Seconds(30));
  EXPECT_FALSE(config->keepalive.permit_without_calls);
  EXPECT_EQ(config->keepalive.time, absl::Hours(2));
  EXPECT_EQ(config->keepalive.timeout, absl::Seconds(20));
  // max_call_timeout defaults to the cell's own rpc_response_timeout.
  EXPECT_THAT(config->max_call_timeouts, ElementsAre(Pair("cell1", absl::Seconds(60))));
  absl::StatusOr<GatewayConfig> short_rpc =
      ParseConfig(CellConfig("    rpc_response_timeout: 5\n"));
  ASSERT_TRUE(short_rpc.ok()) << short_rpc.status();
  EXPECT_THAT(short_rpc->max_call_timeouts, ElementsAre(Pair("cell1", absl::Seconds(5))));
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
health_listen: 0.0.0.0:8081
allow_insecure: true
max_concurrent_streams: 64
keepalive:
  min_ping_interval: 10
  permit_without_calls: true
  time: 60.5
  timeout: 5
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
    max_call_timeout: 600
    connections: 64
    amqp_durable_queues: true
    amqp_auto_delete: True
    rabbit_quorum_queue: TRUE
    heartbeat_timeout_threshold: 0
    max_in_flight: 500
    max_message_bytes: 65536
    max_subscriptions: 7
    subscription_outage_timeout: 2.5
  - name: cell2
    transport_url: rabbit://
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "[::]:0");
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9100");
  EXPECT_EQ(config->health_listen, "0.0.0.0:8081");
  EXPECT_TRUE(config->allow_insecure);
  EXPECT_EQ(config->max_concurrent_streams, 64);
  EXPECT_EQ(config->keepalive.min_ping_interval, absl::Seconds(10));
  EXPECT_TRUE(config->keepalive.permit_without_calls);
  EXPECT_EQ(config->keepalive.time, absl::Milliseconds(60500));
  EXPECT_EQ(config->keepalive.timeout, absl::Seconds(5));
  EXPECT_THAT(config->max_call_timeouts,
              ElementsAre(Pair("cell1", absl::Seconds(600)), Pair("cell2", absl::Seconds(60))));
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
  EXPECT_EQ(cell.max_in_flight, 500);
  EXPECT_EQ(cell.max_message_bytes, 65536u);
  EXPECT_EQ(cell.max_subscriptions, 7);
  EXPECT_EQ(cell.subscription_outage_timeout, absl::Milliseconds(2500));
  EXPECT_EQ(config->cells[1].name, "cell2");
  EXPECT_EQ(config->cells[1].max_subscriptions, 1000);
  EXPECT_EQ(config->cells[1].subscription_outage_timeout, absl::Seconds(60));
  EXPECT_EQ(config->cells[1].max_in_flight, 10000);
  EXPECT_EQ(config->cells[1].max_message_bytes, 4194304u);
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

TEST(ParseConfigTest, UrlSslFalseIsAccepted) {
  for (const char* value : {"false", "0", "no", "off", "False"}) {
    absl::StatusOr<GatewayConfig> config =
        ParseConfig(CellConfig("", absl::StrCat("rabbit://u:p@h/v?ssl=", value)));
    EXPECT_TRUE(config.ok()) << value << ": " << config.status();
  }
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
        ErrorCase{"HealthListenBad", TopLevel("health_listen: 8081\n"),
                  "health_listen: must be host:port"},
        ErrorCase{"HealthListenIsTheGrpcPort",
                  TopLevel("listen: 127.0.0.1:50051\nhealth_listen: 127.0.0.1:50051\n"),
                  "health_listen: must differ from listen (the health listener serves health "
                  "only)"},
        ErrorCase{"AllowInsecureNotBool", TopLevel("allow_insecure: yes\n"),
                  "allow_insecure: must be true or false"},
        ErrorCase{"MaxConcurrentStreamsZero", TopLevel("max_concurrent_streams: 0\n"),
                  "max_concurrent_streams: must be an integer from 1 to 1000000"},
        ErrorCase{"MaxConcurrentStreamsHuge", TopLevel("max_concurrent_streams: 1000001\n"),
                  "max_concurrent_streams: must be an integer from 1 to 1000000"},
        ErrorCase{"KeepaliveNotMap", TopLevel("keepalive: 30\n"),
                  "keepalive: must be a map of keepalive settings, not a string"},
        ErrorCase{"KeepaliveUnknownKey", TopLevel("keepalive: {interval: 30}\n"),
                  "keepalive.interval: unknown key (expected one of min_ping_interval, "
                  "permit_without_calls, time, timeout)"},
        ErrorCase{"KeepaliveMinPingZero", TopLevel("keepalive: {min_ping_interval: 0}\n"),
                  "keepalive.min_ping_interval: must be a number of seconds from 1 to 86400"},
        ErrorCase{"KeepalivePermitNotBool",
                  TopLevel("keepalive: {permit_without_calls: sometimes}\n"),
                  "keepalive.permit_without_calls: must be true or false"},
        ErrorCase{"KeepaliveTimeZero", TopLevel("keepalive: {time: 0}\n"),
                  "keepalive.time: must be a number of seconds from 1 to 2147483"},
        ErrorCase{"KeepaliveTimeoutHuge", TopLevel("keepalive: {timeout: 1e10}\n"),
                  "keepalive.timeout: must be a number of seconds from 1 to 2147483"},
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
                  "cells[0].transport_url: required key is missing (give transport_url or "
                  "transport_url_file, or set CELLGW_CELL_CELL1_TRANSPORT_URL or "
                  "CELLGW_CELL_CELL1_TRANSPORT_URL_FILE)"},
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
        // TLS to the broker needs a CA: cellgw always verifies the broker's certificate.
        ErrorCase{"TransportUrlSslTrueWithoutCa",
                  CellConfig("", "rabbit://u:s3cr3t@h/v?ssl=true"),
                  "cells[0].ssl_ca_file: required with ssl"},
        ErrorCase{"TransportUrlSslYesWithoutCa", CellConfig("", "rabbit://u:s3cr3t@h/v?ssl=yes"),
                  "cells[0].ssl_ca_file: required with ssl"},
        ErrorCase{"TransportUrlAndFileBoth",
                  CellConfig("    transport_url_file: /run/secrets/url\n"),
                  "cells[0].transport_url_file: give either transport_url or "
                  "transport_url_file, not both"},
        ErrorCase{"TransportUrlFileEmptyPath",
                  "cells:\n  - name: c\n    transport_url_file: \"\"\n",
                  "cells[0].transport_url_file: must not be empty"},
        ErrorCase{"TransportUrlFileMissing",
                  "cells:\n  - name: c\n    transport_url_file: /nonexistent/cellgw/url\n",
                  "cells[0].transport_url_file: cannot read \"/nonexistent/cellgw/url\": "
                  "No such file or directory"},
        ErrorCase{"TransportUrlFileIsDirectory",
                  "cells:\n  - name: c\n    transport_url_file: /\n",
                  "cells[0].transport_url_file: cannot read \"/\": is not a regular file"},
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
        ErrorCase{"MaxCallTimeoutZero", CellConfig("    max_call_timeout: 0\n"),
                  "cells[0].max_call_timeout: must be a number of seconds from 0.001 to "
                  "2147483"},
        ErrorCase{"MaxCallTimeoutBelowRpcResponseTimeout",
                  CellConfig("    max_call_timeout: 30\n"),
                  "cells[0].max_call_timeout: is less than rpc_response_timeout (1m); calls "
                  "without a timeout wait rpc_response_timeout, so the limit must be at "
                  "least that"},
        ErrorCase{"MaxCallTimeoutBelowALaterRpcResponseTimeout",
                  CellConfig("    max_call_timeout: 5\n    rpc_response_timeout: 10\n"),
                  "cells[0].max_call_timeout: is less than rpc_response_timeout (10s)"},
        ErrorCase{"MaxSubscriptionsTooMany", CellConfig("    max_subscriptions: 2001\n"),
                  "cells[0].max_subscriptions: must be an integer from 1 to 2000"},
        ErrorCase{"OutageTimeoutZero", CellConfig("    subscription_outage_timeout: 0\n"),
                  "cells[0].subscription_outage_timeout: must be a number of seconds"},
        ErrorCase{"MaxInFlightZero", CellConfig("    max_in_flight: 0\n"),
                  "cells[0].max_in_flight: must be an integer from 1 to 1000000"},
        ErrorCase{"MaxMessageBytesTiny", CellConfig("    max_message_bytes: 10\n"),
                  "cells[0].max_message_bytes: must be an integer from 1024 to 134217728"},
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

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

// transport_url_file: the URL comes from a file, as Kubernetes and Docker mount secrets.

struct UrlFileCase {
  std::string name;
  std::string contents;
};

class TransportUrlFileTest : public ::testing::TestWithParam<UrlFileCase> {};

TEST_P(TransportUrlFileTest, UrlIsReadFromTheFileWithTrailingNewlinesStripped) {
  const std::string path = WriteTempFile(GetParam().name + ".url", GetParam().contents);
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("cells:\n  - name: cell1\n    transport_url_file: ", path, "\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].transport_url, "rabbit://u:s3cr3t@h:5673/v");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TransportUrlFileTest,
    ::testing::Values(UrlFileCase{"NoNewline", "rabbit://u:s3cr3t@h:5673/v"},
                      UrlFileCase{"Newline", "rabbit://u:s3cr3t@h:5673/v\n"},
                      UrlFileCase{"CrLf", "rabbit://u:s3cr3t@h:5673/v\r\n"},
                      UrlFileCase{"SeveralNewlines", "rabbit://u:s3cr3t@h:5673/v\n\n"}),
    [](const ::testing::TestParamInfo<UrlFileCase>& info) { return info.param.name; });

TEST(ParseConfigTest, QueryOptionsInATransportUrlFileAreApplied) {
  const std::string path =
      WriteTempFile("heartbeat.url", "rabbit://u:p@h/v?heartbeat_timeout_threshold=7\n");
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("cells:\n  - name: c\n    transport_url_file: ", path, "\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].heartbeat_timeout_threshold, absl::Seconds(7));
}

TEST(ParseConfigTest, TransportUrlFileThatIsAFifoIsRefusedWithoutBlocking) {
  const std::string path = TempPath("url.fifo");
  unlink(path.c_str());
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("cells:\n  - name: c\n    transport_url_file: ", path, "\n"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            absl::StrCat("cells[0].transport_url_file: cannot read \"", path,
                         "\": is not a regular file"));
}

struct BadUrlFileCase {
  std::string name;
  std::string contents;
  std::string reason;  // what follows "cells[0].transport_url_file: " and the file's name
};

class BadTransportUrlFileTest : public ::testing::TestWithParam<BadUrlFileCase> {};

// Every case's file holds the password "s3cr3t" (when it holds a URL at all), so the same
// table proves that no message shows it.
TEST_P(BadTransportUrlFileTest, IsInvalidArgumentNamingKeyAndFileWithoutThePassword) {
  const BadUrlFileCase& c = GetParam();
  const std::string path = WriteTempFile(c.name + ".url", c.contents);
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("cells:\n  - name: c\n    transport_url_file: ", path, "\n"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  EXPECT_THAT(message, StartsWith("cells[0].transport_url_file: "));
  EXPECT_THAT(message, HasSubstr(absl::StrCat("\"", path, "\"")));
  EXPECT_THAT(message, HasSubstr(c.reason));
  EXPECT_THAT(message, Not(HasSubstr("s3cr3t")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadTransportUrlFileTest,
    ::testing::Values(
        BadUrlFileCase{"Empty", "", "is empty"},
        BadUrlFileCase{"OnlyNewline", "\n", "is empty"},
        BadUrlFileCase{"BadPort", "rabbit://u:s3cr3t@h:0/v\n", "host 1: port"},
        BadUrlFileCase{"NotRabbit", "amqp://u:s3cr3t@h/v", "scheme \"amqp\""},
        BadUrlFileCase{"TooLarge", "rabbit://u:s3cr3t@h/" + std::string(70000, 'v'),
                       "is larger than 65536 bytes"}),
    [](const ::testing::TestParamInfo<BadUrlFileCase>& info) { return info.param.name; });

// Environment overrides.

using Env = std::map<std::string, std::string>;

class FakeEnvironment {
 public:
  explicit FakeEnvironment(Env values)
      : values_(std::move(values)) {}
  Getenv getenv() const {
    return [this](const char* name) -> const char* {
      auto it = values_.find(name);
      return it == values_.end() ? nullptr : it->second.c_str();
    };
  }

 private:
  Env values_;
};

TEST(EnvironmentTest, UnsetEnvironmentChangesNothing) {
  FakeEnvironment env(Env{{"HOME", "/root"}, {"CELLGW_SERVICE_HOST", "10.0.0.1"}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(kMinimalConfig, env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_EQ(config->metrics_listen, "");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->shutdown_grace_period, absl::Seconds(30));
  EXPECT_EQ(config->cells[0].transport_url, "rabbit://guest:guest@127.0.0.1:5672/cell1");
}

TEST(EnvironmentTest, GlobalVariablesReplaceTheYamlValues) {
  FakeEnvironment env(Env{{"CELLGW_LISTEN", "0.0.0.0:50051"},
                       {"CELLGW_METRICS_LISTEN", "0.0.0.0:9464"},
                       {"CELLGW_HEALTH_LISTEN", "0.0.0.0:8081"},
                       {"CELLGW_LOG_LEVEL", "debug"},
                       {"CELLGW_SHUTDOWN_GRACE_PERIOD", "2.5"}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(
      absl::StrCat("allow_insecure: true\nmetrics_listen: 127.0.0.1:1\n"
                   "health_listen: 127.0.0.1:2\nlog_level: error\nshutdown_grace_period: 9\n",
                   kMinimalConfig),
      env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "0.0.0.0:50051");
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9464");
  EXPECT_EQ(config->health_listen, "0.0.0.0:8081");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->shutdown_grace_period, absl::Milliseconds(2500));
}

TEST(EnvironmentTest, EmptyMetricsListenVariableTurnsMetricsOff) {
  FakeEnvironment env(Env{{"CELLGW_METRICS_LISTEN", ""}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(
      absl::StrCat("metrics_listen: 127.0.0.1:9464\n", kMinimalConfig), env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "");
}

struct EnvErrorCase {
  std::string name;
  std::map<std::string, std::string> env;
  std::string message_prefix;
};

class EnvironmentErrorTest : public ::testing::TestWithParam<EnvErrorCase> {};

// A two-cell config: "cell-1" (URL in YAML) and "cell_2" (no URL source in YAML, so one
// must come from the environment).
constexpr char kTwoCellConfig[] = R"(cells:
  - name: cell-1
    transport_url: rabbit://u:yamls3cr3t@h/v
  - name: cell_2
    transport_url: rabbit://u:yamls3cr3t@h2/v
)";

TEST_P(EnvironmentErrorTest, IsInvalidArgumentNamingTheVariableWithoutThePassword) {
  const EnvErrorCase& c = GetParam();
  FakeEnvironment env(c.env);
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(kTwoCellConfig, env.getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  EXPECT_THAT(message, StartsWith(c.message_prefix));
  EXPECT_THAT(message, Not(HasSubstr("s3cr3t")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EnvironmentErrorTest,
    ::testing::Values(
        EnvErrorCase{"ListenBad", {{"CELLGW_LISTEN", "localhost"}},
                     "CELLGW_LISTEN: must be host:port"},
        EnvErrorCase{"ListenEmpty", {{"CELLGW_LISTEN", ""}}, "CELLGW_LISTEN: must be host:port"},
        EnvErrorCase{"ListenUnixWithoutPath", {{"CELLGW_LISTEN", "unix:"}},
                     "CELLGW_LISTEN: unix: needs a socket path"},
        EnvErrorCase{"MetricsListenBad", {{"CELLGW_METRICS_LISTEN", "9464"}},
                     "CELLGW_METRICS_LISTEN: must be host:port"},
        EnvErrorCase{"HealthListenBad", {{"CELLGW_HEALTH_LISTEN", "8081"}},
                     "CELLGW_HEALTH_LISTEN: must be host:port"},
        EnvErrorCase{"HealthListenIsTheGrpcPort",
                     {{"CELLGW_HEALTH_LISTEN", "127.0.0.1:50051"}},
                     "CELLGW_HEALTH_LISTEN: must differ from listen"},
        EnvErrorCase{"ListenOpenWithoutSecurity", {{"CELLGW_LISTEN", "0.0.0.0:50051"}},
                     "CELLGW_LISTEN: \"0.0.0.0:50051\" can be reached from other hosts, and "
                     "there is no security: section"},
        EnvErrorCase{"LogLevelBad", {{"CELLGW_LOG_LEVEL", "verbose"}},
                     "CELLGW_LOG_LEVEL: must be one of debug, info, warning, error"},
        EnvErrorCase{"GraceBad", {{"CELLGW_SHUTDOWN_GRACE_PERIOD", "30s"}},
                     "CELLGW_SHUTDOWN_GRACE_PERIOD: must be a number of seconds from 0 to "
                     "86400"},
        EnvErrorCase{"GraceTooLong", {{"CELLGW_SHUTDOWN_GRACE_PERIOD", "86401"}},
                     "CELLGW_SHUTDOWN_GRACE_PERIOD: must be a number of seconds"},
        EnvErrorCase{"CellUrlBadPort",
                     {{"CELLGW_CELL_CELL_1_TRANSPORT_URL", "rabbit://u:s3cr3t@h:99999/v"}},
                     "CELLGW_CELL_CELL_1_TRANSPORT_URL: host 1: port"},
        EnvErrorCase{"CellUrlEmpty", {{"CELLGW_CELL_CELL_1_TRANSPORT_URL", ""}},
                     "CELLGW_CELL_CELL_1_TRANSPORT_URL: "},
        EnvErrorCase{"CellUrlFileMissing",
                     {{"CELLGW_CELL_CELL_2_TRANSPORT_URL_FILE", "/nonexistent/cellgw/u"}},
                     "CELLGW_CELL_CELL_2_TRANSPORT_URL_FILE: cannot read "
                     "\"/nonexistent/cellgw/u\": No such file or directory"},
        EnvErrorCase{"CellUrlFileEmptyName", {{"CELLGW_CELL_CELL_2_TRANSPORT_URL_FILE", ""}},
                     "CELLGW_CELL_CELL_2_TRANSPORT_URL_FILE: must not be empty"},
        EnvErrorCase{"CellUrlAndFileBoth",
                     {{"CELLGW_CELL_CELL_1_TRANSPORT_URL", "rabbit://u:s3cr3t@h/v"},
                      {"CELLGW_CELL_CELL_1_TRANSPORT_URL_FILE", "/run/secrets/u"}},
                     "CELLGW_CELL_CELL_1_TRANSPORT_URL_FILE: set either "
                     "CELLGW_CELL_CELL_1_TRANSPORT_URL or CELLGW_CELL_CELL_1_TRANSPORT_URL_FILE, "
                     "not both"}),
    [](const ::testing::TestParamInfo<EnvErrorCase>& info) { return info.param.name; });

// Safe by default: a gateway reachable from other hosts needs security, or says that it
// means to run without (allow_insecure: true).
TEST(SafeByDefaultTest, LoopbackAndUnixListenersNeedNoSecurity) {
  for (const char* listen : {"127.0.0.1:50051", "127.1.2.3:0", "localhost:50051",
                             "\"[::1]:50051\"", "unix:/run/cellgw.sock"}) {
    absl::StatusOr<GatewayConfig> config =
        ParseConfig(absl::StrCat("listen: ", listen, "\n", CellConfig("")));
    EXPECT_TRUE(config.ok()) << listen << ": " << config.status();
  }
}

TEST(SafeByDefaultTest, ReachableListenersWithoutSecurityAreRefusedNamingAllowInsecure) {
  for (const char* listen : {"0.0.0.0:50051", "\"[::]:50051\"", "10.0.0.7:50051",
                             "cellgw.example.org:50051", "\"[fe80::1]:50051\""}) {
    absl::StatusOr<GatewayConfig> config =
        ParseConfig(absl::StrCat("listen: ", listen, "\n", CellConfig("")));
    ASSERT_FALSE(config.ok()) << listen;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), StartsWith("listen: \""));
    EXPECT_THAT(std::string(config.status().message()),
                HasSubstr("or set allow_insecure: true to accept this on a trusted network"));
  }
}

TEST(SafeByDefaultTest, AllowInsecureAcceptsAReachableListenerWithoutSecurity) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("listen: 0.0.0.0:50051\nallow_insecure: true\n", CellConfig("")));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->allow_insecure);
}

TEST(SafeByDefaultTest, AllowInsecureFalseIsTheDefaultWrittenOut) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(
      absl::StrCat("listen: 0.0.0.0:50051\nallow_insecure: false\n", CellConfig("")));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("allow_insecure"));
}

TEST(SafeByDefaultTest, TokensOrTlsMakeAReachableListenerAcceptable) {
  const std::string tokens =
      WriteTempFile("exposure.tokens", "scheduler sched-TOKEN-0123456789abcdef\n");
  absl::StatusOr<GatewayConfig> config = ParseConfig(absl::StrCat(
      "listen: 0.0.0.0:50051\nsecurity:\n  tokens_file: ", tokens,
      "\n  policy: [{identity: scheduler, cells: [\"*\"], topics: [\"*\"], "
      "methods: [\"*\"]}]\n",
      CellConfig("")));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(ParseConfigTest, HealthListenMayAskForAnyFreePortAsListenDoes) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(
      absl::StrCat("listen: 127.0.0.1:0\nhealth_listen: 127.0.0.1:0\n", CellConfig("")));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(SafeByDefaultTest, AReachableHttpListenerWithoutSecurityIsRefusedToo) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("http_listen: 0.0.0.0:8080\n", CellConfig("")));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("http_listen: \"0.0.0.0:8080\" can be reached from other hosts"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("allow_insecure: true"));

  FakeEnvironment env(Env{{"CELLGW_HTTP_LISTEN", "0.0.0.0:8080"}});
  config = ParseConfigWithEnvironment(CellConfig(""), env.getenv());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("CELLGW_HTTP_LISTEN: \"0.0.0.0:8080\" can be reached"));

  // Tokens (the HTTP front forwards them to the same Authorizer) make it acceptable.
  const std::string tokens =
      WriteTempFile("http.tokens", "scheduler sched-TOKEN-0123456789abcdef\n");
  config = ParseConfig(absl::StrCat(
      "http_listen: 0.0.0.0:8080\nsecurity:\n  tokens_file: ", tokens,
      "\n  policy: [{identity: scheduler, cells: [\"*\"], topics: [\"*\"], "
      "methods: [\"*\"]}]\n",
      CellConfig("")));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(SafeByDefaultTest, TheHealthListenerIsNotJudgedItServesHealthOnly) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("health_listen: 0.0.0.0:8081\n", CellConfig("")));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->health_listen, "0.0.0.0:8081");
}

TEST(EnvironmentTest, VariableNameUpperCasesAndReplacesNonAlphanumerics) {
  EXPECT_EQ(CellTransportUrlVariable("cell1"), "CELLGW_CELL_CELL1_TRANSPORT_URL");
  EXPECT_EQ(CellTransportUrlVariable("eu-west.Cell 2"), "CELLGW_CELL_EU_WEST_CELL_2_TRANSPORT_URL");
  EXPECT_EQ(CellTransportUrlVariable("z\xc3\xa9"), "CELLGW_CELL_Z___TRANSPORT_URL");
  EXPECT_EQ(CellTransportUrlFileVariable("cell-1"), "CELLGW_CELL_CELL_1_TRANSPORT_URL_FILE");
}

TEST(EnvironmentTest, CellUrlVariableReplacesTheYamlUrl) {
  FakeEnvironment env(Env{{"CELLGW_CELL_CELL1_TRANSPORT_URL", "rabbit://a:b@broker:5673/x"}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(kMinimalConfig, env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].transport_url, "rabbit://a:b@broker:5673/x");
}

TEST(EnvironmentTest, CellUrlVariableSuppliesAUrlTheYamlLeavesOut) {
  FakeEnvironment env(Env{{"CELLGW_CELL_CELL1_TRANSPORT_URL", "rabbit://a:b@broker/x"}});
  absl::StatusOr<GatewayConfig> config =
      ParseConfigWithEnvironment("cells:\n  - name: cell1\n", env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].transport_url, "rabbit://a:b@broker/x");
}

TEST(EnvironmentTest, CellUrlFileVariableReplacesAYamlFileWithoutOpeningIt) {
  const std::string path = WriteTempFile("env.url", "rabbit://a:b@broker/y\n");
  FakeEnvironment env(Env{{"CELLGW_CELL_CELL1_TRANSPORT_URL_FILE", path}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(
      "cells:\n  - name: cell1\n    transport_url_file: /nonexistent/cellgw/yaml.url\n",
      env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].transport_url, "rabbit://a:b@broker/y");
}

TEST(EnvironmentTest, CellUrlVariableAppliesOnlyToItsCell) {
  FakeEnvironment env(Env{{"CELLGW_CELL_CELL_2_TRANSPORT_URL", "rabbit://a:b@other/z"}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(kTwoCellConfig, env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].transport_url, "rabbit://u:yamls3cr3t@h/v");
  EXPECT_EQ(config->cells[1].transport_url, "rabbit://a:b@other/z");
}

// The heartbeat precedence (URL query over key) is decided on the URL actually used, so a
// replaced URL's query option does not linger.
TEST(EnvironmentTest, ReplacedUrlsHeartbeatOptionDoesNotLinger) {
  FakeEnvironment env(Env{{"CELLGW_CELL_C_TRANSPORT_URL", "rabbit://a:b@broker/"}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(R"(cells:
  - name: c
    transport_url: rabbit://u:p@h/v?heartbeat_timeout_threshold=10
    heartbeat_timeout_threshold: 30
)",
                                                                    env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cells[0].heartbeat_timeout_threshold, absl::Seconds(30));
}

TEST(EnvironmentTest, VariableMatchingTwoCellsIsRefusedNamingBoth) {
  FakeEnvironment env(Env{{"CELLGW_CELL_CELL_1_TRANSPORT_URL", "rabbit://a:b@broker/"}});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(R"(cells:
  - name: cell-1
    transport_url: rabbit://
  - name: cell_1
    transport_url: rabbit://
)",
                                                                    env.getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "CELLGW_CELL_CELL_1_TRANSPORT_URL: matches more than one cell: cells[0] "
            "(\"cell-1\") and cells[1] (\"cell_1\"); give them names that differ in letters "
            "or digits");
}

TEST(EnvironmentTest, CellsSharingAVariableNameAreFineWhileItIsUnset) {
  FakeEnvironment env(Env{});
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(R"(cells:
  - name: cell-1
    transport_url: rabbit://
  - name: cell_1
    transport_url: rabbit://
)",
                                                                    env.getenv());
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(LoadConfigFileWithEnvironmentTest, FileErrorsNameTheFileAndVariableErrorsDoNot) {
  const std::string path = WriteTempFile("env_good.yaml", kMinimalConfig);
  FakeEnvironment bad_env(Env{{"CELLGW_LOG_LEVEL", "loud"}});
  absl::StatusOr<GatewayConfig> config = LoadConfigFileWithEnvironment(path, bad_env.getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "CELLGW_LOG_LEVEL: must be one of debug, info, warning, error");

  const std::string bad_path = WriteTempFile("env_bad.yaml", CellConfig("    colour: red\n"));
  FakeEnvironment env(Env{{"CELLGW_LOG_LEVEL", "debug"}});
  config = LoadConfigFileWithEnvironment(bad_path, env.getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            absl::StrCat("config file \"", bad_path, "\": cells[0].colour: unknown key"));
}

TEST(LoadConfigFileWithEnvironmentTest, MissingYamlUrlErrorNamesTheFile) {
  const std::string path = WriteTempFile("env_nourl.yaml", "cells:\n  - name: cell1\n");
  FakeEnvironment env(Env{});
  absl::StatusOr<GatewayConfig> config = LoadConfigFileWithEnvironment(path, env.getenv());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat("config file \"", path,
                                      "\": cells[0].transport_url: required key is missing")));
}

TEST(LoadConfigFileWithEnvironmentTest, AppliesTheEnvironment) {
  const std::string path = WriteTempFile("env_apply.yaml", kMinimalConfig);
  FakeEnvironment env(Env{{"CELLGW_LISTEN", "127.0.0.1:6000"}});
  absl::StatusOr<GatewayConfig> config = LoadConfigFileWithEnvironment(path, env.getenv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:6000");
}

TEST(CheckEnvironmentNamesTest, VariableOfAnUnknownCellIsRefused) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(kMinimalConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  for (const char* name :
       {"CELLGW_CELL_CELL2_TRANSPORT_URL", "CELLGW_CELL_CEL1_TRANSPORT_URL_FILE"}) {
    absl::Status status = CheckEnvironmentNames(*config, {"PATH", name});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(status.message()),
                StartsWith(absl::StrCat(name, ": no configured cell has this variable name; "
                                              "the cells' are "
                                              "CELLGW_CELL_CELL1_TRANSPORT_URL, "
                                              "CELLGW_CELL_CELL1_TRANSPORT_URL_FILE")));
  }
}

TEST(CheckEnvironmentNamesTest, KnownAndUnrelatedVariablesAreAccepted) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(kMinimalConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(CheckEnvironmentNames(
                  *config, {"PATH", "CELLGW_CONFIG", "CELLGW_LISTEN",
                            "CELLGW_CELL_CELL1_TRANSPORT_URL",
                            "CELLGW_CELL_CELL1_TRANSPORT_URL_FILE",
                            // What Kubernetes sets for Services named cellgw / cellgw-cell-x.
                            "CELLGW_SERVICE_HOST", "CELLGW_PORT_50051_TCP_ADDR",
                            "CELLGW_CELL_X_SERVICE_PORT"})
                  .ok());
}

}  // namespace
}  // namespace cellgw::gateway
