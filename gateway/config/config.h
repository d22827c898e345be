// The gateway's YAML configuration and its environment overrides: reading them, checking
// every value, and turning each cell into the bridge::CellOptions the bridge runs with. Part
// of //gateway; main reads the file and the environment once at start-up and refuses to
// start on any error, so a typo never runs silently.
//
// Keys (all optional unless marked required; an unknown key anywhere is an error):
//
//   listen                 string   "127.0.0.1:50051"  gRPC listen address, host:port
//                                                      (IPv6 as [addr]:port; port 0 picks
//                                                      one), or unix:/path.
//   metrics_listen         string   ""                 Prometheus /metrics address,
//                                                      host:port; "" turns it off.
//   http_listen            string   ""                 HTTP/JSON API address (gateway/http),
//                                                      host:port; "" turns it off. Plain
//                                                      HTTP only: refused together with
//                                                      security.tls (see
//                                                      gateway/http/http_front.h).
//   log_level              string   "info"             debug | info | warning | error.
//   shutdown_grace_period  number   30                 Seconds that in-flight calls get to
//                                                      finish on shutdown; 0 to 86400,
//                                                      fractions allowed.
//   health_listen          string   ""                 A plaintext gRPC address, host:port,
//                                                      serving ONLY grpc.health.v1 (the same
//                                                      entries as `listen`), for probes that
//                                                      cannot speak TLS (Kubernetes' gRPC
//                                                      probes); "" turns it off. No
//                                                      authentication: it tells whoever can
//                                                      reach it whether each cell is up.
//   allow_insecure         bool     false              Let `listen` or `http_listen` be
//                                                      reachable from other hosts (anything
//                                                      but 127.0.0.0/8, [::1], localhost or
//                                                      unix:) without a `security:` section.
//                                                      Without it such a config is refused,
//                                                      so a gateway open to the network is
//                                                      always a decision.
//   max_concurrent_streams integer  1024               RPCs one client connection may have
//                                                      open at once (HTTP/2
//                                                      SETTINGS_MAX_CONCURRENT_STREAMS); more
//                                                      wait in the client. 1 to 1000000.
//   keepalive              map      (below)            HTTP/2 keepalive, both directions:
//     min_ping_interval    number   30                 Seconds a client must leave between
//                                                      pings when the gateway has sent it
//                                                      nothing; a client that pings more
//                                                      often is sent GOAWAY
//                                                      ("too_many_pings") after two such
//                                                      pings. 1 to 86400.
//     permit_without_calls bool     false              Whether clients may ping while they
//                                                      have no call open (a ping then is one
//                                                      of the two). true for clients that
//                                                      keep idle connections alive through
//                                                      load balancers.
//     time                 number   7200               Seconds of silence after which the
//                                                      gateway pings a client itself, to
//                                                      find dead connections. 1 to 2147483.
//     timeout              number   20                 Seconds the gateway waits for the
//                                                      answer to its ping before it closes
//                                                      the connection. 1 to 2147483.
//   cells                  list     (required)         One map per cell, at least one:
//
//     name                         string  (required)  Routing name used in Target.cell;
//                                                      non-empty, unique among the cells.
//     transport_url                string  (required*) oslo.messaging URL of the cell's
//                                                      broker, rabbit://user:pass@host:port
//                                                      [,user:pass@host:port...]/vhost (see
//                                                      bridge/transport_url.h). A secret: it
//                                                      is only ever shown with passwords
//                                                      redacted. Query options accepted:
//                                                      heartbeat_timeout_threshold (overrides
//                                                      the key below) and ssl (true/false,
//                                                      yes/no, on/off, 1/0; overrides the
//                                                      cell's `ssl` key, as in oslo; see
//                                                      security_config.h for TLS to
//                                                      brokers). Any other option is an
//                                                      error, as oslo's NoSuchOptError would
//                                                      be.
//     transport_url_file           string  (required*) Path of a file holding the whole
//                                                      transport URL (a mounted secret); read
//                                                      once at start-up, trailing newlines
//                                                      stripped, at most 64 KiB.
//                                  * exactly one of transport_url and transport_url_file,
//                                    unless the environment gives the cell's URL (below).
//     control_exchange             string  "openstack" Exchange for targets without one,
//                                                      oslo's [DEFAULT] control_exchange
//                                                      (nova uses "nova"); 1 to 255 bytes.
//     upgrade_levels               map     {}          Version cap per topic, nova's
//                                                      [upgrade_levels]: topic -> "X.Y[.Z]"
//                                                      or an alias from version_aliases.
//     version_aliases              map     {}          Release-name aliases (nova's
//                                                      VERSION_ALIASES): alias -> "X.Y[.Z]".
//     rpc_response_timeout         number  60          Default call timeout in seconds, as
//                                                      oslo's option; 0.001 to 2147483,
//                                                      fractions allowed.
//     max_call_timeout             number  rpc_response_timeout
//                                                      Longest CallRequest.timeout honoured,
//                                                      in seconds; a larger one is cut to it
//                                                      (gateway/rpc/call_timeouts.h). At
//                                                      least rpc_response_timeout, at most
//                                                      2147483.
//     connections                  integer 1           AMQP connections to the cell, 1 to 64.
//     amqp_durable_queues          bool    false       These three must equal the cell's
//     amqp_auto_delete             bool    false       [oslo_messaging_rabbit] options, or
//     rabbit_quorum_queue          bool    false       exchange declares fail with 406.
//     heartbeat_timeout_threshold  integer 60          AMQP heartbeat in seconds, 0 to 65535;
//                                                      0 turns heartbeats off.
//     max_in_flight                integer 10000       Requests of the cell accepted and not
//                                                      finished; one more is refused with
//                                                      RESOURCE_EXHAUSTED. 1 to 1000000.
//     max_message_bytes            integer 4194304     Largest request sent / reply accepted,
//                                                      1024 to 134217728 bytes.
//     max_subscriptions            integer 1000        Notification subscriptions (Subscribe
//                                                      streams) of the cell at once; one more
//                                                      is refused with RESOURCE_EXHAUSTED.
//                                                      1 to 2000.
//     subscription_outage_timeout  number  60          Seconds a subscription may go without
//                                                      consuming (broker unreachable) before
//                                                      its stream ends with UNAVAILABLE;
//                                                      shorter outages keep it open. 0.1 to
//                                                      86400, fractions allowed.
//
// Scalars are read as the text written, so versions keep their exact spelling: `1.10` stays
// "1.10" (not the number 1.1) and `1.0` stays "1.0". Booleans are true/false (also True,
// TRUE, False, FALSE). A key written with no value is null and is an error, not the default.
//
// Environment overrides (for containers; the *WithEnvironment functions below apply them).
// Each replaces the YAML value after the file is read and is checked exactly like it, with
// errors naming the variable. A variable set to "" counts as set (CELLGW_METRICS_LISTEN=""
// turns metrics off); unset variables change nothing.
//
//   CELLGW_LISTEN                          listen
//   CELLGW_METRICS_LISTEN                  metrics_listen
//   CELLGW_HTTP_LISTEN                     http_listen
//   CELLGW_LOG_LEVEL                       log_level
//   CELLGW_SHUTDOWN_GRACE_PERIOD           shutdown_grace_period (seconds)
//   CELLGW_HEALTH_LISTEN                   health_listen
//   CELLGW_CELL_<NAME>_TRANSPORT_URL       the transport URL of the cell named <NAME>
//   CELLGW_CELL_<NAME>_TRANSPORT_URL_FILE  a file holding it, read as transport_url_file
//
// <NAME> is the cell's name with ASCII letters upper-cased and every other byte that is not
// a letter or digit written as "_": cell "cell-1" is CELLGW_CELL_CELL_1_TRANSPORT_URL. Either
// variable replaces whichever of transport_url / transport_url_file the YAML has (then the
// YAML's file is not read) and may supply a URL the YAML leaves out; setting both for one
// cell is an error, and so is setting one whose <NAME> matches two cells. A variable of
// the form CELLGW_CELL_*_TRANSPORT_URL[_FILE] that matches no cell is an error too (see
// CheckEnvironmentNames), so a misspelt cell name cannot leave a URL silently unused.
//
// Last, after the environment: a `listen` or `http_listen` reachable from other hosts (see
// gateway/config/listen_address.h) without a `security:` section is an error naming
// allow_insecure, unless allow_insecure is true. (allow_insecure has no variable: opening
// the gateway stays in the reviewed file.)
//
// The minimal config:
//   listen: 127.0.0.1:50051
//   cells:
//     - name: cell1
//       transport_url: rabbit://guest:guest@127.0.0.1:5672/cell1
//       control_exchange: nova
#ifndef CELLGW_GATEWAY_CONFIG_CONFIG_H_
#define CELLGW_GATEWAY_CONFIG_CONFIG_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/cell_options.h"
#include "gateway/config/security_config.h"

