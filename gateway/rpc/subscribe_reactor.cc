#include "gateway/rpc/subscribe_reactor.h"

#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gateway/observability/json_log.h"
#include "gateway/rpc/notification_validator.h"
#include "gateway/rpc/request_id.h"
#include "gateway/rpc/status_mapper.h"

namespace cellgw::gateway {

// The stream's state shared by the gRPC threads (reads, write completions, cancellation) and
// the cell's consumer-connection thread (notifications, the end). Every operation on the
// reactor's write side (initial metadata, writes, Finish) is decided under mu_ and then
// started outside it, one at a time: gRPC's callback API does not allow them concurrently.
// The reactor stays alive while Finish has not been called, so a decision taken before
// finishing may use it.
class SubscribeReactor::Stream : public bridge::NotificationSubscriber {
 public:
  explicit Stream(SubscribeReactor* reactor) : reactor_(reactor) {}

  void Configure(bool auto_ack) {
    absl::MutexLock lock(&mu_);
    auto_ack_ = auto_ack;
  }

  void SetSubscription(std::unique_ptr<bridge::NotificationSubscription> subscription) {
    absl::MutexLock lock(&mu_);
    subscription_ = std::move(subscription);
  }

  // bridge::NotificationSubscriber (the consumer-connection thread)
  void OnNotification(bridge::DeliveredNotification notification) override {
    Step next;
    {
      absl::MutexLock lock(&mu_);
      // Not written: it stays unacknowledged and goes back to the queue with the subscription.
      if (finish_wanted_.has_value()) return;
      queue_.push_back(ToNotificationProto(std::move(notification)));
      ++delivered_;
      next = PickLocked();
    }
    Perform(next);
  }

  void OnConsuming() override {
    Step next;
    {
      absl::MutexLock lock(&mu_);
      metadata_wanted_ = true;
      next = PickLocked();
    }
    Perform(next);
  }

  void OnInterrupted(const absl::Status&) override {
    // Their ack_ids are stale now; the broker delivers them again.
    absl::MutexLock lock(&mu_);
    queue_.clear();
  }

  void OnEnd(const absl::Status& status) override {
    Step next;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      if (!finish_wanted_.has_value()) finish_wanted_ = ToGrpcStatus(status);
      next = PickLocked();
    }
    Perform(next);
  }

  // The gRPC side.

