#include "gateway/gateway_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/grpc_server_options.h"
#include "gateway/observability/json_log.h"
#include "gateway/rpc/call_timeouts.h"
#include "gateway/security/server_credentials.h"

namespace cellgw::gateway {
namespace {

// Server reflection on one ServerBuilder, or not. Linking gRPC's reflection library
// registers its plugin for every server the process builds (a static initializer calls
// InitProtoReflectionServerBuilderPlugin()), the health listener included, which must serve
// health only; and registering it again would be a duplicate. So each builder says: exactly
// one reflection plugin, or none.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    const std::string name = grpc::reflection::ProtoServerReflectionPlugin().name();
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [&](const auto& plugin) { return plugin->name() == name; }),
                   plugins->end());
    if (enabled_) {
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  const bool enabled_;
};

// Everything on the health listener but grpc.health.v1 (which gRPC registers itself, and
// which wins over a generic service): refused, saying where the API is. Also what lets gRPC
// build a server whose only real service it adds at start.
class HealthOnlyService : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Refusal : public grpc::ServerGenericBidiReactor {
     public:
      Refusal() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "the health listener serves grpc.health.v1 only; the API is on "
                            "the gRPC port (listen)"));
      }
      void OnDone() override { delete this; }
    };
    return new Refusal;
  }
};

CallTimeouts CallTimeoutsFor(const GatewayConfig& config) {
  std::map<std::string, CallTimeouts::Cell, std::less<>> cells;
  for (const bridge::CellOptions& cell : config.cells) {
    auto it = config.max_call_timeouts.find(cell.name);
    cells[cell.name] = {cell.rpc_response_timeout, it == config.max_call_timeouts.end()
                                                       ? cell.rpc_response_timeout
                                                       : it->second};
  }
  return CallTimeouts(std::move(cells));
}

// The HTTP front's limits, from the cells': a body may be as large as the largest message a
// cell accepts, and a request without timeout_ms may wait as long as the slowest cell's
// default call timeout, plus the margin that lets the service's own timeout end it first.
http::HttpFront::Options HttpFrontOptions(const GatewayConfig& config) {
  http::HttpFront::Options options;
  options.listen = config.http_listen;
  options.max_body_bytes = 0;
  absl::Duration longest = absl::ZeroDuration();
  for (const auto& cell : config.cells) {
    options.max_body_bytes =
        std::max<size_t>(options.max_body_bytes, static_cast<size_t>(cell.max_message_bytes));
    longest = std::max(longest, cell.rpc_response_timeout);
  }
  options.default_deadline = longest + http::kDeadlineMargin;
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(const GatewayConfig& config) {
  return Start(config, config.security);
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const GatewayConfig& config, const SecurityConfig& security) {
  std::unique_ptr<GatewayServer> server(new GatewayServer());
  std::vector<std::string> cell_names;
  for (const auto& cell : config.cells) cell_names.push_back(cell.name);
  server->metrics_ = std::make_unique<GatewayMetrics>(cell_names);
  if (!config.metrics_listen.empty()) {
    absl::Status status = server->metrics_->Serve(config.metrics_listen);
    if (!status.ok()) return status;
  }
  server->health_ = std::make_unique<HealthReporter>(server->metrics_.get());
  absl::StatusOr<std::unique_ptr<bridge::RpcBridge>> bridge =
      bridge::RpcBridge::Create(config.cells, server->health_.get());
  if (!bridge.ok()) return bridge.status();
  server->bridge_ = *std::move(bridge);
  absl::StatusOr<std::unique_ptr<bridge::NotificationBridge>> notifications =
      bridge::NotificationBridge::Create(config.cells, server->metrics_.get());
  if (!notifications.ok()) return notifications.status();
  server->notifications_ = *std::move(notifications);
  absl::StatusOr<std::unique_ptr<bridge::ServeBridge>> serve =
      bridge::ServeBridge::Create(config.cells);
  if (!serve.ok()) return serve.status();
  server->serve_ = *std::move(serve);
  if (security.authenticates()) {
    std::map<std::string, std::string> control_exchanges;
    for (const auto& cell : config.cells) control_exchanges[cell.name] = cell.control_exchange;
    server->authorizer_ = std::make_unique<Authorizer>(security, std::move(control_exchanges));
  }
  server->service_ = std::make_unique<CellGatewayService>(
      server->bridge_.get(), server->metrics_.get(), server->authorizer_.get(),
      CallTimeoutsFor(config), server->notifications_.get());
  server->serve_metrics_ = std::make_unique<ServeMetrics>(*server->metrics_, cell_names);
  server->serve_health_ = std::make_unique<ServeHealth>();
  server->service_->EnableServe(server->serve_.get(), server->serve_metrics_.get(),
                                server->serve_health_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, MakeServerCredentials(security), &server->port_);
  ApplyServerOptions(ServerOptionsFor(config), builder);
  builder.SetOption(std::make_unique<ReflectionOption>(true));
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: cannot serve gRPC on '", config.listen, "'"));
  }
  std::vector<grpc::HealthCheckServiceInterface*> health = {
      server->server_->GetHealthCheckService()};
  if (!config.health_listen.empty()) {
    // Only the default health service: nothing else is registered, and no reflection.
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(config.health_listen, grpc::InsecureServerCredentials(),
                                    &server->health_port_);
    health_builder.SetOption(std::make_unique<ReflectionOption>(false));
    server->health_only_ = std::make_unique<HealthOnlyService>();
    health_builder.RegisterCallbackGenericService(server->health_only_.get());
    server->health_server_ = health_builder.BuildAndStart();
    if (server->health_server_ == nullptr || server->health_port_ == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("health_listen: cannot serve gRPC on '", config.health_listen, "'"));
    }
    health.push_back(server->health_server_->GetHealthCheckService());
  }
  server->serve_health_->Attach(health);
  server->health_->Attach(std::move(health), server->bridge_.get());
  server->bridge_->Start();
  if (!config.http_listen.empty()) {
    // ParseConfig refuses this pair; a caller passing its own SecurityConfig must not get
    // plain HTTP beside TLS either.
    if (security.tls.has_value()) {
      return absl::InvalidArgumentError(
          "http_listen: the HTTP/JSON API serves plain HTTP only and cannot run beside "
          "security.tls");
    }
    absl::StatusOr<std::unique_ptr<http::HttpFront>> front =
        http::HttpFront::Start(HttpFrontOptions(config), server->InProcessChannel(),
                               server->metrics_.get());
    if (!front.ok()) return front.status();
    server->http_ = *std::move(front);
  }
  Log(LogLevel::kInfo, "cellgw serving",
      {{"listen", config.listen}, {"port", server->port_},
       {"metrics_port", server->metrics_port()},
       {"http_port", server->http_port()},
       {"health_port", server->health_port_},
       {"transport_security", DescribeTransportSecurity(security)},
       {"authentication", security.authenticates() ? "on" : "off"},
       {"policy_grants", static_cast<int64_t>(security.policy.size())}});
  if (!security.authenticates()) {
    Log(LogLevel::kWarning, "no caller authentication: every client may send anything to "
                            "every cell; run like this on a trusted network only", {});
  } else if (!security.tls.has_value() && !security.tokens_file.empty()) {
    Log(LogLevel::kWarning, "bearer tokens over plaintext gRPC: anyone on the network path "
                            "can read them; configure security.tls unless listening on "
                            "loopback or a unix socket", {});
  }
  return server;
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

