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

  // ---------------------------------------------------------------------------------------
  // Own channels: consumers that acknowledge what they finished with (ConsumerConnection).
  //
  // Besides the fixed channels above, a connection can open channels of its own, numbered
  // from kFirstOwnChannel up, each carrying one consumer set: its own basic.qos window, its
  // own delivery tags, its own acknowledgements. A broker refusal on one (406 on an
  // inequivalent queue declare, 404 on a missing exchange) closes only that channel, and
  // closing one (CloseOwnChannel, or the broker closing it) returns its unacknowledged
  // deliveries to their queues. A connection with own channels is read with ReadChannels(),
  // never ReadAvailable(); publishing still uses Publish() and its confirm numbering.
  //
  // The synchronous methods below (everything but Ack, Reject and ReadChannels) wait for the
  // broker's answer; frames that arrive meanwhile for other channels are kept for the next
  // ReadChannels (HasBufferedInput() then says so). Each returns UNAVAILABLE when the
  // connection is lost (the object is then unusable), and for a refusal on the channel:
  // NOT_FOUND (404) or FAILED_PRECONDITION (any other code, with the broker's text). After a
  // refusal the channel is closed and its number free again.

  // Own channel numbers start here, well above the fixed ones.
  static constexpr uint16_t kFirstOwnChannel = 16;

  // A delivery on an own channel.
  struct ChannelDelivery {
    uint64_t delivery_tag = 0;  // per channel; what Ack and Reject take
    bool redelivered = false;   // the broker delivered it before (and it was not acknowledged)
    std::string exchange;
    std::string routing_key;
    std::string content_type;
    // The `expiration` property as sent (a per-message TTL in ms, as text); "" when absent.
    // oslo's RPC client sets it on calls to the call timeout.
    std::string expiration;
    std::string body;
    // True when the body exceeded the size limit and was discarded while reading.
    bool oversized = false;
    uint64_t body_size = 0;
  };

  // Receives what ReadChannels finds. Called on the owning thread, from inside ReadChannels;
  // it may call Ack and Reject, never a synchronous method.
  class ChannelHandler {
   public:
    virtual ~ChannelHandler() = default;
    virtual void OnDelivery(uint16_t channel, ChannelDelivery delivery) = 0;
    // Publisher confirm on the publishing channel, as Handler::OnConfirm.
    virtual void OnConfirm(uint64_t seq, bool multiple, bool ack) = 0;
    // As Handler::OnPublishChannelReset.
    virtual void OnPublishChannelReset(const absl::Status& why) = 0;
    // The broker cancelled a consumer on `channel` (its queue was deleted): the channel stays
    // open, the consumer is gone.
    virtual void OnConsumerCancelled(uint16_t channel) = 0;
    // The broker closed own channel `channel` (`why` holds its code and text); its number is
    // free again and its unacknowledged deliveries are back in their queues.
    virtual void OnChannelClosed(uint16_t channel, const absl::Status& why) = 0;
  };

  // Opens the lowest free own channel. RESOURCE_EXHAUSTED when the connection's channel_max
  // is reached.
  absl::StatusOr<uint16_t> OpenOwnChannel();
  // Closes an own channel cleanly (channel.close / close-ok).
  absl::Status CloseOwnChannel(uint16_t channel);
  // basic.qos: at most `prefetch_count` unacknowledged deliveries (0 = no limit), for the
  // whole channel (`per_channel`, RabbitMQ's global=true) or for each consumer started on it
  // afterwards.
  absl::Status SetPrefetch(uint16_t channel, uint16_t prefetch_count, bool per_channel);
  // Declares `spec`; with `passive`, only checks that an exchange of that name exists
  // (NOT_FOUND when not), creating nothing.
  absl::Status DeclareExchangeOn(uint16_t channel, const ExchangeSpec& spec, bool passive);
  // Declares `spec`; `quorum` adds x-queue-type: quorum (oslo's rabbit_quorum_queue).
  absl::Status DeclareQueueOn(uint16_t channel, const QueueSpec& spec, bool quorum);
  absl::Status BindQueue(uint16_t channel, absl::string_view queue, absl::string_view exchange,
                         absl::string_view routing_key);
  // queue.delete (not if-unused, not if-empty), as kombu's Queue.delete() that oslo's server
  // sends for its fanout queue on a graceful stop. Deleting a queue that does not exist is OK
  // for RabbitMQ.
  absl::Status DeleteQueueOn(uint16_t channel, absl::string_view queue);
  // basic.consume with no_ack=false: every delivery waits for Ack or Reject.
  absl::Status ConsumeOn(uint16_t channel, absl::string_view queue);
  // Acknowledges one delivery, or returns it (requeue) or drops it. Asynchronous (no answer);
  // an unknown tag makes the broker close the channel (406), so callers pass only tags they
  // were given. UNAVAILABLE when the connection is lost.
  absl::Status Ack(uint16_t channel, uint64_t delivery_tag);
  absl::Status Reject(uint16_t channel, uint64_t delivery_tag, bool requeue);
  // ReadAvailable for a connection with own channels: reads and dispatches every frame that
  // is available without waiting and services heartbeats. A broker close of a fixed channel
  // reopens it (the publishing one is reported). Errors as ReadAvailable's.
  absl::Status ReadChannels(ChannelHandler& handler, uint64_t max_body_bytes);

 private:
  struct State;
  explicit AmqpConnection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
  // What the own channels need: open numbers and deliveries being assembled. A shared_ptr so
  // that it is created on first use without touching the constructor or destructor.
  struct OwnChannels;
  std::shared_ptr<OwnChannels> own_;
  OwnChannels& own();
  // The outcome of the synchronous method just sent on own channel `channel`.
  absl::Status OwnRpcOutcome(uint16_t channel, absl::string_view what);
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_AMQP_CONNECTION_H_
