#include "gateway/rpc/serve_reactor.h"

#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/observability/json_log.h"
#include "gateway/rpc/request_id.h"
#include "gateway/rpc/serve_validator.h"
#include "gateway/rpc/status_mapper.h"

namespace cellgw::gateway {

// The stream's state shared by the gRPC threads (reads, write completions, cancellation) and
// the cell's consumer-connection thread (requests, the end). Every write-side operation
// (writes, Finish) is decided under mu_ and started outside it, one at a time, as gRPC's
// callback API requires. The reactor stays alive while Finish has not been called.
class ServeReactor::Stream : public bridge::ServeWorker {
 public:
  Stream(ServeReactor* reactor, ServeMetrics* metrics, ServeHealth* health)
      : metrics_(metrics), health_(health), reactor_(reactor) {}

  // Before the session starts: the labels of its metrics and health entry.
  void Configure(std::string cell, std::string health_name) {
    absl::MutexLock lock(&mu_);
    cell_ = std::move(cell);
    health_name_ = std::move(health_name);
  }

  void SetSession(std::shared_ptr<bridge::ServeSession> session) {
    absl::MutexLock lock(&mu_);
    session_ = std::move(session);
  }

  // bridge::ServeWorker (the consumer-connection thread)
  void OnConsuming(const std::vector<std::string>& queues, bool first) override {
    SetConsuming(true);
    if (!first) return;  // a reconnect: the worker sees nothing of it
    v1::ServeEvent event;
    for (const std::string& queue : queues) event.mutable_registered()->add_queues(queue);
    Push(std::move(event));
  }

  void OnInterrupted(const absl::Status&) override { SetConsuming(false); }

  void OnIncoming(bridge::IncomingRequest request) override {
    if (metrics_ != nullptr) metrics_->Count(cell_, ServeMetrics::Outcome::kHandedOut);
    v1::ServeEvent event;
    *event.mutable_incoming() = ToIncomingProto(std::move(request));
    Push(std::move(event));
  }

  void OnEnd(const absl::Status& status) override {
    SetConsuming(false);
    Step next;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      if (!finish_wanted_.has_value()) {
        finish_wanted_ = wanted_.has_value() ? *wanted_ : ToGrpcStatus(status);
      }
      next = PickLocked();
    }
    Perform(next);
  }

  // The gRPC side.

  void WriteDone(bool ok) {
    Step next;
    bool broken = false;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = false;
      if (ok) {
        ++written_;
      } else {
        broken = true;
      }
      next = PickLocked();
    }
    if (broken) return End(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
    Perform(next);
  }

  // Ends the stream with `status`: the session is closed first (its held calls answered), and
  // the stream finishes when the bridge confirms the end.
  void End(const grpc::Status& status) {
    Step next;
    std::shared_ptr<bridge::ServeSession> session;
    {
      absl::MutexLock lock(&mu_);
      if (!wanted_.has_value()) wanted_ = status;
      if (session_ == nullptr || ended_) {
        if (!finish_wanted_.has_value()) finish_wanted_ = *wanted_;
      } else {
        session = session_;
      }
      next = PickLocked();
    }
    if (session != nullptr) {
      const size_t abandoned = session->Close();
      if (metrics_ != nullptr && abandoned > 0) {
        metrics_->Count(cell_, ServeMetrics::Outcome::kAbandoned, abandoned);
      }
    }
    Perform(next);
  }

  absl::Status Answer(const ServeAnswer& answer) {
    std::shared_ptr<bridge::ServeSession> session;
    {
      absl::MutexLock lock(&mu_);
      ++replies_;
      session = session_;
    }
    if (session == nullptr) return absl::OkStatus();
    absl::StatusOr<bridge::ServeSession::Timing> timing =
        session->Answer(answer.id, answer.answer);
    if (timing.ok() && metrics_ != nullptr) {
      metrics_->Count(cell_, *timing == bridge::ServeSession::Timing::kAfterDeadline
                                 ? ServeMetrics::Outcome::kTimedOut
                             : answer.answer.failure.has_value() ? ServeMetrics::Outcome::kFailed
                                                                 : ServeMetrics::Outcome::kAnswered);
    }
    const absl::Status status = timing.status();
    if (absl::IsNotFound(status)) return absl::InvalidArgumentError(status.message());
    if (absl::IsFailedPrecondition(status)) return absl::OkStatus();  // ending already
    return status;
  }