  void WriteDone(bool ok) {
    Step next;
    std::string ack_id;
    bool cancel = !ok;
    bridge::NotificationSubscription* subscription = nullptr;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = false;
      if (ok) {
        ++written_;
        if (auto_ack_) ack_id = current_.ack_id();
      } else if (!finish_wanted_.has_value()) {
        // The call is broken (the client went away): nothing more can be written.
        finish_wanted_ = grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke");
      }
      cancel = cancel || std::exchange(cancel_after_in_flight_, false);
      subscription = ended_ ? nullptr : subscription_.get();
      next = PickLocked();
    }
    if (subscription != nullptr) {
      // In this order: the consumer thread takes them in turn, and an ack after the cancel
      // would find the channel closed and the message back in the queue.
      if (!ack_id.empty()) {
        subscription->Acknowledge({ack_id}).IgnoreError();  // our own id: always well-formed
      }
      if (cancel) subscription->Cancel();
    }
    Perform(next);
  }

  void MetadataDone() {
    Step next;
    bool cancel;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = false;
      cancel = std::exchange(cancel_after_in_flight_, false);
      next = PickLocked();
    }
    if (cancel) CancelSubscription();
    Perform(next);
  }

  // Ends the stream with `status` (unless it is ending already) and the subscription with it.
  // With a write in flight the subscription ends once the write is done: with auto_ack, what
  // the client read is acknowledged first. (A client that half-closes right after reading
  // the last notification often does so before the gateway hears that the write completed.)
  void End(const grpc::Status& status) {
    Step next;
    bool cancel_now;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_wanted_.has_value()) finish_wanted_ = status;
      cancel_now = !in_flight_;
      if (!cancel_now) cancel_after_in_flight_ = true;
      next = PickLocked();
    }
    if (cancel_now) CancelSubscription();
    Perform(next);
  }

  absl::Status Acknowledge(const std::vector<absl::string_view>& ack_ids) {
    bridge::NotificationSubscription* subscription;
    {
      absl::MutexLock lock(&mu_);
      acks_received_ += ack_ids.size();
      subscription = ended_ ? nullptr : subscription_.get();
    }
    if (subscription == nullptr) return absl::OkStatus();
    return subscription->Acknowledge(ack_ids);
  }

  void CancelSubscription() {
    bridge::NotificationSubscription* subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = ended_ ? nullptr : subscription_.get();
    }
    if (subscription != nullptr) subscription->Cancel();
  }

  struct Summary {
    grpc::Status status;
    int64_t delivered, written, acks_received;
  };
  Summary Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    return Summary{final_status_, delivered_, written_, acks_received_};
  }

 private:
  // One write-side operation to start, decided under mu_.
  struct Step {
    SubscribeReactor* reactor = nullptr;
    bool metadata = false;
    const v1::Notification* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  Step PickLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Step step;
    step.reactor = reactor_;
    if (in_flight_ || finished_) return step;
    if (finish_wanted_.has_value()) {
      finished_ = true;
      final_status_ = *finish_wanted_;
      step.finish = final_status_;
    } else if (metadata_wanted_ && !metadata_sent_) {
      metadata_sent_ = true;
      in_flight_ = true;
      step.metadata = true;
    } else if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      in_flight_ = true;
      step.write = &current_;
    }
    return step;
  }

  void Perform(const Step& step) {
    // No lock: the step was reserved under mu_, and the reactor lives until Finish.
    if (step.metadata) {
      // Only these headers say the subscription is live: a refusal sends its headers too.
      step.reactor->context_->AddInitialMetadata(std::string(kSubscriptionHeader), "consuming");
      step.reactor->StartSendInitialMetadata();
    }
    if (step.write != nullptr) step.reactor->StartWrite(step.write);
    if (step.finish.has_value()) step.reactor->Finish(*step.finish);
  }

  absl::Mutex mu_;
  SubscribeReactor* reactor_ ABSL_GUARDED_BY(mu_);
  bool auto_ack_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<bridge::NotificationSubscription> subscription_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // the bridge ended the subscription
  // Written to the stream next; never more than max_unacked (the broker's window).
  std::deque<v1::Notification> queue_ ABSL_GUARDED_BY(mu_);
  v1::Notification current_ ABSL_GUARDED_BY(mu_);  // the write in flight
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;    // a write or the initial metadata
  // End() came while in_flight_: the completion of that operation cancels the subscription.
  bool cancel_after_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool metadata_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool metadata_sent_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_wanted_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t acks_received_ ABSL_GUARDED_BY(mu_) = 0;
};

SubscribeReactor::SubscribeReactor(grpc::CallbackServerContext* context,
                                   const SubscribeEnvironment& env)
    : context_(context),
      env_(env),
      request_id_(RequestIdOf(*context)),
      start_(absl::Now()),
      stream_(std::make_shared<Stream>(this)) {
  context_->AddInitialMetadata(std::string(kRequestIdHeader), request_id_);
  if (env_.shutting_down != nullptr && env_.shutting_down->load(std::memory_order_acquire)) {
    stream_->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "cellgw is shutting down"));
    return;
  }
  StartRead(&request_);
}