namespace cellgw::gateway {

// The gRPC server's HTTP/2 keepalive policy (the `keepalive` map above).
struct KeepaliveConfig {
  absl::Duration min_ping_interval = absl::Seconds(30);
  bool permit_without_calls = false;
  absl::Duration time = absl::Hours(2);
  absl::Duration timeout = absl::Seconds(20);
};

struct GatewayConfig {
  std::string listen = "127.0.0.1:50051";  // gRPC listen address
  std::string metrics_listen;               // Prometheus /metrics address; "" = off
  std::string http_listen;                  // HTTP/JSON API address; "" = off
  std::string log_level = "info";           // debug | info | warning | error
  absl::Duration shutdown_grace_period = absl::Seconds(30);
  std::vector<bridge::CellOptions> cells;   // at least one, names unique
  SecurityConfig security;                  // disabled without a `security:` section
  std::string health_listen;                // plaintext grpc.health.v1 only; "" = off
  bool allow_insecure = false;              // see the top of this file
  int max_concurrent_streams = 1024;        // per client connection
  KeepaliveConfig keepalive;
  // cells[].max_call_timeout by cell name; a cell without an entry (as in configs built in
  // code) gets its rpc_response_timeout. Kept here rather than in bridge::CellOptions
  // because the gateway, not the bridge, applies it.
  std::map<std::string, absl::Duration> max_call_timeouts;
};

// Parses and checks a config given as YAML text. The result has every default filled in,
// each cell's transport_url_file read into its transport_url, and each URL's query options
// applied to its CellOptions. The environment is not consulted.
// Returns INVALID_ARGUMENT for the first problem found, its message starting with the key
// path and saying why (e.g. "cells[0].upgrade_level: unknown key",
// "cells[1].name: \"cell1\" is also the name of cells[0]"), or with the line and column of
// a YAML syntax error. A transport_url_file that cannot be read is INVALID_ARGUMENT too
// ("cells[0].transport_url_file: cannot read \"/run/secrets/x\": No such file or
// directory"). Messages never contain a password: a URL is only ever quoted redacted.
absl::StatusOr<GatewayConfig> ParseConfig(absl::string_view yaml_text);

// Reads the file at `path` and parses it with ParseConfig.
// Returns NOT_FOUND when the file does not exist; INVALID_ARGUMENT when it cannot be read,
// is not a regular file, is larger than 16 MiB, or does not parse. Every message starts with
// `config file "<path>": `.
absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path);

