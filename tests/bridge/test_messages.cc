#include "tests/bridge/test_messages.h"

#include <utility>

#include "bridge/envelope.h"
#include "common/ids.h"

namespace cellgw::testing {

void Outcome::Record(absl::Status status, std::string result_json) {
  absl::MutexLock lock(&mu_);
  ++runs_;
  status_ = std::move(status);
  result_json_ = std::move(result_json);
}

bool Outcome::Await(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto ran = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return runs_ > 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&ran), timeout);
}

int Outcome::runs() const {
  absl::MutexLock lock(&mu_);
  return runs_;
}

absl::Status Outcome::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::string Outcome::result_json() const {
  absl::MutexLock lock(&mu_);
  return result_json_;
}

namespace {

bridge::Outbound Message(const std::string& msg_id) {
  bridge::Outbound out;
  out.unique_id = NewUuidHex();
  out.msg_id = msg_id;
  bridge::RequestMessage message;
  message.method = "test";
  message.unique_id = out.unique_id;
  message.msg_id = msg_id;
  message.reply_q = msg_id.empty() ? "" : "reply_test";
  out.body = *bridge::EncodeRequest(message);
  return out;
}

}  // namespace

bridge::Outbound TestCast(Outcome& outcome, const std::string& exchange,
                          const std::string& routing_key) {
  bridge::Outbound out = Message("");
  out.exchange = bridge::ExchangeSpec{exchange, "topic", false, false};
  out.if_missing =
      exchange == "nova" ? bridge::MissingExchange::kCreate : bridge::MissingExchange::kRefuse;
  out.routing_key = routing_key;
  out.mandatory = true;
  out.destination = "topic '" + routing_key + "' on exchange '" + exchange + "'";
  out.on_confirmed = [&outcome](absl::Status status) { outcome.Record(std::move(status)); };
  return out;
}

bridge::Outbound TestFanout(Outcome& outcome, const std::string& topic) {
  bridge::Outbound out = Message("");
  out.exchange = bridge::ExchangeSpec{topic + "_fanout", "fanout", false, true};
  out.if_missing = bridge::MissingExchange::kNobodyListens;
  out.destination = "fanout exchange '" + topic + "_fanout'";
  out.on_confirmed = [&outcome](absl::Status status) { outcome.Record(std::move(status)); };
  return out;
}

bridge::Outbound TestCall(Outcome& outcome, const std::string& msg_id, absl::Time deadline,
                          absl::Duration monitor) {
  bridge::Outbound out = Message(msg_id);
  out.exchange = bridge::ExchangeSpec{"nova", "topic", false, false};
  out.if_missing = bridge::MissingExchange::kCreate;
  out.routing_key = "compute";
  out.mandatory = true;
  out.deadline = deadline;
  out.monitor = monitor;
  out.destination = "topic 'compute' on exchange 'nova'";
  out.on_reply = [&outcome](absl::StatusOr<bridge::Reply> reply) {
    if (reply.ok()) {
      outcome.Record(absl::OkStatus(), reply->result_json);
    } else {
      outcome.Record(reply.status());
    }
  };
  return out;
}

std::string ReplyBody(const std::string& msg_id, const std::string& result_json, bool ending) {
  return *bridge::EncodeReply(msg_id, result_json, nullptr, ending, NewUuidHex());
}

}  // namespace cellgw::testing
