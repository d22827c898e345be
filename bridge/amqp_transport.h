// The AMQP 0-9-1 operations a cell's connection needs, as an interface, and the plain structs
// they speak in. AmqpConnection (amqp_connection.h) implements it on rabbitmq-c against a real
// broker; unit tests of the connection core use a fake (tests/bridge/fake_transport.h).
//
// Where it sits: ConnectionCore (connection_core.h) drives one AmqpTransport from its
// connection's event-loop thread; an AmqpConnector opens transports on a connection-attempt
// thread (connect_attempt.h) and hands them over.
//
// Threading: a transport is used by one thread at a time (the thread that owns it); no method
// is thread-safe. A transport may be opened on one thread and then handed to another.
//
// Channels, as every implementation must keep them (the connection core relies on it):
// - replies are consumed on a channel that carries nothing the broker can refuse on behalf of
//   a caller;
// - publishes go to a channel in publisher-confirm mode that carries nothing else;
// - exchanges are declared on a third channel that carries no publishes. A declare the broker
//   refuses (406 inequivalent, 403 reserved name, 404 on a passive declare) closes only that
//   channel, which is reopened at once: unconfirmed publishes are never disturbed by it.
#ifndef CELLGW_BRIDGE_AMQP_TRANSPORT_H_
#define CELLGW_BRIDGE_AMQP_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cellgw::bridge {

// TLS to the broker (amqps). The broker's certificate must chain to `ca_file` and name the
// host connected to (rabbitmq-c checks the host name against the certificate's DNS names
// and common name); there is no mode that skips either check.
struct AmqpTlsOptions {
  bool enabled = false;
  std::string ca_file;    // PEM CA bundle; required when enabled
  std::string cert_file;  // client certificate chain (PEM); "" = none
  std::string key_file;   // its unencrypted private key (PEM); with cert_file
};

struct AmqpEndpoint {
  std::string host;
  uint16_t port = 5672;
  std::string username = "guest";
  std::string password = "guest";  // never logged or put in an error
  std::string virtual_host = "/";
  // AMQP heartbeat negotiated with the broker; zero disables heartbeats.
  absl::Duration heartbeat = absl::Seconds(60);
  // Shown by `rabbitmqctl list_connections client_properties`; helps operators.
  std::string connection_name;
  // Upper bound for connect, login and each synchronous AMQP method.
  absl::Duration io_timeout = absl::Seconds(10);
  AmqpTlsOptions tls;
  // Puts the publishing channel in confirm mode, so that the broker acks or nacks every
  // publish (Handler::OnConfirm). cellgw always confirms; the benchmark's echo server, like
  // oslo's RPC server, publishes its replies unconfirmed.
  bool publisher_confirms = true;
};

struct ExchangeSpec {
  std::string name;
  std::string type;  // "topic" or "fanout"
  bool durable = false;
  bool auto_delete = false;
};

struct QueueSpec {
  std::string name;
  bool durable = false;
  bool auto_delete = false;
  bool exclusive = false;
  // x-expires in milliseconds, sent as a signed 32-bit int as oslo does; zero = none.
  int32_t expires_ms = 0;
};

struct PublishSpec {
  absl::string_view exchange;  // "" = the default exchange
  absl::string_view routing_key;
  absl::string_view body;
  bool mandatory = false;
  // AMQP per-message TTL in milliseconds as a decimal string; empty = none.
  absl::string_view expiration;
};

// A message that arrived with content: a delivery from a consumed queue, or a message the
// broker returned because a mandatory publish matched no queue.
struct InboundMessage {
  enum class Kind { kDelivery, kReturn };
  Kind kind = Kind::kDelivery;
  uint64_t delivery_tag = 0;  // deliveries only
  std::string exchange;
  std::string routing_key;
  std::string content_type;
  std::string body;
  uint16_t reply_code = 0;  // returns only, e.g. 312 NO_ROUTE
  std::string reply_text;   // returns only
  // True when the body exceeded the size limit and was discarded while reading.
  bool oversized = false;
  uint64_t body_size = 0;
};

class AmqpTransport {
 public:
  // Receives what ReadAvailable finds. Called on the owning thread, from inside ReadAvailable.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnMessage(InboundMessage message) = 0;
    // Publisher confirm for sequence number `seq` (and every earlier one when `multiple`).
    virtual void OnConfirm(uint64_t seq, bool multiple, bool ack) = 0;
    // The broker closed the publishing channel (code and text say why); it has been reopened.
    // Unconfirmed publishes will never be confirmed and sequence numbers restart at 1.
    virtual void OnPublishChannelReset(const absl::Status& why) = 0;
    // The broker cancelled the reply consumer (its queue was deleted).
    virtual void OnConsumerCancelled() = 0;
  };

  virtual ~AmqpTransport() = default;

  // Declares an exchange on the declaring channel, which carries no publishes. With `passive`,
  // only checks that it exists; otherwise creates it, or checks that the existing one has
  // exactly this type and these flags (which creates nothing). Returns NOT_FOUND when a
  // passive declare finds no such exchange, FAILED_PRECONDITION with the broker's text when
  // the broker refuses (406 inequivalent type or flags, 403 reserved `amq.` name or no
  // permission); after either the declaring channel is usable again. UNAVAILABLE when the
  // connection is lost.
  virtual absl::Status DeclareExchange(const ExchangeSpec& spec, bool passive) = 0;

  // Declares a queue on the consuming channel. With `passive`, only checks that it exists:
  // NOT_FOUND when it does not (the channel is reopened). UNAVAILABLE when the connection is
  // lost.
  virtual absl::Status DeclareQueue(const QueueSpec& spec, bool passive) = 0;

  // Starts consuming `queue` on the consuming channel. ReadAvailable acknowledges what it
  // received at the end of each pass.
  virtual absl::Status Consume(absl::string_view queue) = 0;

  // Publishes with oslo's properties (application/json, utf-8, delivery_mode 2, priority 0,
  // empty headers). Returns the publisher-confirm sequence number (meaningless without
  // publisher_confirms). UNAVAILABLE when the connection is lost.
  virtual absl::StatusOr<uint64_t> Publish(const PublishSpec& spec) = 0;

  // Reads and dispatches every frame that is available without waiting, and services AMQP
  // heartbeats. Bodies larger than `max_body_bytes` are read and discarded (InboundMessage
  // with `oversized` set). UNAVAILABLE when the connection is lost (closed by the broker,
  // socket error, missed heartbeats); the transport is then unusable.
  virtual absl::Status ReadAvailable(Handler& handler, uint64_t max_body_bytes) = 0;

  // True when input is already buffered in the process, so the socket may not poll readable
  // even though there is work.
  virtual bool HasBufferedInput() const = 0;

  // The socket, for poll(). -1 when closed.
  virtual int fd() const = 0;

  // Seconds between heartbeats negotiated with the broker (0 = none).
  virtual int negotiated_heartbeat_seconds() const = 0;
};

// Opens a transport to one broker, with the errors of AmqpConnection::Open. Runs on a
// connection-attempt thread, so it may block (up to endpoint.io_timeout) and must be callable
// from any thread.
using AmqpConnector =
    std::function<absl::StatusOr<std::unique_ptr<AmqpTransport>>(const AmqpEndpoint& endpoint)>;

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_AMQP_TRANSPORT_H_
