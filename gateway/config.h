// The gateway's YAML configuration: reading it, checking every value, and turning each cell
// into the bridge::CellOptions the bridge runs with. Part of //gateway; main reads the file
// once at start-up and refuses to start on any error, so a typo never runs silently.
//
// Keys (all optional unless marked required; an unknown key anywhere is an error):
//
//   listen                 string   "127.0.0.1:50051"  gRPC listen address, host:port
//                                                      (IPv6 as [addr]:port; port 0 picks
//                                                      one), or unix:/path.
//   metrics_listen         string   ""                 Prometheus /metrics address,
//                                                      host:port; "" turns it off.
//   log_level              string   "info"             debug | info | warning | error.
//   shutdown_grace_period  number   30                 Seconds that in-flight calls get to
//                                                      finish on shutdown; 0 to 86400,
//                                                      fractions allowed.
//   cells                  list     (required)         One map per cell, at least one:
//
//     name                         string  (required)  Routing name used in Target.cell;
//                                                      non-empty, unique among the cells.
//     transport_url                string  (required)  oslo.messaging URL of the cell's
//                                                      broker, rabbit://user:pass@host:port
//                                                      [,user:pass@host:port...]/vhost (see
//                                                      bridge/transport_url.h). A secret: it
//                                                      is only ever shown with passwords
//                                                      redacted. Query options accepted:
//                                                      heartbeat_timeout_threshold (overrides
//                                                      the key below) and ssl (a boolean,
//                                                      checked but not acted on: TLS to the
//                                                      broker arrives with the security
//                                                      work). Any other option is an error,
//                                                      as oslo's NoSuchOptError would be.
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
//     connections                  integer 1           AMQP connections to the cell, 1 to 64.
//     amqp_durable_queues          bool    false       These three must equal the cell's
//     amqp_auto_delete             bool    false       [oslo_messaging_rabbit] options, or
//     rabbit_quorum_queue          bool    false       exchange declares fail with 406.
//     heartbeat_timeout_threshold  integer 60          AMQP heartbeat in seconds, 0 to 65535;
//                                                      0 turns heartbeats off.
//
// Scalars are read as the text written, so versions keep their exact spelling: `1.10` stays
// "1.10" (not the number 1.1) and `1.0` stays "1.0". Booleans are true/false (also True,
// TRUE, False, FALSE). A key written with no value is null and is an error, not the default.
//
// The minimal config:
//   listen: 127.0.0.1:50051
//   cells:
//     - name: cell1
//       transport_url: rabbit://guest:guest@127.0.0.1:5672/cell1
//       control_exchange: nova
#ifndef CELLGW_GATEWAY_CONFIG_H_
#define CELLGW_GATEWAY_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/cell_options.h"

namespace cellgw::gateway {

struct GatewayConfig {
  std::string listen = "127.0.0.1:50051";  // gRPC listen address
  std::string metrics_listen;               // Prometheus /metrics address; "" = off
  std::string log_level = "info";           // debug | info | warning | error
  absl::Duration shutdown_grace_period = absl::Seconds(30);
  std::vector<bridge::CellOptions> cells;   // at least one, names unique
};

// Parses and checks a config given as YAML text. The result has every default filled in, and
// each cell's transport_url query options applied to its CellOptions.
// Returns INVALID_ARGUMENT for the first problem found, its message starting with the key
// path and saying why (e.g. "cells[0].upgrade_level: unknown key",
// "cells[1].name: \"cell1\" is also the name of cells[0]"), or with the line and column of
// a YAML syntax error. Messages never contain a password.
absl::StatusOr<GatewayConfig> ParseConfig(absl::string_view yaml_text);

// Reads the file at `path` and parses it with ParseConfig.
// Returns NOT_FOUND when the file does not exist; INVALID_ARGUMENT when it cannot be read,
// is not a regular file, is larger than 16 MiB, or does not parse. Every message starts with
// `config file "<path>": `.
absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_CONFIG_H_
