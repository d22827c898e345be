#include "bridge/amqp_connection.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

constexpr amqp_channel_t kConsumeChannel = 1;
constexpr amqp_channel_t kPublishChannel = 2;
constexpr amqp_channel_t kDeclareChannel = 3;
constexpr amqp_channel_t kChannels[] = {kConsumeChannel, kPublishChannel, kDeclareChannel};
constexpr int kFrameMax = 131072;

amqp_bytes_t Bytes(absl::string_view s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string ToString(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

// Turns a synchronous method's outcome into a status. `what` names the operation.
absl::Status ReplyToStatus(const amqp_rpc_reply_t& reply, absl::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return absl::OkStatus();
    case AMQP_RESPONSE_NONE:
      return absl::UnavailableError(absl::StrCat(what, ": no reply from broker"));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return absl::UnavailableError(
          absl::StrCat(what, ": ", amqp_error_string2(reply.library_error)));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        const std::string text = ToString(close->reply_text);
        if (close->reply_code == 404) return absl::NotFoundError(absl::StrCat(what, ": ", text));
        return absl::FailedPreconditionError(absl::StrCat(what, ": ", text));
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return absl::UnavailableError(
            absl::StrCat(what, ": broker closed the connection: ", ToString(close->reply_text)));
      }
      return absl::UnavailableError(absl::StrCat(what, ": unexpected broker method"));
  }
  return absl::UnavailableError(absl::StrCat(what, ": unknown reply"));
}

// A TLS socket on `conn` that verifies the broker's certificate chain against tls.ca_file
// and its host name, TLS 1.2 or newer, with the client certificate when one is configured.
// Paths are quoted in errors; file contents never are.
absl::StatusOr<amqp_socket_t*> NewTlsSocket(amqp_connection_state_t conn,
                                            const AmqpTlsOptions& tls) {
  if (tls.ca_file.empty()) {
    return absl::FailedPreconditionError(
        "TLS to the broker needs a CA file to verify its certificate (ssl_ca_file)");
  }
  amqp_socket_t* socket = amqp_ssl_socket_new(conn);
  if (socket == nullptr) return absl::ResourceExhaustedError("amqp_ssl_socket_new failed");
  amqp_ssl_socket_set_verify_peer(socket, 1);
  amqp_ssl_socket_set_verify_hostname(socket, 1);
  if (amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST) !=
      AMQP_STATUS_OK) {
    return absl::FailedPreconditionError("cannot require TLS 1.2 or newer");
  }
  if (amqp_ssl_socket_set_cacert(socket, tls.ca_file.c_str()) != AMQP_STATUS_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the CA file '", tls.ca_file, "'"));
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    // An empty passphrase: an encrypted key then fails to load instead of OpenSSL prompting
    // on the terminal.
    amqp_ssl_socket_set_key_passwd(socket, "");
    if (amqp_ssl_socket_set_key(socket, tls.cert_file.c_str(), tls.key_file.c_str()) !=
        AMQP_STATUS_OK) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot load the client certificate '", tls.cert_file, "' and key '",
                       tls.key_file, "'"));
    }
  }
  return socket;
}

}  // namespace

struct AmqpConnection::State {
  amqp_connection_state_t conn = nullptr;
  bool broken = false;  // a library error left rabbitmq-c in an unknown state
  std::string description;  // host:port, for messages
  bool publisher_confirms = true;
  uint64_t next_seq = 1;
  // The newest delivery on the consuming channel not acknowledged yet (0: none). Replies are
  // acknowledged once received, not consumed with no_ack: a reply the broker hands to a
  // connection that is already dead on our side (kept alive at the broker by a partition)
  // then goes back to the queue when the broker drops that connection, instead of being lost.
  uint64_t ack_upto = 0;
  // Content being assembled per channel: a deliver or return method is followed by a header
  // frame and body frames on the same channel.
  struct Pending {
    bool active = false;
    InboundMessage message;
    uint64_t received = 0;
  };
  Pending pending[kDeclareChannel + 1];

  ~State() {
    if (conn == nullptr) return;
    if (!broken) amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
  }

