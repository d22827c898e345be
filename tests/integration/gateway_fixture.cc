#include "tests/integration/gateway_fixture.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/json_text.h"

namespace cellgw::testing {

absl::StatusOr<RunningGateway> StartGateway(std::vector<bridge::CellOptions> cells) {
  gateway::GatewayConfig config;
  config.listen = "127.0.0.1:0";
  config.metrics_listen = "127.0.0.1:0";
  config.cells = std::move(cells);
  absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
      gateway::GatewayServer::Start(config);
  if (!server.ok()) return server.status();
  if (!(*server)->WaitForCells(absl::Seconds(30))) {
    return absl::FailedPreconditionError("a cell did not connect to its broker within 30 s");
  }
  RunningGateway running;
  running.address = absl::StrCat("127.0.0.1:", (*server)->port());
  running.server = *std::move(server);
  running.client = std::make_unique<client::CellgwClient>(
      client::CellgwClient::Connect(running.address));
  return running;
}

bridge::CellOptions Cell(const std::string& name, const std::string& transport_url,
                         const std::string& control_exchange) {
  bridge::CellOptions cell;
  cell.name = name;
  cell.transport_url = transport_url;
  cell.control_exchange = control_exchange;
  return cell;
}

std::map<std::string, std::string> Members(const std::string& json) {
  std::map<std::string, std::string> members;
  auto parsed = json::ObjectMembers(json);
  if (!parsed.ok()) return members;
  for (const auto& member : *parsed) members[member.key] = std::string(member.value);
  return members;
}

std::string Member(const std::string& json, const std::string& key) {
  auto members = Members(json);
  auto it = members.find(key);
  return it == members.end() ? "" : it->second;
}

std::string Marker(const std::string& prefix) {
  return absl::StrCat(prefix, "-", NewUuidHex().substr(0, 12));
}

}  // namespace cellgw::testing
