// Everything the bridge needs to know about one cell: where its broker is and how the
// cell's oslo.messaging services are configured. Filled from the gateway's YAML config
// (gateway/config/config.h); every field's YAML key is its name here.
#ifndef CELLGW_BRIDGE_CELL_OPTIONS_H_
#define CELLGW_BRIDGE_CELL_OPTIONS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace cellgw::bridge {

struct CellOptions {
  // Routing name used in Target.cell. Unique within a gateway.
  std::string name;
  // oslo.messaging transport URL, rabbit://user:pass@host:port[,host...]/vhost. A secret:
  // log and show only RedactTransportUrl(transport_url).
  std::string transport_url;
  // Exchange for targets without one, as oslo's [DEFAULT] control_exchange.
  std::string control_exchange = "openstack";
  // Version caps per topic (nova's [upgrade_levels]): topic -> "X.Y[.Z]" or an alias.
  std::map<std::string, std::string> upgrade_levels;
  // Release-name aliases usable in upgrade_levels (nova's VERSION_ALIASES): alias -> version.
  std::map<std::string, std::string> version_aliases;
  // Default call timeout (oslo's rpc_response_timeout).
  absl::Duration rpc_response_timeout = absl::Seconds(60);
  // AMQP connections to open to the cell; calls are spread over them.
  int connections = 1;
  // Must match the cell's oslo.messaging options, or exchange declares fail with 406.
  bool amqp_durable_queues = false;
  bool amqp_auto_delete = false;
  bool rabbit_quorum_queue = false;
  // AMQP heartbeat (oslo's heartbeat_timeout_threshold). Zero turns heartbeats off.
  absl::Duration heartbeat_timeout_threshold = absl::Seconds(60);
  // Backpressure: requests (calls, casts, fanouts) of this cell accepted and not yet
  // finished. One more is refused at once with RESOURCE_EXHAUSTED, so memory stays bounded.
  int max_in_flight = 10000;
  // Largest AMQP body sent (an encoded request) or accepted (a reply); larger requests are
  // refused with RESOURCE_EXHAUSTED, larger replies dropped and counted. gRPC's own default
  // limit on a received request is also 4 MiB.
  uint64_t max_message_bytes = 4ull << 20;
  // Notifications (notification_bridge.h): subscriptions of this cell at most (each holds an
  // AMQP channel of the cell's consumer connection); one more is refused with
  // RESOURCE_EXHAUSTED.
  int max_subscriptions = 1000;
  // How long a subscription may go without consuming (broker unreachable, or its queues
  // refused) before it ends with UNAVAILABLE. Shorter outages are bridged: the subscription
  // resumes by itself and its stream stays open.
  absl::Duration subscription_outage_timeout = absl::Seconds(60);
  // TLS to the broker (amqps), as oslo's [oslo_messaging_rabbit] ssl or ?ssl=true in the
  // transport URL. The broker's certificate is always verified against ssl_ca_file (required
  // with ssl) and must name the URL's host. ssl_cert_file/ssl_key_file: a client
  // certificate and its unencrypted key, for brokers that ask for one (both or neither).
  bool ssl = false;
  std::string ssl_ca_file;
  std::string ssl_cert_file;
  std::string ssl_key_file;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CELL_OPTIONS_H_
