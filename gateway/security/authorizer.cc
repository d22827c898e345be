#include "gateway/security/authorizer.h"

#include <grpc/grpc_security_constants.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cellgw::gateway {
namespace {

constexpr char kAuthorizationHeader[] = "authorization";

// A caller-supplied field in an error message: escaped, and short.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxBytes = 128;
  if (text.size() <= kMaxBytes) return absl::StrCat("'", absl::CHexEscape(text), "'");
  return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMaxBytes)), "...'");
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

Authorizer::Authorizer(const SecurityConfig& config,
                       std::map<std::string, std::string> control_exchanges)
    : tokens_(config.tokens),
      accepts_tokens_(config.enabled && !config.tokens_file.empty()),
      accepts_certificates_(config.enabled && config.tls.has_value() &&
                            !config.tls->client_ca_file.empty()),
      policy_(config.policy),
      control_exchanges_(std::move(control_exchanges)) {}

absl::StatusOr<Caller> Authorizer::Authenticate(
    const std::vector<absl::string_view>& authorization,
    const std::optional<std::string>& certificate_subject) const {
  if (authorization.size() > 1) {
    return absl::UnauthenticatedError("more than one authorization metadata entry");
  }
  if (authorization.size() == 1) {
    if (!accepts_tokens_) {
      return absl::UnauthenticatedError("this gateway accepts no bearer tokens");
    }
    absl::StatusOr<absl::string_view> token = ParseBearerToken(authorization.front());
    if (!token.ok()) return absl::UnauthenticatedError(token.status().message());
    std::optional<std::string> identity = tokens_.Authenticate(*token);
    if (!identity.has_value()) return absl::UnauthenticatedError("the bearer token is not valid");
    return Caller{Caller::Source::kToken, *std::move(identity)};
  }
  if (accepts_certificates_ && certificate_subject.has_value() && !certificate_subject->empty()) {
    return Caller{Caller::Source::kCertificate, *certificate_subject};
  }
  std::string how;
  if (accepts_tokens_) how = "send \"authorization: Bearer <token>\" metadata";
  if (accepts_certificates_) {
    absl::StrAppend(&how, how.empty() ? "" : " or ", "connect with a client certificate");
  }
  if (how.empty()) how = "this gateway is configured to identify no caller";
  return absl::UnauthenticatedError(absl::StrCat("no credentials: ", how));
}

Authorizer::Decision Authorizer::Check(const grpc::ServerContextBase& context,
                                       absl::string_view kind,
                                       const RequestTarget& target) const {
  std::vector<absl::string_view> authorization;
  const auto& metadata = context.client_metadata();
  const auto range = metadata.equal_range(kAuthorizationHeader);
  for (auto it = range.first; it != range.second; ++it) {
    authorization.emplace_back(it->second.data(), it->second.size());
  }
  std::optional<std::string> subject;
  if (accepts_certificates_) {
    const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    if (auth != nullptr) {
      const std::vector<grpc::string_ref> values =
          auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
      if (values.size() == 1) subject.emplace(values.front().data(), values.front().size());
    }
  }
  return Decide(authorization, subject, kind, target);
}

Authorizer::Decision Authorizer::Decide(const std::vector<absl::string_view>& authorization,
                                        const std::optional<std::string>& certificate_subject,
                                        absl::string_view kind,
                                        const RequestTarget& target) const {
  Decision decision;
  absl::StatusOr<Caller> caller = Authenticate(authorization, certificate_subject);
  if (!caller.ok()) {
    decision.status = ToGrpc(caller.status());
    return decision;
  }
  decision.caller = DescribeCaller(*caller);
  if (kind == "list_cells") return decision;  // authentication only
  const std::optional<RequestKind> request_kind = ParseRequestKind(kind);
  if (!request_kind.has_value()) {
    decision.status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                   absl::StrCat("no policy covers ", Quote(kind), " requests"));
    return decision;
  }

  AccessRequest request;
  request.kind = *request_kind;
  request.cell = target.cell;
  request.exchange = target.exchange;
  auto it = control_exchanges_.find(std::string(target.cell));
  if (it != control_exchanges_.end()) request.control_exchange = it->second;
  request.topic = target.topic;
  request.method = target.method;
  request.server = target.server;
  request.namespace_ = target.namespace_;
  const Grant* grant = policy_.Find(*caller, request);
  if (grant == nullptr) {
    std::string message =
        absl::StrCat(decision.caller, " may not ", kind, " method ", Quote(target.method),
                     " on topic ", Quote(target.topic), ", exchange ",
                     target.exchange.empty() ? "(the control exchange)" : Quote(target.exchange),
                     ", cell ", Quote(target.cell));
    // Only named when set, so the messages of requests without them stay as they were.
    if (!target.server.empty()) absl::StrAppend(&message, ", server ", Quote(target.server));
    if (!target.namespace_.empty()) {
      absl::StrAppend(&message, ", namespace ", Quote(target.namespace_));
    }
    decision.status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::move(message));
    return decision;
  }
  decision.context = MakeContextPolicy(grant->context, caller->name, decision.caller);
  return decision;
}

}  // namespace cellgw::gateway