  // Marks the connection unusable after the library error `rc`.
  absl::Status Lost(int rc) {
    broken = true;
    return absl::UnavailableError(
        absl::StrCat("connection to ", description, " lost: ", amqp_error_string2(rc)));
  }

  // Opens `channel`, in confirm mode when it is the publishing channel.
  absl::Status OpenChannel(amqp_channel_t channel) {
    amqp_channel_open(conn, channel);
    absl::Status status = ReplyToStatus(amqp_get_rpc_reply(conn), "channel.open");
    if (status.ok() && channel == kPublishChannel && publisher_confirms) {
      amqp_confirm_select(conn, channel);
      status = ReplyToStatus(amqp_get_rpc_reply(conn), "confirm.select");
    }
    if (channel == kPublishChannel) next_seq = 1;  // a new channel numbers its confirms anew
    if (!status.ok()) broken = true;
    return status;
  }

  // Acknowledges a broker-initiated channel close and opens the channel again. Returns the
  // reopen's outcome; the channel is unusable when it fails.
  absl::Status ReopenChannel(amqp_channel_t channel) {
    amqp_channel_close_ok_t ok{};
    if (amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
      broken = true;
      return absl::UnavailableError("lost connection while closing channel");
    }
    amqp_maybe_release_buffers_on_channel(conn, channel);
    pending[channel].active = false;
    // The broker requeued the closed channel's unacknowledged deliveries.
    if (channel == kConsumeChannel) ack_upto = 0;
    return OpenChannel(channel);
  }

