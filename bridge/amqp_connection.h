// One AMQP 0-9-1 connection to a RabbitMQ broker, on rabbitmq-c: the AmqpTransport the gateway
// runs on (amqp_transport.h holds the contract and the structs). This is the only module that
// includes <amqp.h>.
//
// Where it sits: a connection attempt (connect_attempt.h) opens it with Open(); the connection
// core (connection_core.h) then drives it from its cell connection's event-loop thread.
// rabbitmq-c is synchronous and not thread-safe, so an AmqpConnection must only ever be used
// by the thread that owns it. Nothing here blocks longer than the configured I/O timeout,
// except Publish when the socket's send buffer is full (the connection's watchdog cuts that).
//
// Channels: channel 1 consumes the reply queue; channel 2 publishes, in confirm mode; channel 3
// declares exchanges. A broker error on channel 2 (404 on a publish to an exchange that
// vanished) or 3 (406 on an inequivalent declare, 404 on a passive one, 403 on a reserved
// name) closes only that channel: it is reopened at once and the others keep running. An
// exchange declare therefore never voids unconfirmed publishes. Publisher-confirm sequence
// numbers restart at 1 whenever channel 2 is reopened, and the caller learns about the
// restart through Handler::OnPublishChannelReset.
#ifndef CELLGW_BRIDGE_AMQP_CONNECTION_H_
#define CELLGW_BRIDGE_AMQP_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/amqp_transport.h"

namespace cellgw::bridge {

class AmqpConnection final : public AmqpTransport {
 public:
  // Connects (over TLS when endpoint.tls.enabled), logs in, opens the three channels and puts
  // the publishing channel in confirm mode. UNAVAILABLE when the broker cannot be reached,
  // the TLS handshake or certificate verification fails, or the broker refuses the login
  // (the message names host:port and user, never the password); FAILED_PRECONDITION when TLS
  // is enabled without a ca_file or a client certificate or key cannot be loaded.
  static absl::StatusOr<std::unique_ptr<AmqpConnection>> Open(const AmqpEndpoint& endpoint);

  // Open() as an AmqpConnector, the connector every cell connection uses unless a test
  // injects another.
  static AmqpConnector Connector();

  ~AmqpConnection() override;  // closes the connection cleanly when it is still up
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // AmqpTransport; the contracts are in amqp_transport.h.
  absl::Status DeclareExchange(const ExchangeSpec& spec, bool passive) override;
  absl::Status DeclareQueue(const QueueSpec& spec, bool passive) override;
  absl::Status Consume(absl::string_view queue) override;
  absl::StatusOr<uint64_t> Publish(const PublishSpec& spec) override;
  absl::Status ReadAvailable(Handler& handler, uint64_t max_body_bytes) override;
  // True when rabbitmq-c already holds received bytes or frames.
  bool HasBufferedInput() const override;
  int fd() const override;
  int negotiated_heartbeat_seconds() const override;

 private:
  struct State;
  explicit AmqpConnection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_AMQP_CONNECTION_H_
