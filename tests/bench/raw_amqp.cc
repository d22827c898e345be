#include "tests/bench/raw_amqp.h"

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace cellgw::bench {
namespace {

constexpr int kFrameMax = 131072;

amqp_bytes_t Bytes(absl::string_view s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

absl::string_view View(amqp_bytes_t b) {
  return absl::string_view(static_cast<const char*>(b.bytes), b.len);
}

absl::Status ReplyStatus(const amqp_rpc_reply_t& reply, absl::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return absl::OkStatus();
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return absl::UnavailableError(
          absl::StrCat(what, ": ", amqp_error_string2(reply.library_error)));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return absl::UnavailableError(absl::StrCat(
            what, ": broker closed the channel: ", m->reply_code, " ", View(m->reply_text)));
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return absl::UnavailableError(
            absl::StrCat(what, ": broker closed the connection: ", View(m->reply_text)));
      }
      return absl::UnavailableError(absl::StrCat(what, ": unexpected broker method"));
    default:
      return absl::UnavailableError(absl::StrCat(what, ": no reply from broker"));
  }
}

}  // namespace

struct RawConnection::State {
  amqp_connection_state_t conn = nullptr;
  bool broken = false;
  std::string description;
  // Content being assembled per channel (deliver/return method, header, body frames).
  struct Pending {
    bool active = false;
    bool returned = false;
    uint16_t reply_code = 0;
    uint64_t delivery_tag = 0;
    uint64_t size = 0;
    std::string routing_key;
    std::string reply_to;
    std::string correlation_id;
    std::string body;
  };
  Pending pending[8];

  ~State() {
    if (conn == nullptr) return;
    if (!broken) amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
  }

  absl::Status Check(absl::string_view what) {
    absl::Status status = ReplyStatus(amqp_get_rpc_reply(conn), what);
    if (!status.ok()) broken = true;
    return status;
  }
};

RawConnection::RawConnection(std::unique_ptr<State> state) : state_(std::move(state)) {}
RawConnection::~RawConnection() = default;

absl::StatusOr<std::unique_ptr<RawConnection>> RawConnection::Open(const bridge::TransportUrl& url,
                                                                   int heartbeat_s) {
  if (url.hosts.empty()) return absl::InvalidArgumentError("url: no broker host");
  const bridge::BrokerHost& host = url.hosts.front();
  auto state = std::make_unique<State>();
  state->description = absl::StrCat(host.host, ":", host.port);
  state->conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(state->conn);
  if (socket == nullptr) return absl::ResourceExhaustedError("amqp_tcp_socket_new failed");
  const timeval timeout{10, 0};
  const int rc = amqp_socket_open_noblock(socket, host.host.c_str(), host.port, &timeout);
  if (rc != AMQP_STATUS_OK) {
    state->broken = true;
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", state->description, ": ", amqp_error_string2(rc)));
  }
  const amqp_rpc_reply_t login =
      amqp_login(state->conn, url.virtual_host.c_str(), 0, kFrameMax, heartbeat_s,
                 AMQP_SASL_METHOD_PLAIN, host.username.c_str(), host.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    state->broken = true;
    return absl::UnavailableError(absl::StrCat("cannot log in to ", state->description, ": ",
                                               ReplyStatus(login, "login").message()));
  }
  return std::unique_ptr<RawConnection>(new RawConnection(std::move(state)));
}

absl::Status RawConnection::OpenChannel(amqp_channel_t channel) {
  amqp_channel_open(state_->conn, channel);
  return state_->Check("channel.open");
}

absl::Status RawConnection::ConfirmSelect(amqp_channel_t channel) {
  amqp_confirm_select(state_->conn, channel);
  return state_->Check("confirm.select");
}

absl::Status RawConnection::DeclareExchange(amqp_channel_t channel, absl::string_view name,
                                            absl::string_view type, bool durable,
                                            bool auto_delete) {
  amqp_exchange_declare(state_->conn, channel, Bytes(name), Bytes(type), /*passive=*/0, durable,
                        auto_delete, /*internal=*/0, amqp_empty_table);
  return state_->Check(absl::StrCat("exchange.declare '", name, "'"));
}

absl::StatusOr<std::string> RawConnection::DeclareQueue(amqp_channel_t channel,
                                                        absl::string_view name, bool durable,
                                                        bool exclusive, bool auto_delete,
                                                        int32_t expires_ms) {
  amqp_table_entry_t entry;
  amqp_table_t arguments = amqp_empty_table;
  if (expires_ms > 0) {
    // Signed 32-bit, as oslo sends it; another type would make the declares inequivalent.
    entry.key = amqp_cstring_bytes("x-expires");
    entry.value.kind = AMQP_FIELD_KIND_I32;
    entry.value.value.i32 = expires_ms;
    arguments.num_entries = 1;
    arguments.entries = &entry;
  }
  const amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state_->conn, channel, Bytes(name), /*passive=*/0, durable, exclusive,
                         auto_delete, arguments);
  absl::Status status = state_->Check(absl::StrCat("queue.declare '", name, "'"));
  if (!status.ok()) return status;
  return std::string(View(ok->queue));
}

absl::Status RawConnection::BindQueue(amqp_channel_t channel, absl::string_view queue,
                                      absl::string_view exchange, absl::string_view routing_key) {
  amqp_queue_bind(state_->conn, channel, Bytes(queue), Bytes(exchange), Bytes(routing_key),
                  amqp_empty_table);
  return state_->Check(absl::StrCat("queue.bind '", queue, "'"));
}