  // After a synchronous method failed: reopen the channel when the broker only closed the
  // channel, mark the connection broken otherwise.
  absl::Status AfterRpcFailure(const amqp_rpc_reply_t& reply, amqp_channel_t channel,
                               absl::Status status) {
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      CELLGW_RETURN_IF_ERROR(ReopenChannel(channel));
      return status;
    }
    broken = true;
    if (!absl::IsUnavailable(status)) return absl::UnavailableError(status.message());
    return status;
  }

  // The outcome of the synchronous method just sent on `channel`; `what` names it.
  absl::Status RpcOutcome(amqp_channel_t channel, absl::string_view what) {
    const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
    absl::Status status = ReplyToStatus(reply, what);
    if (status.ok()) return status;
    return AfterRpcFailure(reply, channel, std::move(status));
  }

  bool HasBufferedInput() const {
    return amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn);
  }

  // ReadAvailable's steps, one frame at a time.
  absl::Status OnFrame(const amqp_frame_t& frame, AmqpTransport::Handler& handler,
                       uint64_t max_body_bytes) {
    if (frame.channel > kDeclareChannel) return absl::OkStatus();
    switch (frame.frame_type) {
      case AMQP_FRAME_METHOD:
        return OnMethod(frame.channel, frame.payload.method, handler);
      case AMQP_FRAME_HEADER:
        OnHeader(frame.channel, frame.payload.properties.body_size,
                 static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded),
                 handler, max_body_bytes);
        return absl::OkStatus();
      case AMQP_FRAME_BODY:
        OnBody(frame.channel, frame.payload.body_fragment, handler);
        return absl::OkStatus();
      default:
        return absl::OkStatus();  // heartbeats are handled inside rabbitmq-c
    }
  }

  absl::Status OnMethod(amqp_channel_t channel, const amqp_method_t& method,
                        AmqpTransport::Handler& handler) {
    void* decoded = method.decoded;
    switch (method.id) {
      case AMQP_BASIC_DELIVER_METHOD: {
        const auto* m = static_cast<const amqp_basic_deliver_t*>(decoded);
        InboundMessage& message = StartContent(channel, InboundMessage::Kind::kDelivery);
        message.delivery_tag = m->delivery_tag;
        message.exchange = ToString(m->exchange);
        message.routing_key = ToString(m->routing_key);
        return absl::OkStatus();
      }
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* m = static_cast<const amqp_basic_return_t*>(decoded);
        InboundMessage& message = StartContent(channel, InboundMessage::Kind::kReturn);
        message.reply_code = m->reply_code;
        message.reply_text = ToString(m->reply_text);
        message.exchange = ToString(m->exchange);
        message.routing_key = ToString(m->routing_key);
        return absl::OkStatus();
      }
      case AMQP_BASIC_ACK_METHOD: {
        const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
        handler.OnConfirm(m->delivery_tag, m->multiple, /*ack=*/true);
        return absl::OkStatus();
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
        handler.OnConfirm(m->delivery_tag, m->multiple, /*ack=*/false);
        return absl::OkStatus();
      }
      case AMQP_BASIC_CANCEL_METHOD:
        handler.OnConsumerCancelled();
        return absl::OkStatus();
      case AMQP_CHANNEL_CLOSE_METHOD:
        return OnChannelClose(channel, *static_cast<const amqp_channel_close_t*>(decoded),
                              handler);
      case AMQP_CONNECTION_CLOSE_METHOD: {
        const auto* m = static_cast<const amqp_connection_close_t*>(decoded);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        broken = true;
        return absl::UnavailableError(absl::StrCat("broker ", description,
                                                   " closed the connection: ",
                                                   ToString(m->reply_text)));
      }
      default:
        return absl::OkStatus();
    }
  }

  // A channel closed by the broker outside a synchronous method: reopen it and say what it
  // cost. Only the publishing channel can get here in practice (a publish to an exchange
  // that vanished); the consuming channel's close ends its consumer.
  absl::Status OnChannelClose(amqp_channel_t channel, const amqp_channel_close_t& close,
                              AmqpTransport::Handler& handler) {
    const absl::Status why = absl::UnavailableError(absl::StrCat(
        "broker closed channel: ", close.reply_code, " ", ToString(close.reply_text)));
    CELLGW_RETURN_IF_ERROR(ReopenChannel(channel));
    if (channel == kPublishChannel) {
      handler.OnPublishChannelReset(why);
    } else if (channel == kConsumeChannel) {
      handler.OnConsumerCancelled();
    }
    return absl::OkStatus();
  }

  InboundMessage& StartContent(amqp_channel_t channel, InboundMessage::Kind kind) {
    Pending& content = pending[channel];
    content = Pending();
    content.active = true;
    content.message.kind = kind;
    return content.message;
  }

  void OnHeader(amqp_channel_t channel, uint64_t body_size,
                const amqp_basic_properties_t* props, AmqpTransport::Handler& handler,
                uint64_t max_body_bytes) {
    Pending& content = pending[channel];
    if (!content.active) return;
    InboundMessage& message = content.message;
    message.body_size = body_size;
    if (props != nullptr && (props->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)) {
      message.content_type = ToString(props->content_type);
    }
    if (message.body_size > max_body_bytes) {
      message.oversized = true;
    } else {
      message.body.reserve(message.body_size);
    }
    if (message.body_size == 0) FinishContent(channel, handler);
  }

  void OnBody(amqp_channel_t channel, amqp_bytes_t fragment, AmqpTransport::Handler& handler) {
    Pending& content = pending[channel];
    if (!content.active) return;
    content.received += fragment.len;
    if (!content.message.oversized) {
      content.message.body.append(static_cast<const char*>(fragment.bytes), fragment.len);
    }
    if (content.received >= content.message.body_size) FinishContent(channel, handler);
  }

  void FinishContent(amqp_channel_t channel, AmqpTransport::Handler& handler) {
    Pending& content = pending[channel];
    content.active = false;
    if (channel == kConsumeChannel) ack_upto = content.message.delivery_tag;
    handler.OnMessage(std::move(content.message));
  }

  // One acknowledgement for everything received in this pass.
  absl::Status AckReceived() {
    if (ack_upto == 0) return absl::OkStatus();
    const int rc = amqp_basic_ack(conn, kConsumeChannel, ack_upto, /*multiple=*/1);
    ack_upto = 0;
    if (rc != AMQP_STATUS_OK) return Lost(rc);
    return absl::OkStatus();
  }
};

