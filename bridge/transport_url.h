// oslo.messaging transport URLs for the rabbit driver: parsing them the way oslo and kombu
// read them, and redacting their passwords for logs and errors. Part of //bridge; the
// gateway's config (gateway/config/config.h) parses each cell's transport_url with it, and the AMQP
// connection code connects to the hosts it yields.
//
// Grammar (oslo's TransportURL):
//   rabbit://[user[:pass]@]host[:port][,[user[:pass]@]host[:port]]*[/virtual_host][?query]
// Per host, the credentials are what precedes the LAST '@' (so a user may hold a raw '@'),
// the user is what precedes their FIRST ':' (so a password may hold ':'); both are
// percent-decoded separately, and an empty or missing one is "guest" (kombu's default).
// `[v6addr]:port` is accepted; a missing or empty port is 5672. The virtual host is the
// percent-decoded path after the first '/'; missing, empty, "//" and "/%2F" all mean "/".
// `rabbit://` alone is guest:guest@localhost:5672.
//
// Deliberate differences from oslo, all of them refusals of input oslo would misread:
//   * `amqp://` is refused: in oslo it selects the AMQP 1.0 driver, not RabbitMQ's 0-9-1.
//   * a '#' (which Python would take as a fragment, silently cutting the URL), spaces,
//     control characters, non-numeric ports, bad host names and NUL bytes in decoded
//     credentials are errors; percent-encode such characters instead.
//   * shapes that a raw ',', '/' or '?' inside a password produces are errors, so that no
//     piece of a password is ever taken for a host, vhost or query (and then shown): an '@'
//     after the host list, and a host without credentials followed by one with them.
//   * the virtual host is percent-decoded once. (oslo decodes it and kombu decodes it again,
//     so a vhost written with "%25" means something else to a real service; no real vhost
//     can hold a '%' through oslo anyway.)
#ifndef CELLGW_BRIDGE_TRANSPORT_URL_H_
#define CELLGW_BRIDGE_TRANSPORT_URL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {

struct BrokerHost {
  std::string host;  // name or address; IPv6 without the brackets
  uint16_t port = 5672;
  std::string username = "guest";  // decoded
  std::string password = "guest";  // decoded; a secret, never log it
};

struct TransportUrl {
  // In the order written. (oslo shuffles them before failing over; that is the connection
  // code's business.)
  std::vector<BrokerHost> hosts;
  std::string virtual_host = "/";  // decoded
  // Query options, decoded ('+' is a space, as in an HTML form), in order of first
  // appearance, repeated keys joined with ",". Which keys are allowed is the caller's choice,
  // because the set of options oslo accepts here is large and the gateway supports few.
  std::vector<std::pair<std::string, std::string>> query;
};

// Parses an oslo.messaging rabbit transport URL (grammar above).
// Returns INVALID_ARGUMENT "transport_url: ..." saying what is wrong and quoting
// RedactTransportUrl(url); the message never contains a password.
absl::StatusOr<TransportUrl> ParseTransportUrl(absl::string_view url);

// `url` as written, with every host's password (when one is written) replaced by "***".
// Safe for logs, errors and ListCells. Works on malformed URLs too: when the URL does not
// parse, or some '@' outside the host list leaves it unclear where credentials end,
// everything between "//" and the last '@' is replaced instead. A URL without any '@' has no
// credentials and comes back unchanged.
std::string RedactTransportUrl(absl::string_view url);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_TRANSPORT_URL_H_