  struct Summary {
    grpc::Status status;
    int64_t written, replies;
    uint64_t handed_out, casts_failed;
  };
  Summary Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    Summary summary{final_status_, written_, replies_, 0, 0};
    if (session_ != nullptr) {
      summary.handed_out = session_->handed_out();
      summary.casts_failed = session_->casts_failed();
    }
    return summary;
  }

 private:
  struct Step {
    ServeReactor* reactor = nullptr;
    const v1::ServeEvent* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  // Health: this worker counts for its entry while consuming.
  void SetConsuming(bool consuming) {
    absl::MutexLock lock(&mu_);
    if (consuming_ == consuming) return;
    consuming_ = consuming;
    if (health_ != nullptr) health_->Consuming(health_name_, consuming ? +1 : -1);
  }

  void Push(v1::ServeEvent event) {
    Step next;
    {
      absl::MutexLock lock(&mu_);
      // Not written: the session still holds it, and Close answers it.
      if (finish_wanted_.has_value() || wanted_.has_value()) return;
      queue_.push_back(std::move(event));
      next = PickLocked();
    }
    Perform(next);
  }

  Step PickLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Step step;
    step.reactor = reactor_;
    if (in_flight_ || finished_ || reactor_ == nullptr) return step;
    if (finish_wanted_.has_value()) {
      finished_ = true;
      final_status_ = *finish_wanted_;
      step.finish = final_status_;
    } else if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      in_flight_ = true;
      step.write = &current_;
    }
    return step;
  }

  void Perform(const Step& step) {
    if (step.write != nullptr) step.reactor->StartWrite(step.write);
    if (step.finish.has_value()) step.reactor->Finish(*step.finish);
  }

  ServeMetrics* const metrics_;
  ServeHealth* const health_;
  std::string cell_;  // set by Configure before the session starts, read-only afterwards

  absl::Mutex mu_;
  ServeReactor* reactor_ ABSL_GUARDED_BY(mu_);
  std::string health_name_ ABSL_GUARDED_BY(mu_);
  bool consuming_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<bridge::ServeSession> session_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // the bridge ended the session
  // At most max_in_flight Incomings (the broker's window) and the Registered event.
  std::deque<v1::ServeEvent> queue_ ABSL_GUARDED_BY(mu_);
  v1::ServeEvent current_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> wanted_ ABSL_GUARDED_BY(mu_);  // the gRPC side's reason to end
  std::optional<grpc::Status> finish_wanted_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  int64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t replies_ ABSL_GUARDED_BY(mu_) = 0;
};

ServeReactor::ServeReactor(grpc::CallbackServerContext* context, const ServeEnvironment& env)
    : context_(context),
      env_(env),
      request_id_(RequestIdOf(*context)),
      start_(absl::Now()),
      stream_(std::make_shared<Stream>(this, env.serve_metrics, env.serve_health)) {
  context_->AddInitialMetadata(std::string(kRequestIdHeader), request_id_);
  if (env_.shutting_down != nullptr && env_.shutting_down->load(std::memory_order_acquire)) {
    stream_->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "cellgw is shutting down"));
    return;
  }
  StartRead(&request_);
}