AmqpConnection::AmqpConnection(std::unique_ptr<State> state) : state_(std::move(state)) {}
AmqpConnection::~AmqpConnection() = default;

AmqpConnector AmqpConnection::Connector() {
  return [](const AmqpEndpoint& endpoint) -> absl::StatusOr<std::unique_ptr<AmqpTransport>> {
    absl::StatusOr<std::unique_ptr<AmqpConnection>> conn = Open(endpoint);
    if (!conn.ok()) return conn.status();
    return std::unique_ptr<AmqpTransport>(*std::move(conn));
  };
}

absl::StatusOr<std::unique_ptr<AmqpConnection>> AmqpConnection::Open(
    const AmqpEndpoint& endpoint) {
  auto state = std::make_unique<State>();
  state->description = absl::StrCat(endpoint.host, ":", endpoint.port);
  state->conn = amqp_new_connection();
  if (state->conn == nullptr) return absl::ResourceExhaustedError("amqp_new_connection failed");
  amqp_socket_t* socket = nullptr;
  if (endpoint.tls.enabled) {
    absl::StatusOr<amqp_socket_t*> tls_socket = NewTlsSocket(state->conn, endpoint.tls);
    if (!tls_socket.ok()) {
      state->broken = true;  // nothing to close cleanly yet
      return absl::Status(tls_socket.status().code(),
                          absl::StrCat(state->description, ": ", tls_socket.status().message()));
    }
    socket = *tls_socket;
  } else {
    socket = amqp_tcp_socket_new(state->conn);
    if (socket == nullptr) return absl::ResourceExhaustedError("amqp_tcp_socket_new failed");
  }
  const timeval io_timeout = absl::ToTimeval(endpoint.io_timeout);
  amqp_set_handshake_timeout(state->conn, &io_timeout);
  amqp_set_rpc_timeout(state->conn, &io_timeout);

  int rc = amqp_socket_open_noblock(socket, endpoint.host.c_str(), endpoint.port, &io_timeout);
  if (rc != AMQP_STATUS_OK) {
    state->broken = true;
    return absl::UnavailableError(absl::StrCat("cannot connect to ", state->description,
                                               endpoint.tls.enabled ? " over TLS" : "", ": ",
                                               amqp_error_string2(rc)));
  }
  // consumer_cancel_notify: without it the broker drops the reply consumer silently when its
  // queue is deleted (by an operator, or with the cluster node that held it), and every later
  // reply on this connection is lost. With it the broker sends basic.cancel, and
  // Handler::OnConsumerCancelled declares the queue again. rabbitmq-c merges this table into
  // its default capabilities.
  amqp_table_entry_t capabilities[1];
  capabilities[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capabilities[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capabilities[0].value.value.boolean = 1;
  amqp_table_entry_t entries[2];
  entries[0].key = amqp_cstring_bytes("capabilities");
  entries[0].value.kind = AMQP_FIELD_KIND_TABLE;
  entries[0].value.value.table.num_entries = 1;
  entries[0].value.value.table.entries = capabilities;
  entries[1].key = amqp_cstring_bytes("connection_name");
  entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
  entries[1].value.value.bytes = Bytes(endpoint.connection_name);
  amqp_table_t properties;
  properties.num_entries = endpoint.connection_name.empty() ? 1 : 2;
  properties.entries = entries;
  const int heartbeat = static_cast<int>(absl::ToInt64Seconds(endpoint.heartbeat));
  amqp_rpc_reply_t reply = amqp_login_with_properties(
      state->conn, endpoint.virtual_host.c_str(), /*channel_max=*/0, kFrameMax, heartbeat,
      &properties, AMQP_SASL_METHOD_PLAIN, endpoint.username.c_str(),
      endpoint.password.c_str());
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    state->broken = true;
    absl::Status status = ReplyToStatus(reply, "login");
    return absl::UnavailableError(absl::StrCat("cannot log in to ", state->description,
                                               " vhost '", endpoint.virtual_host, "' as '",
                                               endpoint.username, "': ", status.message()));
  }
  state->publisher_confirms = endpoint.publisher_confirms;
  for (amqp_channel_t channel : kChannels) {
    absl::Status status = state->OpenChannel(channel);
    if (!status.ok()) return absl::UnavailableError(status.message());
  }
  return std::unique_ptr<AmqpConnection>(new AmqpConnection(std::move(state)));
}

absl::Status AmqpConnection::DeclareExchange(const ExchangeSpec& spec, bool passive) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_exchange_declare(state_->conn, kDeclareChannel, Bytes(spec.name), Bytes(spec.type),
                        passive, spec.durable, spec.auto_delete, /*internal=*/0,
                        amqp_empty_table);
  return state_->RpcOutcome(kDeclareChannel,
                            absl::StrCat("declaring exchange '", spec.name, "'"));
}

