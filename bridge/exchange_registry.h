// Which exchanges a connection may publish to, and the only place that declares them.
//
// Why it exists: callers name exchanges (Target.exchange, and the topic of a fanout), and a
// publish to an exchange that is missing, or of another type, or internal, makes the broker
// close the publishing channel, which voids every unconfirmed publish on it: one caller would
// fail everyone else's requests. So before the first publish to an exchange, Ensure() checks
// it on the transport's declaring channel, which carries no publishes (amqp_transport.h): a
// refusal there costs only the request that named the exchange.
//
// The rules, per request:
// - An exchange the caller may create (the cell's control exchange, MissingExchange::kCreate)
//   is declared actively with the cell's type and flags, as oslo does: created when missing,
//   refused (406) when it exists with another type or flags.
// - Any other exchange is first declared passively. Missing: NOT_FOUND, nothing is created, so
//   caller-chosen names leave nothing behind on the broker. Present: declared actively with
//   the expected type and flags, which creates nothing and makes the broker check that they
//   match (406 for `amq.direct` named as a topic exchange, for a `<topic>_fanout` named as a
//   topic exchange, for an internal exchange; 403 for a reserved `amq.` name).
// - Exchanges that passed are remembered, at most `capacity` of them (least recently used
//   forgotten first, then checked again on their next use), so checks cost one round trip per
//   exchange and connection, and caller-chosen names cannot grow the gateway's memory.
//   Refusals are not remembered: the next request learns the broker's state as it is then.
//
// Where it sits: the connection core owns one per connection and calls Forget() whenever the
// broker may have lost what was checked (new connection, publishing channel reset).
// Not thread-safe: the loop thread owns it.
#ifndef CELLGW_BRIDGE_EXCHANGE_REGISTRY_H_
#define CELLGW_BRIDGE_EXCHANGE_REGISTRY_H_

#include <cstddef>
#include <list>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "bridge/amqp_transport.h"

namespace cellgw::bridge {

class ExchangeRegistry {
 public:
  explicit ExchangeRegistry(size_t capacity = 1024);

  // Makes sure a message may be published to `spec` (rules above). OK: publish. NOT_FOUND:
  // the exchange does not exist and `create_if_missing` is false. FAILED_PRECONDITION: the
  // broker refused the declare (its text says why). UNAVAILABLE: the connection is lost.
  absl::Status Ensure(AmqpTransport& transport, const ExchangeSpec& spec,
                      bool create_if_missing);

  // Forgets every exchange checked so far.
  void Forget();

  // Exchanges currently remembered; never more than the capacity.
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  // Exchanges are remembered with their type and flags: `x_fanout` checked as a fanout
  // exchange says nothing about `x_fanout` named as a topic exchange.
  static std::string Key(const ExchangeSpec& spec);
  bool Touch(const std::string& key);
  void Remember(std::string key);

  const size_t capacity_;
  std::list<std::string> recent_;  // most recently used first
  absl::flat_hash_map<std::string, std::list<std::string>::iterator> index_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_EXCHANGE_REGISTRY_H_
