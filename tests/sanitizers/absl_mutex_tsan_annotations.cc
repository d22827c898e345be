// ThreadSanitizer support for Debian's Abseil (tests/sanitizers; linked into every binary by
// --config=tsan through --custom_malloc, see .bazelrc). Never part of a normal build.
//
// Debian's libabsl_synchronization is not compiled with -fsanitize=thread, so TSan cannot see
// absl::Mutex: its lock word is an uninstrumented atomic and its waits are raw futex calls.
// Without help every member guarded by an absl::Mutex (in cellgw, and in gRPC, which locks
// absl::Mutex too) is reported as a data race. This file defines absl::Mutex's and
// absl::CondVar's out-of-line lock operations in the executable. The dynamic linker binds
// every caller (our code, gRPC, Abseil itself) to these definitions; each one forwards to the
// library's own function (found with dlsym(RTLD_NEXT)) and tells TSan about the
// happens-before edge: __tsan_acquire once the mutex is held, __tsan_release before it is
// given up. That is exactly the edge an instrumented Abseil reports; ownership is not
// tracked, so TSan's lock-order (deadlock) reports are not available for absl::Mutex.
//
// An absl::Condition is evaluated inside Abseil with the mutex held, by the waiting thread or
// by whichever thread is unlocking (the waiter may then be asleep, its Condition's captures on
// its stack). Each Condition passed to LockWhen/Await is therefore wrapped so that its
// evaluation is bracketed the same way (acquire before, release after): the evaluation is
// ordered after the last holder's writes, and before whatever the woken waiter does next.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/config.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#if !defined(__SANITIZE_THREAD__) && !(defined(__has_feature) && __has_feature(thread_sanitizer))
#error "absl_mutex_tsan_annotations.cc is only for -fsanitize=thread builds (--config=tsan)"
#endif

namespace {

#define CELLGW_STRINGIFY_INNER(x) #x
#define CELLGW_STRINGIFY(x) CELLGW_STRINGIFY_INNER(x)

// Whether the member function is const: Itanium mangling marks it with a K after the N.
enum class Member { kNonConst, kConst };

// The Itanium-mangled name of an absl member function, given the part after
// "_ZN[K]4absl<len><inline namespace>". The inline namespace is Debian's ("debian3"), taken
// from absl/base/options.h so that a new Abseil package fails loudly instead of silently.
void* RealFunction(const char* suffix, Member member) {
  const std::string ns = CELLGW_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(member == Member::kConst ? "_ZNK4absl" : "_ZN4absl") +
                           std::to_string(ns.size()) + ns + suffix;
  void* function = dlsym(RTLD_NEXT, name.c_str());
  if (function == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan_annotations: %s not found in Abseil\n", name.c_str());
    std::abort();
  }
  return function;
}

template <typename Function>
Function Real(const char* suffix, Member member = Member::kNonConst) {
  return reinterpret_cast<Function>(RealFunction(suffix, member));
}

// A Condition evaluated as if in a critical section of `mu` (which Abseil does hold then).
// Lives on the stack of the LockWhen/Await call that passes it, for as long as that call.
class AnnotatedCondition {
 public:
  AnnotatedCondition(const absl::Condition& condition, absl::Mutex* mu)
      : condition_(&condition), mu_(mu), wrapped_(&AnnotatedCondition::Eval, this) {}
  AnnotatedCondition(const AnnotatedCondition&) = delete;  // wrapped_ points at this object
  AnnotatedCondition& operator=(const AnnotatedCondition&) = delete;
  const absl::Condition& wrapped() const { return wrapped_; }

 private:
  static bool Eval(void* self) {
    const AnnotatedCondition* annotated = static_cast<const AnnotatedCondition*>(self);
    __tsan_acquire(annotated->mu_);
    const bool result = annotated->condition_->Eval();
    __tsan_release(annotated->mu_);
    return result;
  }

  const absl::Condition* condition_;
  absl::Mutex* mu_;
  absl::Condition wrapped_;
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  const AnnotatedCondition annotated(cond, this);
  real(this, annotated.wrapped());
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  const AnnotatedCondition annotated(cond, this);
  real(this, annotated.wrapped());
  __tsan_acquire(this);
}

// The *WithTimeout/*WithDeadline forms hold the mutex on return whatever they return.
bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.wrapped(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.wrapped(), deadline);
  __tsan_acquire(this);
  return result;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.wrapped(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.wrapped(), deadline);
  __tsan_acquire(this);
  return result;
}

// Await and CondVar::Wait give the mutex up while they wait and take it back before returning.
void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  const AnnotatedCondition annotated(cond, this);
  real(this, annotated.wrapped());
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.wrapped(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.wrapped(), deadline);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool result = real(this, mu, timeout);
  __tsan_acquire(mu);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool result = real(this, mu, deadline);
  __tsan_acquire(mu);
  return result;
}

// BlockingCounter and Notification count and flag with uninstrumented atomics and take their
// mutex only for the last decrement or the notify: every earlier decrementer's writes would look
// unordered with what the waiter reads afterwards. Each decrement / notify releases, each
// completed wait acquires, on the object itself.
bool BlockingCounter::DecrementCount() {
  static const auto real = Real<bool (*)(BlockingCounter*)>("15BlockingCounter14DecrementCountEv");
  __tsan_release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  static const auto real = Real<void (*)(BlockingCounter*)>("15BlockingCounter4WaitEv");
  real(this);
  __tsan_acquire(this);
}

void Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real = Real<void (*)(const Notification*)>(
      "12Notification19WaitForNotificationEv", Member::kConst);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", Member::kConst);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