absl::Status AmqpConnection::DeclareQueue(const QueueSpec& spec, bool passive) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_table_entry_t entries[1];
  amqp_table_t arguments = amqp_empty_table;
  if (spec.expires_ms > 0 && !passive) {
    entries[0].key = amqp_cstring_bytes("x-expires");
    entries[0].value.kind = AMQP_FIELD_KIND_I32;
    entries[0].value.value.i32 = spec.expires_ms;
    arguments.num_entries = 1;
    arguments.entries = entries;
  }
  amqp_queue_declare(state_->conn, kConsumeChannel, Bytes(spec.name), passive, spec.durable,
                     spec.exclusive, spec.auto_delete, arguments);
  return state_->RpcOutcome(kConsumeChannel, absl::StrCat("declaring queue '", spec.name, "'"));
}

absl::Status AmqpConnection::Consume(absl::string_view queue) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_basic_consume(state_->conn, kConsumeChannel, Bytes(queue), amqp_empty_bytes,
                     /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  return state_->RpcOutcome(kConsumeChannel, absl::StrCat("consuming '", queue, "'"));
}

absl::StatusOr<uint64_t> AmqpConnection::Publish(const PublishSpec& spec) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
                 AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_PRIORITY_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.content_encoding = amqp_cstring_bytes("utf-8");
  props.headers = amqp_empty_table;
  props.delivery_mode = 2;
  props.priority = 0;
  if (!spec.expiration.empty()) {
    props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    props.expiration = Bytes(spec.expiration);
  }
  const int rc = amqp_basic_publish(state_->conn, kPublishChannel, Bytes(spec.exchange),
                                    Bytes(spec.routing_key), spec.mandatory,
                                    /*immediate=*/0, &props, Bytes(spec.body));
  if (rc != AMQP_STATUS_OK) {
    state_->broken = true;
    return absl::UnavailableError(absl::StrCat("publish to ", state_->description,
                                               " failed: ", amqp_error_string2(rc)));
  }
  return state_->next_seq++;
}

absl::Status AmqpConnection::ReadAvailable(Handler& handler, uint64_t max_body_bytes) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  const timeval no_wait{0, 0};
  for (;;) {
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(state_->conn, &frame, &no_wait);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (rc != AMQP_STATUS_OK) return state_->Lost(rc);
    CELLGW_RETURN_IF_ERROR(state_->OnFrame(frame, handler, max_body_bytes));
    if (state_->broken) return absl::UnavailableError("connection lost");
    // Everything read so far is dispatched: stop rather than ask the socket again, which
    // would cost a recv() failing with EAGAIN and a poll(0) on every wake-up. The caller
    // polls the socket next, and heartbeats were serviced by the call above.
    if (!state_->HasBufferedInput()) break;
  }
  CELLGW_RETURN_IF_ERROR(state_->AckReceived());
  amqp_maybe_release_buffers(state_->conn);
  return absl::OkStatus();
}

bool AmqpConnection::HasBufferedInput() const {
  if (state_->broken) return false;
  return state_->HasBufferedInput();
}

int AmqpConnection::fd() const {
  if (state_->broken) return -1;
  return amqp_get_sockfd(state_->conn);
}

int AmqpConnection::negotiated_heartbeat_seconds() const {
  return amqp_get_heartbeat(state_->conn);
}

}  // namespace cellgw::bridge

