#include "bridge/exchange_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cellgw::bridge {

ExchangeRegistry::ExchangeRegistry(size_t capacity) : capacity_(capacity) {}

std::string ExchangeRegistry::Key(const ExchangeSpec& spec) {
  // A NUL cannot end a type, so the key is unambiguous.
  return absl::StrCat(spec.type, std::string(1, '\0'), spec.durable ? "D" : "d",
                      spec.auto_delete ? "A" : "a", spec.name);
}

absl::Status ExchangeRegistry::Ensure(AmqpTransport& transport, const ExchangeSpec& spec,
                                      bool create_if_missing) {
  std::string key = Key(spec);
  if (Touch(key)) return absl::OkStatus();
  if (!create_if_missing) {
    CELLGW_RETURN_IF_ERROR(transport.DeclareExchange(spec, /*passive=*/true));
  }
  CELLGW_RETURN_IF_ERROR(transport.DeclareExchange(spec, /*passive=*/false));
  Remember(std::move(key));
  return absl::OkStatus();
}

void ExchangeRegistry::Forget() {
  index_.clear();
  recent_.clear();
}

bool ExchangeRegistry::Touch(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  recent_.splice(recent_.begin(), recent_, it->second);
  return true;
}

void ExchangeRegistry::Remember(std::string key) {
  if (capacity_ == 0) return;
  while (index_.size() >= capacity_) {
    index_.erase(recent_.back());
    recent_.pop_back();
  }
  recent_.push_front(std::move(key));
  index_.emplace(recent_.front(), recent_.begin());
}

}  // namespace cellgw::bridge
