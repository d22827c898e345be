// Identifiers in oslo.messaging's format: uuid4 as 32 lowercase hex digits, no dashes. Used
// for `_msg_id`, `_unique_id` and reply queue names (`reply_<hex>`).
#ifndef CELLGW_COMMON_IDS_H_
#define CELLGW_COMMON_IDS_H_

#include <string>

namespace cellgw {

// A random (version 4) UUID as 32 lowercase hex digits. Thread-safe.
std::string NewUuidHex();

// The same UUID in the dashed 8-4-4-4-12 form (e.g. for "req-<uuid>" request ids).
std::string NewUuidDashed();

}  // namespace cellgw

#endif  // CELLGW_COMMON_IDS_H_