// Looks up an environment variable: the value, or nullptr when it is not set. main passes
// std::getenv; tests pass a map lookup.
using Getenv = std::function<const char*(const char*)>;

// ParseConfig, with the environment overrides listed at the top of this file applied after
// the YAML is read and before anything is resolved (so a transport_url_file the
// environment replaces is never opened). Same status codes; a message about a value that
// came from the environment starts with the variable's name instead of the key path
// ("CELLGW_LISTEN: must be host:port ...").
absl::StatusOr<GatewayConfig> ParseConfigWithEnvironment(absl::string_view yaml_text,
                                                         const Getenv& getenv);

// LoadConfigFile, with the environment overrides applied as in ParseConfigWithEnvironment.
// Messages about the file start with `config file "<path>": `, those about a variable with
// its name.
absl::StatusOr<GatewayConfig> LoadConfigFileWithEnvironment(const std::string& path,
                                                            const Getenv& getenv);

// The environment variable names cellgw reads for the cell named `cell_name`
// ("CELLGW_CELL_<NAME>_TRANSPORT_URL" and the same with "_FILE").
std::string CellTransportUrlVariable(absl::string_view cell_name);
std::string CellTransportUrlFileVariable(absl::string_view cell_name);

// Checks the names of the variables present in the environment (`names`, e.g. from
// environ) against `config`: INVALID_ARGUMENT naming the first one of the form
// CELLGW_CELL_<X>_TRANSPORT_URL or CELLGW_CELL_<X>_TRANSPORT_URL_FILE whose <X> matches no
// configured cell, listing the names that would. Other names are ignored (Kubernetes, for
// one, sets CELLGW_SERVICE_HOST and the like for a Service named cellgw).
absl::Status CheckEnvironmentNames(const GatewayConfig& config,
                                   const std::vector<std::string>& names);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_CONFIG_CONFIG_H_