// ---------------------------------------------------------------------------------------------
// Own channels (ConsumerConnection). Kept apart from the fixed-channel code above.

namespace cellgw::bridge {

struct AmqpConnection::OwnChannels {
  std::set<uint16_t> open;
  // Content being assembled per own channel: basic.deliver, then a header frame, then body
  // frames, all on the same channel.
  struct Assembly {
    ChannelDelivery delivery;
    uint64_t received = 0;
  };
  std::map<uint16_t, Assembly> assembling;

  void Forget(uint16_t channel) {
    open.erase(channel);
    assembling.erase(channel);
  }
};

AmqpConnection::OwnChannels& AmqpConnection::own() {
  if (own_ == nullptr) own_ = std::make_shared<OwnChannels>();
  return *own_;
}

absl::Status AmqpConnection::OwnRpcOutcome(uint16_t channel, absl::string_view what) {
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_->conn);
  absl::Status status = ReplyToStatus(reply, what);
  if (status.ok()) return status;
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
      reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    // The broker closed only this channel: confirm the close and free its number.
    amqp_channel_close_ok_t ok{};
    if (amqp_send_method(state_->conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
        AMQP_STATUS_OK) {
      state_->broken = true;
      return absl::UnavailableError(absl::StrCat(what, ": connection lost"));
    }
    own().Forget(channel);
    amqp_maybe_release_buffers_on_channel(state_->conn, channel);
    return status;
  }
  state_->broken = true;
  if (!absl::IsUnavailable(status)) return absl::UnavailableError(status.message());
  return status;
}

absl::StatusOr<uint16_t> AmqpConnection::OpenOwnChannel() {
  if (state_->broken) return absl::UnavailableError("connection lost");
  const int negotiated = amqp_get_channel_max(state_->conn);
  const int channel_max = negotiated > 0 ? negotiated : 65535;
  OwnChannels& own_channels = own();
  int channel = kFirstOwnChannel;
  while (channel <= channel_max && own_channels.open.count(channel) > 0) ++channel;
  if (channel > channel_max) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", channel_max - kFirstOwnChannel + 1, " channels of the connection to ",
        state_->description, " are in use"));
  }
  amqp_channel_open(state_->conn, static_cast<amqp_channel_t>(channel));
  CELLGW_RETURN_IF_ERROR(OwnRpcOutcome(channel, "channel.open"));
  own_channels.open.insert(channel);
  return static_cast<uint16_t>(channel);
}

absl::Status AmqpConnection::CloseOwnChannel(uint16_t channel) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  if (own().open.count(channel) == 0) return absl::OkStatus();
  const amqp_rpc_reply_t reply = amqp_channel_close(state_->conn, channel, AMQP_REPLY_SUCCESS);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ||
      reply.reply_type == AMQP_RESPONSE_NONE) {
    state_->broken = true;
    return ReplyToStatus(reply, "channel.close");
  }
  // Closed either way: by our close-ok, or by the broker closing it at the same moment.
  own().Forget(channel);
  amqp_maybe_release_buffers_on_channel(state_->conn, channel);
  return absl::OkStatus();
}

absl::Status AmqpConnection::SetPrefetch(uint16_t channel, uint16_t prefetch_count,
                                         bool per_channel) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_basic_qos(state_->conn, channel, /*prefetch_size=*/0, prefetch_count, per_channel);
  return OwnRpcOutcome(channel, "basic.qos");
}

absl::Status AmqpConnection::DeclareExchangeOn(uint16_t channel, const ExchangeSpec& spec,
                                               bool passive) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_exchange_declare(state_->conn, channel, Bytes(spec.name), Bytes(spec.type), passive,
                        spec.durable, spec.auto_delete, /*internal=*/0, amqp_empty_table);
  return OwnRpcOutcome(channel, absl::StrCat("declaring exchange '", spec.name, "'"));
}

