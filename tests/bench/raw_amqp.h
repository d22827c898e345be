// Plain rabbitmq-c for the benchmark's own tools (tests/bench): the raw ceiling probe, which
// must not go through the bridge at all, and the topology the native echo server needs beyond
// what bridge::AmqpConnection offers (queue.bind, queue.delete). Not used by cellgw itself.
//
// A RawConnection belongs to one thread; rabbitmq-c is not thread-safe.
#ifndef CELLGW_TESTS_BENCH_RAW_AMQP_H_
#define CELLGW_TESTS_BENCH_RAW_AMQP_H_

#include <amqp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/transport_url.h"

namespace cellgw::bench {

// One inbound message with content, as RawConnection::Pump hands it over. The views are valid
// only during the handler call.
struct RawMessage {
  bool returned = false;    // basic.return (a mandatory publish that matched no queue)
  uint16_t reply_code = 0;  // returns only
  amqp_channel_t channel = 0;
  uint64_t delivery_tag = 0;  // deliveries only
  absl::string_view routing_key;
  absl::string_view reply_to;
  absl::string_view correlation_id;
  absl::string_view body;
};

class RawConnection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnMessage(const RawMessage& message) = 0;
    // basic.ack / basic.nack of a publisher confirm.
    virtual void OnConfirm(uint64_t seq, bool multiple, bool ack) {}
  };

  // Connects and logs in to the first host of `url` (PLAIN, frame_max 128 KiB, heartbeat as
  // given, 0 = none). UNAVAILABLE naming host:port when that fails.
  static absl::StatusOr<std::unique_ptr<RawConnection>> Open(const bridge::TransportUrl& url,
                                                             int heartbeat_s);
  ~RawConnection();  // closes the connection when it is still healthy
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Synchronous AMQP methods. Each returns UNAVAILABLE (with the broker's reply text when the
  // broker refused) and leaves the connection unusable on failure: these tools treat any
  // broker refusal as fatal.
  absl::Status OpenChannel(amqp_channel_t channel);
  absl::Status ConfirmSelect(amqp_channel_t channel);
  absl::Status DeclareExchange(amqp_channel_t channel, absl::string_view name,
                               absl::string_view type, bool durable, bool auto_delete);
  // An empty `name` asks the broker for one; the name is returned either way.
  absl::StatusOr<std::string> DeclareQueue(amqp_channel_t channel, absl::string_view name,
                                           bool durable, bool exclusive, bool auto_delete,
                                           int32_t expires_ms);
  absl::Status BindQueue(amqp_channel_t channel, absl::string_view queue,
                         absl::string_view exchange, absl::string_view routing_key);
  absl::Status DeleteQueue(amqp_channel_t channel, absl::string_view queue);
  absl::Status Consume(amqp_channel_t channel, absl::string_view queue, bool no_ack);

  // Publishes with oslo's properties (application/json, utf-8, delivery_mode 2, priority 0,
  // empty headers) plus reply_to / correlation_id / expiration when not empty. UNAVAILABLE
  // when the socket fails.
  absl::Status Publish(amqp_channel_t channel, absl::string_view exchange,
                       absl::string_view routing_key, bool mandatory, absl::string_view body,
                       absl::string_view reply_to = {}, absl::string_view correlation_id = {},
                       absl::string_view expiration = {});

  // Waits up to `wait` for the first frame, then dispatches every frame available without
  // waiting. UNAVAILABLE when the connection is lost or the broker closes a channel.
  absl::Status Pump(absl::Duration wait, Handler& handler);

  // True when rabbitmq-c already holds received bytes or frames (poll() would not show them).
  bool HasBufferedInput() const;

  int fd() const;

 private:
  struct State;
  explicit RawConnection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cellgw::bench

#endif  // CELLGW_TESTS_BENCH_RAW_AMQP_H_