int GatewayServer::metrics_port() const { return metrics_ == nullptr ? 0 : metrics_->port(); }

int GatewayServer::http_port() const { return http_ == nullptr ? 0 : http_->port(); }

std::shared_ptr<grpc::Channel> GatewayServer::InProcessChannel() {
  grpc::ChannelArguments args;
  // The service enforces the request limits; a reply as large as a cell accepts must not be
  // cut by the client side's default 4 MiB.
  args.SetMaxReceiveMessageSize(-1);
  return server_->InProcessChannel(args);
}

bool GatewayServer::WaitForCells(absl::Duration timeout) {
  return bridge_->WaitForConnections(timeout);
}

bool GatewayServer::Shutdown(absl::Duration grace) {
  if (stopped_) return true;
  stopped_ = true;
  // Start() failed before the server was built: nothing runs, and the parts that would be
  // shut down below may not exist.
  if (server_ == nullptr) return true;
  Log(LogLevel::kInfo, "shutting down",
      {{"in_flight", service_->in_flight()},
       {"grace_seconds", absl::ToDoubleSeconds(grace)}});
  // New requests are refused before health turns NOT_SERVING: whoever has seen NOT_SERVING
  // must not get a request accepted (in the other order a scheduler pause between the two
  // lets one through).
  service_->BeginShutdown();
  health_->BeginShutdown();
  const bool drained = service_->AwaitIdle(grace);
  if (!drained) {
    Log(LogLevel::kWarning, "grace period over with requests still in flight",
        {{"in_flight", service_->in_flight()}});
  }
  // Requests still in flight are ended by the bridges (UNAVAILABLE) before the server waits
  // for its reactors, so the server's shutdown cannot hang on them; that includes every
  // Subscribe stream.
  notifications_->Stop();
  serve_->Stop();  // Serve streams end with UNAVAILABLE; what workers held goes back to queues
  bridge_->Stop();
  // Every HTTP request still being served waits on an RPC the bridge has just ended, so
  // this returns promptly; it must precede the server's shutdown, which would otherwise
  // wait for those RPCs while their callers wait for it.
  if (http_ != nullptr) http_->Stop();
  // One deadline for both servers, so the health listener adds no wait of its own.
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  server_->Shutdown(deadline);
  server_->Wait();
  if (health_server_ != nullptr) {
    // Health watchers see NOT_SERVING (above) until their stream ends here.
    health_server_->Shutdown(deadline);
    health_server_->Wait();
  }
  Log(LogLevel::kInfo, "stopped", {});
  return drained;
}

}  // namespace cellgw::gateway
