// The HTTP/JSON front of the gateway: civetweb (the HTTP server prometheus-cpp already brings
// for /metrics) serving `http_listen`, each request handed to the Transcoder
// (gateway/http/transcoder.h), which calls the gateway's own gRPC service in-process.
// GatewayServer starts one when http_listen is set and stops it during shutdown.
//
// Threads: civetweb's own pool of kWorkerThreads threads reads requests and waits for their
// in-process gRPC call, so at most that many HTTP requests are in progress at once; further
// connections wait in civetweb's accept queue and then the kernel's listen backlog. gRPC's
// threads never wait for HTTP. A keep-alive connection holds its worker between requests
// for at most civetweb's keep-alive timeout (500 ms).
//
// Each request: the X-Request-Id header is taken as the request id when usable
// (gateway/rpc/request_id.h, the gRPC path's rule), else one is generated; either way it is
// sent to the service and returned in the X-Request-Id response header. A body larger than
// `max_body_bytes` is refused with 413 before the rest of it is read (the connection is then
// closed); a body that ends early, with 400. Every answer is counted in the
// cellgw_http_* series; a request refused before it reached the service (bad route, method,
// body) gets a warning log line of its own, while the others are logged by the service.
//
// Transport: plain HTTP only. Debian 12's libcivetweb (1.15) loads OpenSSL at run time by
// the 1.1 API names and cannot start TLS with OpenSSL 3 (it looks for
// SSL_get_peer_certificate, which OpenSSL 3 only has as a macro; civetweb issue 1334), so
// the config refuses http_listen together with security.tls rather than serve plaintext
// next to a TLS gRPC port.
#ifndef CELLGW_GATEWAY_HTTP_HTTP_FRONT_H_
#define CELLGW_GATEWAY_HTTP_HTTP_FRONT_H_

#include <grpcpp/channel.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/http/transcoder.h"
#include "gateway/observability/metrics.h"

struct mg_connection;
struct mg_context;

namespace cellgw::gateway::http {

inline constexpr int kWorkerThreads = 32;

class HttpFront {
 public:
  struct Options {
    std::string listen;                // http_listen: "host:port"; port 0 picks one
    size_t max_body_bytes = 4 << 20;   // larger bodies get 413
    absl::Duration default_deadline = absl::Seconds(65);  // see Transcoder
  };

  // Starts serving. `channel` reaches the CellGateway service and must stay usable until
  // Stop() returned; `metrics` may be null, else it must outlive this object.
  // INVALID_ARGUMENT naming http_listen when civetweb cannot serve on the address.
  static absl::StatusOr<std::unique_ptr<HttpFront>> Start(const Options& options,
                                                          std::shared_ptr<grpc::Channel> channel,
                                                          GatewayMetrics* metrics);
  ~HttpFront();  // Stop()

  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // The bound port; 0 once stopped.
  int port() const { return port_; }

  // Stops accepting connections and returns once every request being served has been
  // answered (each ends by its gRPC deadline at the latest). Takes up to 2 s even when idle:
  // civetweb's accept loop notices the stop between polls of 2 s. Idempotent; not
  // thread-safe against itself.
  void Stop();

 private:
  HttpFront(const Options& options, std::shared_ptr<grpc::Channel> channel,
            GatewayMetrics* metrics);

  // civetweb's request handler: `data` is the HttpFront.
  static int HandleRequest(mg_connection* connection, void* data);
  // Serves one request on a civetweb worker thread; returns the HTTP status sent.
  int Serve(mg_connection* connection);

  const size_t max_body_bytes_;
  const Transcoder transcoder_;
  GatewayMetrics* const metrics_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace cellgw::gateway::http

#endif  // CELLGW_GATEWAY_HTTP_HTTP_FRONT_H_