grpc::Status ServeReactor::Start() {
  absl::StatusOr<bridge::ServeRegistration> registration = ToServeRegistration(request_);
  if (!registration.ok()) return ToGrpcStatus(registration.status());
  cell_ = registration->cell.empty() && !env_.only_cell.empty() ? env_.only_cell
                                                                : registration->cell;
  topic_ = registration->topic;
  server_ = registration->server;
  if (env_.metrics != nullptr) series_ = env_.metrics->RequestStarted("serve", cell_);
  if (env_.authorizer != nullptr) {
    RequestTarget target;
    target.cell = cell_;
    target.exchange = registration->exchange;
    target.topic = registration->topic;
    target.server = registration->server;
    Authorizer::Decision decision = env_.authorizer->Check(*context_, "serve", target);
    caller_ = std::move(decision.caller);
    if (!decision.status.ok()) return decision.status;
  }
  stream_->Configure(cell_, ServeHealthName(cell_, topic_, server_));
  absl::StatusOr<std::shared_ptr<bridge::ServeSession>> session =
      env_.serve->Serve(*registration, stream_);
  if (!session.ok()) return ToGrpcStatus(session.status());
  stream_->SetSession(*session);
  if (env_.serve_metrics != nullptr) env_.serve_metrics->WorkersChanged(cell_, +1);
  if (LogEnabled(LogLevel::kInfo)) {
    Log(LogLevel::kInfo, "worker registered",
        {{"request_id", request_id_},
         {"kind", "serve"},
         {"cell", cell_},
         {"exchange", registration->exchange},
         {"topic", topic_},
         {"server", server_},
         {"queues", absl::StrJoin((*session)->queues(), ",")},
         {"max_in_flight", static_cast<int64_t>(registration->max_in_flight)},
         {"caller", caller_}});
  }
  return grpc::Status::OK;
}

void ServeReactor::OnReadDone(bool ok) {
  if (!ok) {
    if (context_->IsCancelled()) {
      return stream_->End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the worker"));
    }
    if (!registered_) {
      return stream_->End(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "the stream ended before its first message, the Registration"));
    }
    return stream_->End(grpc::Status::OK);
  }
  if (!registered_) {
    const grpc::Status status = Start();
    if (!status.ok()) return stream_->End(status);
    registered_ = true;
    return StartRead(&request_);
  }
  absl::StatusOr<ServeAnswer> answer = ToServeAnswer(request_);
  absl::Status status = answer.ok() ? stream_->Answer(*answer) : answer.status();
  if (!status.ok()) return stream_->End(ToGrpcStatus(status));
  StartRead(&request_);
}

void ServeReactor::OnWriteDone(bool ok) { stream_->WriteDone(ok); }

void ServeReactor::OnCancel() {
  stream_->End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the worker"));
}

void ServeReactor::OnDone() {
  const Stream::Summary summary = stream_->Detach();
  if (registered_ && env_.serve_metrics != nullptr) env_.serve_metrics->WorkersChanged(cell_, -1);
  const absl::Duration elapsed = absl::Now() - start_;
  const absl::string_view code = StatusCodeName(summary.status.error_code());
  if (env_.metrics != nullptr) {
    if (series_ == nullptr) series_ = env_.metrics->RequestStarted("serve", cell_);
    env_.metrics->RequestFinished(series_, code, elapsed);
  }
  if (LogEnabled(LogLevel::kInfo)) {
    Log(summary.status.ok() || summary.status.error_code() == grpc::StatusCode::CANCELLED
            ? LogLevel::kInfo
            : LogLevel::kWarning,
        "worker ended",
        {{"request_id", request_id_},
         {"kind", "serve"},
         {"cell", cell_},
         {"topic", topic_},
         {"server", server_},
         {"caller", caller_},
         {"duration_seconds", absl::ToDoubleSeconds(elapsed)},
         {"outcome", code},
         {"error", summary.status.error_message()},
         {"handed_out", static_cast<int64_t>(summary.handed_out)},
         {"replies", summary.replies},
         {"casts_failed", static_cast<int64_t>(summary.casts_failed)}});
  }
  delete this;
}

}  // namespace cellgw::gateway
