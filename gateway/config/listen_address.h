// Whether a listen address is reachable from other hosts. Part of //gateway's config: the
// config refuses a non-loopback `listen` without security unless `allow_insecure: true`
// (gateway/config/config.h), so a gateway is never open to the network by accident.
#ifndef CELLGW_GATEWAY_CONFIG_LISTEN_ADDRESS_H_
#define CELLGW_GATEWAY_CONFIG_LISTEN_ADDRESS_H_

#include "absl/strings/string_view.h"

namespace cellgw::gateway {

// True when `listen` (a value config.h accepts: host:port, [v6]:port or unix:/path) can only
// be reached from this host: a unix: socket, an IPv4 address in 127.0.0.0/8, [::1], an
// IPv4-mapped loopback ([::ffff:127.x.y.z]), or the name "localhost". Everything else is
// treated as reachable, wildcards (0.0.0.0, [::]) and host names included: a name may
// resolve to any address.
bool IsLoopbackListen(absl::string_view listen);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_CONFIG_LISTEN_ADDRESS_H_