absl::Status AmqpConnection::DeclareQueueOn(uint16_t channel, const QueueSpec& spec,
                                            bool quorum) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_table_entry_t entries[2];
  int count = 0;
  if (spec.expires_ms > 0) {
    entries[count].key = amqp_cstring_bytes("x-expires");
    entries[count].value.kind = AMQP_FIELD_KIND_I32;
    entries[count].value.value.i32 = spec.expires_ms;
    ++count;
  }
  if (quorum) {
    entries[count].key = amqp_cstring_bytes("x-queue-type");
    entries[count].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[count].value.value.bytes = amqp_cstring_bytes("quorum");
    ++count;
  }
  amqp_table_t arguments = amqp_empty_table;
  arguments.num_entries = count;
  arguments.entries = count > 0 ? entries : nullptr;
  amqp_queue_declare(state_->conn, channel, Bytes(spec.name), /*passive=*/0, spec.durable,
                     spec.exclusive, spec.auto_delete, arguments);
  return OwnRpcOutcome(channel, absl::StrCat("declaring queue '", spec.name, "'"));
}

absl::Status AmqpConnection::BindQueue(uint16_t channel, absl::string_view queue,
                                       absl::string_view exchange,
                                       absl::string_view routing_key) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_queue_bind(state_->conn, channel, Bytes(queue), Bytes(exchange), Bytes(routing_key),
                  amqp_empty_table);
  return OwnRpcOutcome(channel, absl::StrCat("binding queue '", queue, "' to exchange '",
                                             exchange, "' with key '", routing_key, "'"));
}

absl::Status AmqpConnection::DeleteQueueOn(uint16_t channel, absl::string_view queue) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_queue_delete(state_->conn, channel, Bytes(queue), /*if_unused=*/0, /*if_empty=*/0);
  return OwnRpcOutcome(channel, absl::StrCat("deleting queue '", queue, "'"));
}

absl::Status AmqpConnection::ConsumeOn(uint16_t channel, absl::string_view queue) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_basic_consume(state_->conn, channel, Bytes(queue), amqp_empty_bytes, /*no_local=*/0,
                     /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  return OwnRpcOutcome(channel, absl::StrCat("consuming '", queue, "'"));
}

absl::Status AmqpConnection::Ack(uint16_t channel, uint64_t delivery_tag) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  // A method on a channel that is not open is a connection error for the broker.
  if (own().open.count(channel) == 0) {
    return absl::FailedPreconditionError(absl::StrCat("channel ", channel, " is not open"));
  }
  const int rc = amqp_basic_ack(state_->conn, channel, delivery_tag, /*multiple=*/0);
  if (rc != AMQP_STATUS_OK) {
    state_->broken = true;
    return absl::UnavailableError(absl::StrCat("connection to ", state_->description,
                                               " lost: ", amqp_error_string2(rc)));
  }
  return absl::OkStatus();
}

absl::Status AmqpConnection::Reject(uint16_t channel, uint64_t delivery_tag, bool requeue) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  if (own().open.count(channel) == 0) {
    return absl::FailedPreconditionError(absl::StrCat("channel ", channel, " is not open"));
  }
  const int rc = amqp_basic_reject(state_->conn, channel, delivery_tag, requeue);
  if (rc != AMQP_STATUS_OK) {
    state_->broken = true;
    return absl::UnavailableError(absl::StrCat("connection to ", state_->description,
                                               " lost: ", amqp_error_string2(rc)));
  }
  return absl::OkStatus();
}

