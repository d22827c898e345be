#include "tests/resilience/resilience_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

constexpr absl::Duration kReadyTimeout = absl::Seconds(60);

std::chrono::system_clock::time_point ToChrono(absl::Time t) { return absl::ToChronoTime(t); }

Outcome FromStatus(const grpc::Status& status, absl::Time start) {
  Outcome outcome;
  outcome.code = status.error_code();
  outcome.message = status.error_message();
  outcome.ended = absl::Now();
  outcome.elapsed = outcome.ended - start;
  return outcome;
}

v1::CallRequest MakeCall(const v1::Target& target, const std::string& method,
                         const std::string& args_json, absl::Duration timeout,
                         const std::string& context_json = "") {
  v1::CallRequest request;
  *request.mutable_target() = target;
  request.set_method(method);
  request.set_args_json(args_json);
  request.set_context_json(context_json);
  const int64_t nanos = absl::ToInt64Nanoseconds(timeout);
  request.mutable_timeout()->set_seconds(nanos / 1000000000);
  request.mutable_timeout()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return request;
}

}  // namespace

HealthWatcher::HealthWatcher(const std::string& address, const std::string& service)
    : stub_(grpc::health::v1::Health::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
      service_(service) {
  reader_ = std::thread([this] { Read(); });
}

HealthWatcher::~HealthWatcher() {
  context_.TryCancel();
  reader_.join();
}

void HealthWatcher::Read() {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service_);
  std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> reader =
      stub_->Watch(&context_, request);
  grpc::health::v1::HealthCheckResponse response;
  while (reader->Read(&response)) {
    absl::MutexLock lock(&mu_);
    updates_.push_back(
        {absl::Now(), response.status() == grpc::health::v1::HealthCheckResponse::SERVING});
  }
  reader->Finish().IgnoreError();
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

absl::StatusOr<absl::Time> HealthWatcher::WaitFor(bool serving, absl::Time since,
                                                  absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  size_t checked = 0;
  std::optional<absl::Time> found;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (; checked < updates_.size(); ++checked) {
      const Update& update = updates_[checked];
      if (update.at >= since && update.serving == serving) {
        found = update.at;
        return true;
      }
    }
    return ended_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (found.has_value()) return *found;
  if (ended_) return absl::UnavailableError(absl::StrCat("health watch of ", service_, " ended"));
  return absl::DeadlineExceededError(absl::StrCat("health of ", service_, " did not become ",
                                                  serving ? "SERVING" : "NOT_SERVING", " within ",
                                                  absl::FormatDuration(timeout)));
}

double MetricValue(const std::string& scrape, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(scrape, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == absl::string_view::npos || line.substr(0, name_end) != name) continue;
    absl::string_view label_text;
    absl::string_view rest = line.substr(name_end);
    if (rest[0] == '{') {
      const size_t close = rest.find('}');
      if (close == absl::string_view::npos) continue;
      label_text = rest.substr(1, close - 1);
      rest = rest.substr(close + 1);
    }
    bool matches = true;
    for (const auto& [key, value] : labels) {
      if (!absl::StrContains(label_text, absl::StrCat(key, "=\"", value, "\""))) matches = false;
    }
    if (!matches) continue;
    double value = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(rest), &value)) sum += value;
  }
  return sum;
}

ProcessMemory ReadProcessMemory() {
  ProcessMemory memory;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    int64_t* field = nullptr;
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) field = &memory.rss_kib;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) field = &memory.peak_kib;
    if (field == nullptr) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), field);
  }
  return memory;
}

Outcome TimedCall(client::CellgwClient& client, const v1::Target& target, const std::string& method,
                  const std::string& args_json, absl::Duration timeout) {
  const v1::CallRequest request = MakeCall(target, method, args_json, timeout);
  v1::CallResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = client.Call(request, &response, start + timeout + kGrpcMargin);
  Outcome outcome = FromStatus(status, start);
  outcome.result_json = response.result_json();
  return outcome;
}

Outcome TimedCast(client::CellgwClient& client, const v1::Target& target, const std::string& method,
                  const std::string& args_json, absl::Duration deadline) {
  v1::CastRequest request;
  *request.mutable_target() = target;
  request.set_method(method);
  request.set_args_json(args_json);
  v1::CastResponse response;
  const absl::Time start = absl::Now();
  return FromStatus(client.Cast(request, &response, start + deadline), start);
}

AsyncCalls::~AsyncCalls() { Wait().IgnoreError(); }

