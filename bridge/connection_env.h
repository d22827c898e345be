// What a cell connection takes from its surroundings: how it opens AMQP connections, the
// clock, the random numbers. The defaults are the real ones (rabbitmq-c, absl::Now, BitGen);
// unit tests pass fakes (tests/bridge) to run the connection core in milliseconds without a
// broker.
//
// Where it sits: RpcBridge::Create passes one to every CellConnection it builds.
#ifndef CELLGW_BRIDGE_CONNECTION_ENV_H_
#define CELLGW_BRIDGE_CONNECTION_ENV_H_

#include "absl/time/time.h"
#include "bridge/amqp_transport.h"
#include "bridge/clock.h"
#include "bridge/random_source.h"

namespace cellgw::bridge {

struct ConnectionEnv {
  // Opens a transport to a broker (called on a connection-attempt thread). Empty:
  // AmqpConnection::Connector().
  AmqpConnector connector;
  // Null: Clock::Real(). Must outlive every connection given this environment.
  Clock* clock = nullptr;
  // Null: RandomSource::Real(). Must outlive every connection given this environment.
  RandomSource* random = nullptr;
  // How often the stall watchdog looks at the loop thread (stall_watchdog.h).
  absl::Duration watchdog_tick = absl::Milliseconds(250);
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CONNECTION_ENV_H_