absl::Status AmqpConnection::ReadChannels(ChannelHandler& handler, uint64_t max_body_bytes) {
  if (state_->broken) return absl::UnavailableError("connection lost");
  amqp_connection_state_t conn = state_->conn;
  OwnChannels& own_channels = own();
  const timeval no_wait{0, 0};
  for (;;) {
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &no_wait);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (rc != AMQP_STATUS_OK) {
      state_->broken = true;
      return absl::UnavailableError(absl::StrCat("connection to ", state_->description,
                                                 " lost: ", amqp_error_string2(rc)));
    }
    const amqp_channel_t channel = frame.channel;
    const bool own_channel = channel >= kFirstOwnChannel;
    // Frames queued for an own channel that has since been closed belong to nobody.
    if (own_channel && own_channels.open.count(channel) == 0) continue;
    if (frame.frame_type == AMQP_FRAME_METHOD) {
      const amqp_method_number_t id = frame.payload.method.id;
      const void* decoded = frame.payload.method.decoded;
      if (id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(decoded);
        const std::string text = ToString(m->reply_text);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        state_->broken = true;
        return absl::UnavailableError(
            absl::StrCat("broker ", state_->description, " closed the connection: ", text));
      }
      if (id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(decoded);
        const absl::Status why = absl::UnavailableError(absl::StrCat(
            "broker closed channel ", channel, ": ", m->reply_code, " ", ToString(m->reply_text)));
        if (own_channel) {
          amqp_channel_close_ok_t ok{};
          if (amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
              AMQP_STATUS_OK) {
            state_->broken = true;
            return absl::UnavailableError("lost connection while closing a channel");
          }
          own_channels.Forget(channel);
          amqp_maybe_release_buffers_on_channel(conn, channel);
          handler.OnChannelClosed(channel, why);
        } else {
          CELLGW_RETURN_IF_ERROR(state_->ReopenChannel(channel));
          if (channel == kPublishChannel) {
            state_->next_seq = 1;
            handler.OnPublishChannelReset(why);
          }
        }
      } else if (id == AMQP_BASIC_ACK_METHOD && channel == kPublishChannel) {
        const auto* m = static_cast<const amqp_basic_ack_t*>(decoded);
        handler.OnConfirm(m->delivery_tag, m->multiple, /*ack=*/true);
      } else if (id == AMQP_BASIC_NACK_METHOD && channel == kPublishChannel) {
        const auto* m = static_cast<const amqp_basic_nack_t*>(decoded);
        handler.OnConfirm(m->delivery_tag, m->multiple, /*ack=*/false);
      } else if (id == AMQP_BASIC_CANCEL_METHOD && own_channel) {
        handler.OnConsumerCancelled(channel);
      } else if (id == AMQP_BASIC_DELIVER_METHOD && own_channel) {
        const auto* m = static_cast<const amqp_basic_deliver_t*>(decoded);
        OwnChannels::Assembly& assembly = own_channels.assembling[channel];
        assembly = OwnChannels::Assembly();
        assembly.delivery.delivery_tag = m->delivery_tag;
        assembly.delivery.redelivered = m->redelivered != 0;
        assembly.delivery.exchange = ToString(m->exchange);
        assembly.delivery.routing_key = ToString(m->routing_key);
      }
    } else if ((frame.frame_type == AMQP_FRAME_HEADER || frame.frame_type == AMQP_FRAME_BODY) &&
               own_channel) {
      auto it = own_channels.assembling.find(channel);
      if (it != own_channels.assembling.end()) {
        ChannelDelivery& delivery = it->second.delivery;
        if (frame.frame_type == AMQP_FRAME_HEADER) {
          delivery.body_size = frame.payload.properties.body_size;
          const auto* props =
              static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded);
          if (props != nullptr && (props->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)) {
            delivery.content_type = ToString(props->content_type);
          }
          if (props != nullptr && (props->_flags & AMQP_BASIC_EXPIRATION_FLAG)) {
            delivery.expiration = ToString(props->expiration);
          }
          delivery.oversized = delivery.body_size > max_body_bytes;
          if (!delivery.oversized) delivery.body.reserve(delivery.body_size);
        } else {
          const amqp_bytes_t fragment = frame.payload.body_fragment;
          it->second.received += fragment.len;
          if (!delivery.oversized) {
            delivery.body.append(static_cast<const char*>(fragment.bytes), fragment.len);
          }
        }
        if (it->second.received >= delivery.body_size) {
          ChannelDelivery complete = std::move(delivery);
          own_channels.assembling.erase(it);
          handler.OnDelivery(channel, std::move(complete));
        }
      }
    }
    if (state_->broken) return absl::UnavailableError("connection lost");
    if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) break;
  }
  amqp_maybe_release_buffers(conn);
  return absl::OkStatus();
}

}  // namespace cellgw::bridge