void AsyncCalls::Start(const v1::Target& target, const std::string& method,
                       const std::string& args_json, absl::Duration timeout,
                       const std::string& context_json) {
  struct State {
    grpc::ClientContext context;
    v1::CallRequest request;
    v1::CallResponse response;
    absl::Time start;
  };
  auto state = std::make_shared<State>();
  state->request = MakeCall(target, method, args_json, timeout, context_json);
  state->start = absl::Now();
  state->context.set_deadline(ToChrono(state->start + timeout + kGrpcMargin));
  {
    absl::MutexLock lock(&mu_);
    ++running_;
  }
  client_->stub().async()->Call(&state->context, &state->request, &state->response,
                                [this, state](grpc::Status status) {
                                  Outcome outcome = FromStatus(status, state->start);
                                  outcome.result_json = state->response.result_json();
                                  absl::MutexLock lock(&mu_);
                                  outcomes_.push_back(std::move(outcome));
                                  --running_;
                                });
}

absl::StatusOr<std::vector<Outcome>> AsyncCalls::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&idle), timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat(running_, " calls still running after ", absl::FormatDuration(timeout)));
  }
  return outcomes_;
}

TrafficDriver::TrafficDriver(client::CellgwClient* client, TrafficOptions options)
    : client_(client), options_(std::move(options)) {}

TrafficDriver::~TrafficDriver() { Stop().IgnoreError(); }

void TrafficDriver::Start() {
  pacer_ = std::thread([this] { Pace(); });
}

void TrafficDriver::Pace() {
  absl::Time next = absl::Now();
  for (int seq = 0;; seq += 2) {
    Send(/*is_call=*/false, seq);
    Send(/*is_call=*/true, seq + 1);
    next += options_.interval;
    absl::MutexLock lock(&mu_);
    // Pacing, not synchronisation: wakes early only to stop.
    if (mu_.AwaitWithDeadline(absl::Condition(&stopping_), next)) return;
  }
}

void TrafficDriver::Send(bool is_call, int seq) {
  struct State {
    grpc::ClientContext context;
    v1::CallRequest call;
    v1::CallResponse call_response;
    v1::CastRequest cast;
    v1::CastResponse cast_response;
    TrafficRecord record;
  };
  auto state = std::make_shared<State>();
  state->record.is_call = is_call;
  state->record.seq = seq;
  state->record.start = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    ++sent_;
    ++running_;
  }
  const std::string args = MarkedArgs(options_.marker, seq);
  if (is_call) {
    state->call = MakeCall(options_.target, "echo", args, options_.call_timeout);
    state->context.set_deadline(
        ToChrono(state->record.start + options_.call_timeout + kGrpcMargin));
    client_->stub().async()->Call(&state->context, &state->call, &state->call_response,
                                  [this, state](grpc::Status status) {
                                    state->record.outcome = FromStatus(status, state->record.start);
                                    Finish(std::move(state->record));
                                  });
  } else {
    *state->cast.mutable_target() = options_.target;
    state->cast.set_method("note");
    state->cast.set_args_json(args);
    state->context.set_deadline(ToChrono(state->record.start + options_.cast_deadline));
    client_->stub().async()->Cast(&state->context, &state->cast, &state->cast_response,
                                  [this, state](grpc::Status status) {
                                    state->record.outcome = FromStatus(status, state->record.start);
                                    Finish(std::move(state->record));
                                  });
  }
}

void TrafficDriver::Finish(TrafficRecord record) {
  absl::MutexLock lock(&mu_);
  if (record.is_call && record.outcome.code == grpc::StatusCode::OK) ++ok_calls_;
  records_.push_back(std::move(record));
  --running_;
}

absl::Status TrafficDriver::Stop(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (pacer_.joinable()) pacer_.join();
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&idle), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        running_, " requests still running ", absl::FormatDuration(timeout), " after Stop()"));
  }
  return absl::OkStatus();
}

absl::Status TrafficDriver::WaitForOkCalls(int count, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ok_calls_ >= count; };
  if (mu_.AwaitWithTimeout(absl::Condition(&enough), timeout)) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("only ", ok_calls_, " of ", count,
                                                  " calls succeeded within ",
                                                  absl::FormatDuration(timeout)));
}

absl::StatusOr<absl::Time> TrafficDriver::WaitForCallOkSentAfter(absl::Time sent_after,
                                                                 absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  size_t checked = 0;
  std::optional<absl::Time> found;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (; checked < records_.size(); ++checked) {
      const TrafficRecord& r = records_[checked];
      if (r.is_call && r.start >= sent_after && r.outcome.code == grpc::StatusCode::OK) {
        found = r.start + r.outcome.elapsed;
        return true;
      }
    }
    return false;
  };
  if (mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) return *found;
  return absl::DeadlineExceededError(
      absl::StrCat("no call sent after the mark succeeded within ", absl::FormatDuration(timeout)));
}

