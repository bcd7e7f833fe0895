// SPDX-License-Identifier: Apache-2.0
// What every isolate source needs from the OS: an errno error, and a poll of
// one fd until an absolute deadline (EINTR retried). Private to src/isolate.
#pragma once

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "triptych/core/result.hpp"

namespace triptych::isolate::detail {

inline Error system_error(const std::string& what) {
  return make_error(Errc::kSystem, what + ": " + std::strerror(errno));
}

// True when `fd` is ready for `events` before the deadline, false at it.
inline Result<bool> poll_until(int fd, short events, std::chrono::steady_clock::time_point deadline,
                               const char* what) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error(std::string("poll on ") + what);
    return n > 0;
  }
}

}  // namespace triptych::isolate::detail
