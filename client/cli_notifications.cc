#include "client/cli_notifications.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"

namespace cellgw::client {
namespace {

// Appends `text` as a JSON string literal; UTF-8 passes through, control characters escaped.
void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (byte < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\u00");
      out->push_back(kHex[byte >> 4]);
      out->push_back(kHex[byte & 0xf]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// The write end of the pipe a signal handler pokes; -1 while no subscription runs.
std::atomic<int> interrupt_fd{-1};

void OnInterrupt(int) {
  const int fd = interrupt_fd.load();
  const char byte = 1;
  if (fd >= 0) (void)!write(fd, &byte, 1);
}

// Cancels `context` when SIGINT or SIGTERM arrives, for as long as it lives.
class InterruptWatch {
 public:
  explicit InterruptWatch(grpc::ClientContext* context) {
    if (pipe2(pipe_, O_CLOEXEC) != 0) return;
    interrupt_fd.store(pipe_[1]);
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
    thread_ = std::thread([this, context] {
      pollfd fd{pipe_[0], POLLIN, 0};
      while (poll(&fd, 1, -1) < 0) {
      }
      char byte = 0;
      (void)!read(pipe_[0], &byte, 1);
      if (byte == 1) {
        interrupted_.store(true);
        context->TryCancel();
      }
    });
  }

  ~InterruptWatch() {
    if (!thread_.joinable()) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    interrupt_fd.store(-1);
    const char stop = 0;  // wakes the thread without meaning a signal (unless one came first)
    (void)!write(pipe_[1], &stop, 1);
    thread_.join();
    close(pipe_[0]);
    close(pipe_[1]);
  }

  bool interrupted() const { return interrupted_.load(); }

 private:
  int pipe_[2] = {-1, -1};
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

}  // namespace

int RunNotify(CellgwClient& client, const NotifyCommand& command, std::FILE* out,
              std::FILE* err) {
  v1::NotifyRequest request;
  request.set_cell(command.cell);
  request.set_exchange(command.exchange);
  request.set_topic(command.topic);
  request.set_publisher_id(command.publisher_id);
  request.set_event_type(command.event_type);
  request.set_priority(command.priority);
  request.set_payload_json(command.payload_json);
  request.set_context_json(command.context_json);
  v1::NotifyResponse response;
  const grpc::Status status =
      client.Notify(request, &response, command.deadline, command.request_id);
  if (!status.ok()) {
    std::fprintf(err, "cellgw-cli: %s", DescribeError(status).c_str());
    return 1;
  }
  std::string line = "{\"message_id\": ";
  AppendJsonString(response.message_id(), &line);
  line.append("}\n");
  std::fputs(line.c_str(), out);
  std::fflush(out);
  return 0;
}

std::string NotificationJsonLine(const v1::Notification& notification) {
  std::string line = "{\"message_id\": ";
  AppendJsonString(notification.message_id(), &line);
  line.append(", \"publisher_id\": ");
  AppendJsonString(notification.publisher_id(), &line);
  line.append(", \"event_type\": ");
  AppendJsonString(notification.event_type(), &line);
  line.append(", \"priority\": ");
  AppendJsonString(notification.priority(), &line);
  // Already JSON: spliced as the publisher wrote it.
  absl::StrAppend(&line, ", \"payload\": ", notification.payload_json(),
                  ", \"context\": ", notification.context_json(), ", \"timestamp\": ");
  AppendJsonString(notification.timestamp(), &line);
  line.append(", \"topic\": ");
  AppendJsonString(notification.topic(), &line);
  line.push_back('}');
  return line;
}

int RunSubscribe(CellgwClient& client, const SubscribeCommand& command, std::FILE* out,
                 std::FILE* err) {
  v1::SubscribeRequest subscription;
  subscription.set_cell(command.cell);
  subscription.set_exchange(command.exchange);
  for (const std::string& topic : command.topics) subscription.add_topics(topic);
  for (const std::string& priority : command.priorities) subscription.add_priorities(priority);
  subscription.set_pool(command.pool);
  for (const std::string& pattern : command.event_types) subscription.add_event_types(pattern);
  subscription.set_max_unacked(command.max_unacked);
  subscription.set_auto_ack(command.auto_ack);

  grpc::ClientContext context;
  InterruptWatch watch(&context);
  auto stream = client.Subscribe(&context, subscription, command.request_id);
  // The gateway sends its headers once the subscription's queues are consumed (or with the
  // status when it refuses the subscription).
  stream->WaitForInitialMetadata();
  if (context.GetServerInitialMetadata().count("x-cellgw-subscription") > 0) {
    std::fputs("cellgw-cli: subscribed\n", err);
  }
  int64_t printed = 0;
  v1::Notification notification;
  while ((command.count == 0 || printed < command.count) && stream->Read(&notification)) {
    const std::string line = NotificationJsonLine(notification) + "\n";
    std::fputs(line.c_str(), out);
    std::fflush(out);
    ++printed;
    if (!command.auto_ack) {
      v1::SubscribeRequest ack;
      ack.add_ack_ids(notification.ack_id());
      if (!stream->Write(ack)) break;
    }
  }
  if (command.count > 0 && printed >= command.count) {
    // A graceful end: the gateway applies the acknowledgements, then finishes with OK. What
    // it sent meanwhile is not printed and, unacknowledged, goes back to the queue.
    stream->WritesDone();
    while (stream->Read(&notification)) {
    }
  }
  const grpc::Status status = stream->Finish();
  if (watch.interrupted() || status.ok()) return 0;
  std::fprintf(err, "cellgw-cli: %s", DescribeError(status).c_str());
  return 1;
}

}  // namespace cellgw::client