std::vector<TrafficRecord> TrafficDriver::Records() {
  absl::MutexLock lock(&mu_);
  return records_;
}

int TrafficDriver::sent() {
  absl::MutexLock lock(&mu_);
  return sent_;
}

std::string MarkedArgs(const std::string& marker, int seq) {
  return absl::StrCat(R"({"marker": ")", marker, R"(", "seq": )", seq, "}");
}

namespace {

// The seq of a cast line carrying `marker`, or -1.
int CastSeq(const std::string& line, const std::string& marker) {
  if (!absl::StrContains(line, R"("event": "cast")") || !absl::StrContains(line, marker)) {
    return -1;
  }
  int seq = -1;
  if (!absl::SimpleAtoi(Member(Member(line, "kw"), "seq"), &seq)) return -1;
  return seq;
}

}  // namespace

std::multiset<int> CastSeqsSeen(OsloProcess& server, const std::string& marker) {
  std::multiset<int> seen;
  for (const std::string& line : server.Lines()) {
    const int seq = CastSeq(line, marker);
    if (seq >= 0) seen.insert(seq);
  }
  return seen;
}

absl::Status AwaitCasts(OsloProcess& server, const std::string& marker,
                        const std::set<int>& expected, absl::Duration timeout) {
  if (expected.empty()) return absl::OkStatus();
  // WaitForLine shows each line to the predicate once, in order, so it can tick them off.
  std::set<int> missing = expected;
  absl::StatusOr<std::string> last = server.WaitForLine(
      [&](const std::string& line) {
        missing.erase(CastSeq(line, marker));
        return missing.empty();
      },
      timeout);
  if (last.ok()) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(missing.size(), " of ", expected.size(),
                                                  " confirmed casts never reached the server, "
                                                  "e.g. seq ",
                                                  *missing.begin()));
}

absl::StatusOr<std::unique_ptr<OsloProcess>> StartOsloServer(
    const OsloServerOptions& options, const std::vector<std::string>& extra_flags) {
  if (extra_flags.empty()) return OsloProcess::StartServer(options);
  std::vector<std::string> args = {RunfilePath("tests/support/oslo_server.py"),
                                   "--url",
                                   options.url,
                                   "--topic",
                                   options.topic,
                                   "--server",
                                   options.server,
                                   "--exchange",
                                   options.exchange,
                                   "--endpoint-version",
                                   options.endpoint_version};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  CELLGW_ASSIGN_OR_RETURN(std::unique_ptr<OsloProcess> server, OsloProcess::Run(args));
  absl::StatusOr<std::string> ready = server->WaitForLine(
      [](const std::string& line) { return absl::StrContains(line, R"("event": "ready")"); },
      kReadyTimeout);
  if (!ready.ok()) {
    server->Stop().IgnoreError();
    return absl::Status(ready.status().code(), absl::StrCat("oslo_server.py did not become ready: ",
                                                            ready.status().message()));
  }
  return server;
}

absl::StatusOr<std::vector<std::string>> GatewayConnections(RabbitMqNode& node,
                                                            const std::string& vhost) {
  CELLGW_ASSIGN_OR_RETURN(std::string text, node.Ctl({"list_connections", "--no-table-headers",
                                                      "pid", "vhost", "client_properties"}));
  std::vector<std::string> pids;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits('\t', 2));
    if (fields.size() < 3 || fields[1] != vhost) continue;
    if (absl::StrContains(fields[2], R"({"connection_name","cellgw:)")) {
      pids.push_back(std::string(fields[0]));
    }
  }
  return pids;
}

absl::StatusOr<std::vector<std::string>> ReplyQueues(RabbitMqNode& node, const std::string& vhost) {
  CELLGW_ASSIGN_OR_RETURN(std::string text,
                          node.Ctl({"list_queues", "--no-table-headers", "-p", vhost, "name"}));
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "reply_")) names.push_back(std::string(line));
  }
  return names;
}

namespace {

// An AMQP 0-9-1 heartbeat frame: type 8, channel 0, empty payload, frame end.
constexpr char kHeartbeatFrame[] = {8, 0, 0, 0, 0, 0, 0, '\xCE'};
constexpr absl::Duration kZombieHeartbeatInterval = absl::Milliseconds(500);

// Writes all of `data` to a blocking socket; false when the peer is gone.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int upstream_port) {
  CELLGW_ASSIGN_OR_RETURN(auto listener, ListenOnLoopback(0));
  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    close(listener.first);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(listener.first, listener.second, upstream_port, wake[0], wake[1]));
}

