/* sanitizer.h — which sanitizer this build runs under, decided once.
 *
 * GCC says so with __SANITIZE_ADDRESS__ / __SANITIZE_THREAD__, clang with
 * __has_feature(address_sanitizer) / __has_feature(thread_sanitizer) (older
 * clang only there), so both are asked, here and nowhere else. GORT__ASAN and
 * GORT__TSAN are 1 or 0, usable in #if and in C expressions alike, and the
 * sanitizer interfaces the runtime calls (fiber switches, happens-before
 * annotations) come with them.
 *
 * Private to the runtime and its tests (tests/runtime/rt_test.h).
 */
#ifndef GORT_RUNTIME_SANITIZER_H
#define GORT_RUNTIME_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define GORT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT__ASAN 1
#endif
#endif
#ifndef GORT__ASAN
#define GORT__ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define GORT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT__TSAN 1
#endif
#endif
#ifndef GORT__TSAN
#define GORT__TSAN 0
#endif

#if GORT__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GORT__TSAN
#include <sanitizer/tsan_interface.h>
#endif

#endif /* GORT_RUNTIME_SANITIZER_H */