grpc::Status SubscribeReactor::Start() {
  const v1::SubscribeRequest& first = request_;
  // Bounded first: what follows logs, labels and authorises these fields.
  if (absl::Status bounds = CheckSubscriptionBounds(first); !bounds.ok()) {
    return ToGrpcStatus(bounds);
  }
  cell_ = first.cell().empty() && !env_.only_cell.empty() ? env_.only_cell : first.cell();
  if (env_.metrics != nullptr) series_ = env_.metrics->RequestStarted("subscribe", cell_);
  if (env_.authorizer != nullptr) {
    for (const std::string& topic : EffectiveTopics(first)) {
      RequestTarget target;
      target.cell = cell_;
      target.exchange = first.exchange();
      target.topic = topic;
      Authorizer::Decision decision = env_.authorizer->Check(*context_, "subscribe", target);
      caller_ = std::move(decision.caller);
      if (!decision.status.ok()) return decision.status;
    }
  }
  absl::StatusOr<bridge::SubscribeRequest> request = ToSubscribeRequest(first);
  if (!request.ok()) return ToGrpcStatus(request.status());
  stream_->Configure(first.auto_ack());
  absl::StatusOr<std::unique_ptr<bridge::NotificationSubscription>> subscription =
      env_.notifications->Subscribe(*request, stream_);
  if (!subscription.ok()) return ToGrpcStatus(subscription.status());
  stream_->SetSubscription(*std::move(subscription));
  if (LogEnabled(LogLevel::kInfo)) {
    Log(LogLevel::kInfo, "subscription started",
        {{"request_id", request_id_},
         {"kind", "subscribe"},
         {"cell", cell_},
         {"exchange", first.exchange()},
         {"topics", absl::StrJoin(EffectiveTopics(first), ",")},
         {"priorities", absl::StrJoin(first.priorities(), ",")},
         {"pool", first.pool()},
         {"event_types", absl::StrJoin(first.event_types(), ",")},
         {"max_unacked", static_cast<int64_t>(request->max_unacked)},
         {"auto_ack", first.auto_ack() ? "true" : "false"},
         {"caller", caller_}});
  }
  return grpc::Status::OK;
}

void SubscribeReactor::OnReadDone(bool ok) {
  if (!ok) {
    if (context_->IsCancelled()) {
      return stream_->End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
    }
    if (!subscribed_) {
      return stream_->End(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "the stream ended before its first message, the subscription"));
    }
    // A half-close ends the subscription gracefully: the ack_ids read before it are already
    // on their way to the broker, ahead of the cancel.
    return stream_->End(grpc::Status::OK);
  }
  if (!subscribed_) {
    const grpc::Status status = Start();
    if (!status.ok()) return stream_->End(status);
    subscribed_ = true;
    return StartRead(&request_);
  }
  absl::Status status = CheckAcknowledgement(request_);
  if (status.ok()) {
    std::vector<absl::string_view> ack_ids(request_.ack_ids().begin(), request_.ack_ids().end());
    status = stream_->Acknowledge(ack_ids);
  }
  if (!status.ok()) return stream_->End(ToGrpcStatus(status));
  StartRead(&request_);
}

void SubscribeReactor::OnWriteDone(bool ok) { stream_->WriteDone(ok); }

void SubscribeReactor::OnSendInitialMetadataDone(bool) { stream_->MetadataDone(); }

void SubscribeReactor::OnCancel() { stream_->CancelSubscription(); }

void SubscribeReactor::OnDone() {
  stream_->CancelSubscription();
  const Stream::Summary summary = stream_->Detach();
  const absl::Duration elapsed = absl::Now() - start_;
  const absl::string_view code = StatusCodeName(summary.status.error_code());
  if (env_.metrics != nullptr) {
    if (series_ == nullptr) series_ = env_.metrics->RequestStarted("subscribe", cell_);
    env_.metrics->RequestFinished(series_, code, elapsed);
  }
  if (LogEnabled(LogLevel::kInfo)) {
    Log(summary.status.ok() || summary.status.error_code() == grpc::StatusCode::CANCELLED
            ? LogLevel::kInfo
            : LogLevel::kWarning,
        "subscription ended",
        {{"request_id", request_id_},
         {"kind", "subscribe"},
         {"cell", cell_},
         {"caller", caller_},
         {"duration_seconds", absl::ToDoubleSeconds(elapsed)},
         {"outcome", code},
         {"error", summary.status.error_message()},
         {"delivered", summary.delivered},
         {"written", summary.written},
         {"ack_ids_received", summary.acks_received}});
  }
  delete this;
}

}  // namespace cellgw::gateway