TcpProxy::TcpProxy(int listener, int port, int upstream_port, int wake_read, int wake_write)
    : listener_(listener),
      port_(port),
      upstream_port_(upstream_port),
      wake_read_(wake_read),
      wake_write_(wake_write) {
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
  for (const Pair& pair : pairs_) {
    close(pair.client);
    close(pair.upstream);
  }
  close(listener_);
  close(wake_read_);
  close(wake_write_);
}

void TcpProxy::Wake() {
  const char byte = 0;
  (void)!write(wake_write_, &byte, 1);
}

int TcpProxy::Partition() {
  int count = 0;
  {
    absl::MutexLock lock(&mu_);
    for (Pair& pair : pairs_) {
      if (pair.client >= 0 && !pair.partitioned) ++count;
      pair.partitioned = true;
    }
  }
  Wake();
  return count;
}

void TcpProxy::SetZombieHeartbeats(bool on) {
  {
    absl::MutexLock lock(&mu_);
    zombie_heartbeats_ = on;
  }
  Wake();
}

void TcpProxy::Run() {
  absl::Time next_heartbeat = absl::Now();
  for (;;) {
    std::vector<pollfd> fds = {{wake_read_, POLLIN, 0}, {listener_, POLLIN, 0}};
    std::vector<std::pair<size_t, bool>> owners;  // (pair index, from client) per fd
    bool heartbeats;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      heartbeats = zombie_heartbeats_;
      for (size_t i = 0; i < pairs_.size(); ++i) {
        // A partitioned connection is not read: its bytes stay in the kernel's buffers.
        if (pairs_[i].partitioned || pairs_[i].client < 0) continue;
        fds.push_back({pairs_[i].client, POLLIN, 0});
        owners.emplace_back(i, true);
        fds.push_back({pairs_[i].upstream, POLLIN, 0});
        owners.emplace_back(i, false);
      }
    }
    const absl::Duration wait = heartbeats
                                    ? std::max(next_heartbeat - absl::Now(), absl::ZeroDuration())
                                    : absl::Seconds(1);
    const int rc =
        poll(fds.data(), fds.size(), static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1);
    if (rc < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      char buffer[64];
      while (read(wake_read_, buffer, sizeof(buffer)) > 0) {
      }
    }
    if (heartbeats && absl::Now() >= next_heartbeat) {
      absl::MutexLock lock(&mu_);
      for (const Pair& pair : pairs_) {
        if (pair.partitioned && pair.upstream >= 0) {
          (void)!send(pair.upstream, kHeartbeatFrame, sizeof(kHeartbeatFrame),
                      MSG_NOSIGNAL | MSG_DONTWAIT);
        }
      }
      next_heartbeat = absl::Now() + kZombieHeartbeatInterval;
    }
    if (fds[1].revents & POLLIN) {
      const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(upstream_port_));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (upstream >= 0 &&
            connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
          absl::MutexLock lock(&mu_);
          pairs_.push_back({client, upstream, false});
        } else {
          close(client);
          if (upstream >= 0) close(upstream);
        }
      }
    }
    for (size_t k = 2; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const auto [index, from_client] = owners[k - 2];
      Pair pair;
      {
        absl::MutexLock lock(&mu_);
        pair = pairs_[index];
      }
      if (pair.client < 0 || pair.partitioned) continue;
      char buffer[65536];
      const int from = from_client ? pair.client : pair.upstream;
      const int to = from_client ? pair.upstream : pair.client;
      const ssize_t n = recv(from, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0 || !WriteAll(to, buffer, static_cast<size_t>(n))) {
        // One side closed: close both, as a plain TCP path would.
        absl::MutexLock lock(&mu_);
        close(pairs_[index].client);
        close(pairs_[index].upstream);
        pairs_[index].client = -1;
        pairs_[index].upstream = -1;
      }
    }
  }
}

int CountCode(const std::vector<Outcome>& outcomes, grpc::StatusCode code) {
  int n = 0;
  for (const Outcome& o : outcomes) n += o.code == code ? 1 : 0;
  return n;
}

absl::Duration MaxElapsed(const std::vector<Outcome>& outcomes) {
  absl::Duration max = absl::ZeroDuration();
  for (const Outcome& o : outcomes) max = std::max(max, o.elapsed);
  return max;
}

std::string Seconds(absl::Duration d) { return absl::StrFormat("%.3f", absl::ToDoubleSeconds(d)); }

}  // namespace cellgw::testing
