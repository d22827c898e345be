// Small helpers for absl::Status plumbing. Abseil 20220623 (Debian 12) ships no
// RETURN_IF_ERROR / ASSIGN_OR_RETURN, so cellgw defines the two it needs, once, here.
#ifndef CELLGW_COMMON_STATUS_MACROS_H_
#define CELLGW_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define CELLGW_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status cellgw_status_ = (expr);          \
    if (!cellgw_status_.ok()) return cellgw_status_; \
  } while (0)

#define CELLGW_STATUS_CONCAT_INNER_(a, b) a##b
#define CELLGW_STATUS_CONCAT_(a, b) CELLGW_STATUS_CONCAT_INNER_(a, b)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or return its status when not OK.
#define CELLGW_ASSIGN_OR_RETURN(lhs, rexpr) \
  CELLGW_ASSIGN_OR_RETURN_IMPL_(CELLGW_STATUS_CONCAT_(cellgw_statusor_, __LINE__), lhs, rexpr)

#define CELLGW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(statusor).value()

#endif  // CELLGW_COMMON_STATUS_MACROS_H_
