// A running gateway for integration tests: GatewayServer in-process on a free loopback port,
// a gRPC client to it, and helpers to read JSON that real oslo.messaging printed.
#ifndef CELLGW_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
#define CELLGW_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/cell_options.h"
#include "client/cellgw_client.h"
#include "gateway/gateway_server.h"

namespace cellgw::testing {

struct RunningGateway {
  std::unique_ptr<gateway::GatewayServer> server;
  std::unique_ptr<client::CellgwClient> client;
  std::string address;
};

// Starts a gateway serving `cells` on 127.0.0.1:<free port> (metrics on a free port too)
// and waits up to 30 s for every cell to connect. FAILED_PRECONDITION when a cell does not.
absl::StatusOr<RunningGateway> StartGateway(std::vector<bridge::CellOptions> cells);

// A cell named `name` on `transport_url` with the given control exchange.
bridge::CellOptions Cell(const std::string& name, const std::string& transport_url,
                         const std::string& control_exchange = "openstack");

// Top-level members of a JSON object as key -> raw value text. Order-insensitive and exact:
// numbers and strings are compared as written. Empty map when `json` is not an object.
std::map<std::string, std::string> Members(const std::string& json);

// The raw text of member `key` of JSON object `json`, "" when absent.
std::string Member(const std::string& json, const std::string& key);

// A fresh marker string, so each test recognises its own messages in shared server output.
std::string Marker(const std::string& prefix);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
