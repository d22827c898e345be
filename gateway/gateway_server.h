// A whole running gateway: bridge, gRPC server (CellGateway, health, reflection) and metrics
// endpoint, assembled from a GatewayConfig. main() runs one; integration tests run one
// in-process against a real broker.
//
// Security (gateway/config/security_config.h): the gRPC port serves plaintext, TLS or mutual TLS
// as configured, and when callers are authenticated every RPC passes the Authorizer first.
// Its limits (largest request, concurrent streams, keepalive) come from the config
// (gateway/grpc_server_options.h); each call's timeout is bounded per cell
// (gateway/rpc/call_timeouts.h).
//
// With `health_listen`, a second, plaintext gRPC server on that address serves
// grpc.health.v1 and nothing else (no CellGateway, no reflection), with the same entries as
// the gRPC port: for probes that cannot do TLS or send tokens.
//
// With http_listen, the HTTP/JSON front (gateway/http/http_front.h) serves the same API and
// calls the gRPC service over an in-process channel, so HTTP requests are RPCs like any other.
//
// Shutdown order (Shutdown()): health goes NOT_SERVING and new RPCs (HTTP ones too) are
// refused with UNAVAILABLE; requests in flight get up to the grace period to finish; then
// Subscribe and Serve streams end with UNAVAILABLE (what they had not acknowledged goes back
// to the queues); the HTTP front stops (its workers have no call left to wait for); the gRPC
// server stops; and last the bridges close their AMQP connections cleanly.
#ifndef CELLGW_GATEWAY_GATEWAY_SERVER_H_
#define CELLGW_GATEWAY_GATEWAY_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/notification_bridge.h"
#include "bridge/serve_bridge.h"
#include "bridge/rpc_bridge.h"
#include "gateway/security/authorizer.h"
#include "gateway/rpc/cell_gateway_service.h"
#include "gateway/config/config.h"
#include "gateway/http/http_front.h"
#include "gateway/observability/health_reporter.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/serve_health.h"
#include "gateway/observability/serve_metrics.h"
#include "gateway/config/security_config.h"

namespace cellgw::gateway {

class GatewayServer {
 public:
  // Builds and starts everything; returns once the gRPC port is bound. Broker connections
  // are made in the background (a cell whose broker is down is reported NOT_SERVING and
  // retried). INVALID_ARGUMENT naming the config key when an address cannot be bound or a
  // cell is invalid, or when http_listen is set beside security.tls.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const GatewayConfig& config);
  // The same, secured by `security` (TLS / mutual TLS on the gRPC port, authentication and
  // the policy). `security` as ParseSecurityConfig returned it, or disabled (the default
  // SecurityConfig) for plaintext without authentication.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const GatewayConfig& config,
                                                              const SecurityConfig& security);
  ~GatewayServer();  // Shutdown(zero grace) if still running

  // The bound gRPC port (useful with listen port 0), metrics port, HTTP/JSON port and health
  // port (0 when off).
  int port() const { return port_; }
  int metrics_port() const;
  int http_port() const;
  int health_port() const { return health_port_; }

  // Waits until every cell's first connection attempt finished, or `timeout`. True when all
  // cells are connected.
  bool WaitForCells(absl::Duration timeout);

  // Graceful shutdown as described above. Returns true when every request in flight
  // finished within `grace`. Idempotent.
  bool Shutdown(absl::Duration grace);

  bridge::RpcBridge& bridge() { return *bridge_; }
  bridge::NotificationBridge& notifications() { return *notifications_; }
  GatewayMetrics& metrics() { return *metrics_; }

 private:
  GatewayServer() = default;
  // A channel to this process's own gRPC server (for the HTTP front).
  std::shared_ptr<grpc::Channel> InProcessChannel();

  std::unique_ptr<GatewayMetrics> metrics_;
  std::unique_ptr<HealthReporter> health_;
  std::unique_ptr<bridge::RpcBridge> bridge_;
  std::unique_ptr<bridge::NotificationBridge> notifications_;  // connects on first use
  std::unique_ptr<bridge::ServeBridge> serve_;                 // connects on first use
  std::unique_ptr<ServeMetrics> serve_metrics_;
  std::unique_ptr<ServeHealth> serve_health_;
  std::unique_ptr<Authorizer> authorizer_;  // null without authentication; outlives service_
  std::unique_ptr<CellGatewayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::CallbackGenericService> health_only_;  // refuses all but health
  std::unique_ptr<grpc::Server> health_server_;  // null without health_listen
  std::unique_ptr<http::HttpFront> http_;  // null without http_listen
  int port_ = 0;
  int health_port_ = 0;
  bool stopped_ = false;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_GATEWAY_SERVER_H_
