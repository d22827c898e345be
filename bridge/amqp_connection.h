// One AMQP 0-9-1 connection to a RabbitMQ broker, on rabbitmq-c. This is the only module that
// includes <amqp.h>; everything above it speaks in the plain structs declared here.
//
// Where it sits: CellConnection (cell_connection.h) owns one AmqpConnection and drives it from
// its event-loop thread. rabbitmq-c is synchronous and not thread-safe, so an AmqpConnection
// must only ever be used by the thread that owns it. Nothing here blocks longer than the
// configured I/O timeout, except Publish when the socket's send buffer is full.
//
// Channels: channel 1 consumes the reply queue and is never used for anything that the broker
// can refuse; channel 2 declares exchanges and publishes, in confirm mode. A broker error on
// channel 2 (406 on an inequivalent exchange declare, 404 on a publish to an exchange that
// vanished) closes only that channel: it is reopened at once and the consumer on channel 1 keeps
// running. Publisher-confirm sequence numbers restart at 1 whenever channel 2 is reopened, and
// the caller learns about the restart through Handler::OnPublishChannelReset.
#ifndef CELLGW_BRIDGE_AMQP_CONNECTION_H_
#define CELLGW_BRIDGE_AMQP_CONNECTION_H_

#include <cstdint>
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

class AmqpConnection {
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

  // Connects (over TLS when endpoint.tls.enabled), logs in, opens both channels and puts
  // the publishing channel in confirm mode. UNAVAILABLE when the broker cannot be reached,
  // the TLS handshake or certificate verification fails, or the broker refuses the login
  // (the message names host:port and user, never the password); FAILED_PRECONDITION when TLS
  // is enabled without a ca_file or a client certificate or key cannot be loaded.
  static absl::StatusOr<std::unique_ptr<AmqpConnection>> Open(const AmqpEndpoint& endpoint);

  ~AmqpConnection();  // closes the connection cleanly when it is still up
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // Declares an exchange on the publishing channel. A broker refusal (406 inequivalent args)
  // returns FAILED_PRECONDITION with the broker's text and leaves the channel reopened;
  // UNAVAILABLE when the connection is lost.
  absl::Status DeclareExchange(const ExchangeSpec& spec);

  // Declares a queue on the consuming channel. With `passive`, only checks that it exists:
  // NOT_FOUND when it does not (the channel is reopened). UNAVAILABLE when the connection is lost.
  absl::Status DeclareQueue(const QueueSpec& spec, bool passive);

  // Starts consuming `queue` on the consuming channel. ReadAvailable acknowledges what it
  // received at the end of each pass.
  absl::Status Consume(absl::string_view queue);

  // Publishes with oslo's properties (application/json, utf-8, delivery_mode 2, priority 0,
  // empty headers). Returns the publisher-confirm sequence number (meaningless without
  // publisher_confirms). UNAVAILABLE when the connection is lost.
  absl::StatusOr<uint64_t> Publish(const PublishSpec& spec);

  // Reads and dispatches every frame that is available without waiting, and services AMQP
  // heartbeats. Bodies larger than `max_body_bytes` are read and discarded (InboundMessage
  // with `oversized` set). UNAVAILABLE when the connection is lost (closed by the broker,
  // socket error, missed heartbeats); the object is then unusable.
  absl::Status ReadAvailable(Handler& handler, uint64_t max_body_bytes);

  // True when rabbitmq-c already holds received bytes or frames, so the socket may not poll
  // readable even though there is work.
  bool HasBufferedInput() const;

  // The socket, for poll(). -1 when closed.
  int fd() const;

  // Seconds between heartbeats negotiated with the broker (0 = none).
  int negotiated_heartbeat_seconds() const;

 private:
  struct State;
  explicit AmqpConnection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_AMQP_CONNECTION_H_