absl::Status RawConnection::DeleteQueue(amqp_channel_t channel, absl::string_view queue) {
  amqp_queue_delete(state_->conn, channel, Bytes(queue), /*if_unused=*/0, /*if_empty=*/0);
  return state_->Check(absl::StrCat("queue.delete '", queue, "'"));
}

absl::Status RawConnection::Consume(amqp_channel_t channel, absl::string_view queue, bool no_ack) {
  amqp_basic_consume(state_->conn, channel, Bytes(queue), amqp_empty_bytes, /*no_local=*/0, no_ack,
                     /*exclusive=*/0, amqp_empty_table);
  return state_->Check(absl::StrCat("basic.consume '", queue, "'"));
}

absl::Status RawConnection::Publish(amqp_channel_t channel, absl::string_view exchange,
                                    absl::string_view routing_key, bool mandatory,
                                    absl::string_view body, absl::string_view reply_to,
                                    absl::string_view correlation_id,
                                    absl::string_view expiration) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
                 AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.content_encoding = amqp_cstring_bytes("utf-8");
  props.headers = amqp_empty_table;
  props.delivery_mode = 2;
  props.priority = 0;
  if (!reply_to.empty()) {
    props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    props.reply_to = Bytes(reply_to);
  }
  if (!correlation_id.empty()) {
    props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    props.correlation_id = Bytes(correlation_id);
  }
  if (!expiration.empty()) {
    props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    props.expiration = Bytes(expiration);
  }
  const int rc = amqp_basic_publish(state_->conn, channel, Bytes(exchange), Bytes(routing_key),
                                    mandatory, /*immediate=*/0, &props, Bytes(body));
  if (rc != AMQP_STATUS_OK) {
    state_->broken = true;
    return absl::UnavailableError(absl::StrCat("publish failed: ", amqp_error_string2(rc)));
  }
  return absl::OkStatus();
}

absl::Status RawConnection::Pump(absl::Duration wait, Handler& handler) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_connection_state_t conn = state_->conn;
  timeval timeout = absl::ToTimeval(wait);
  for (;;) {
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &timeout);
    timeout = timeval{0, 0};
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (rc != AMQP_STATUS_OK) {
      state_->broken = true;
      return absl::UnavailableError(
          absl::StrCat("connection to ", state_->description, " lost: ", amqp_error_string2(rc)));
    }
    if (frame.channel >= 8) continue;
    State::Pending& pending = state_->pending[frame.channel];
    switch (frame.frame_type) {
      case AMQP_FRAME_METHOD: {
        const amqp_method_number_t id = frame.payload.method.id;
        const void* decoded = frame.payload.method.decoded;
        if (id == AMQP_BASIC_DELIVER_METHOD || id == AMQP_BASIC_RETURN_METHOD) {
          pending.active = true;
          pending.returned = id == AMQP_BASIC_RETURN_METHOD;
          pending.body.clear();
          pending.reply_to.clear();
          pending.correlation_id.clear();
          if (pending.returned) {
            const auto* m = static_cast<const amqp_basic_return_t*>(decoded);
            pending.reply_code = m->reply_code;
            pending.routing_key.assign(static_cast<const char*>(m->routing_key.bytes),
                                       m->routing_key.len);
          } else {
            const auto* m = static_cast<const amqp_basic_deliver_t*>(decoded);
            pending.delivery_tag = m->delivery_tag;
            pending.routing_key.assign(static_cast<const char*>(m->routing_key.bytes),
                                       m->routing_key.len);
          }
        } else if (id == AMQP_BASIC_ACK_METHOD) {
          const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
          handler.OnConfirm(m->delivery_tag, m->multiple, true);
        } else if (id == AMQP_BASIC_NACK_METHOD) {
          const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
          handler.OnConfirm(m->delivery_tag, m->multiple, false);
        } else if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD) {
          state_->broken = true;
          return absl::UnavailableError("broker closed the channel or connection");
        }
        break;
      }
      case AMQP_FRAME_HEADER: {
        if (!pending.active) break;
        pending.size = frame.payload.properties.body_size;
        const auto* props =
            static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded);
        if (props == nullptr) break;
        if (props->_flags & AMQP_BASIC_REPLY_TO_FLAG) {
          pending.reply_to.assign(static_cast<const char*>(props->reply_to.bytes),
                                  props->reply_to.len);
        }
        if (props->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) {
          pending.correlation_id.assign(static_cast<const char*>(props->correlation_id.bytes),
                                        props->correlation_id.len);
        }
        pending.body.reserve(pending.size);
        break;
      }
      case AMQP_FRAME_BODY: {
        if (!pending.active) break;
        pending.body.append(static_cast<const char*>(frame.payload.body_fragment.bytes),
                            frame.payload.body_fragment.len);
        break;
      }
      default:
        break;
    }
    if (pending.active && frame.frame_type != AMQP_FRAME_METHOD &&
        pending.body.size() >= pending.size) {
      pending.active = false;
      RawMessage message;
      message.returned = pending.returned;
      message.reply_code = pending.reply_code;
      message.channel = frame.channel;
      message.delivery_tag = pending.delivery_tag;
      message.routing_key = pending.routing_key;
      message.reply_to = pending.reply_to;
      message.correlation_id = pending.correlation_id;
      message.body = pending.body;
      handler.OnMessage(message);
      if (state_->broken) return absl::UnavailableError("connection lost");
    }
  }
  amqp_maybe_release_buffers(conn);
  return absl::OkStatus();
}

bool RawConnection::HasBufferedInput() const {
  return !state_->broken &&
         (amqp_frames_enqueued(state_->conn) || amqp_data_in_buffer(state_->conn));
}

int RawConnection::fd() const { return amqp_get_sockfd(state_->conn); }

}  // namespace cellgw::bench
