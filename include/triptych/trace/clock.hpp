// SPDX-License-Identifier: Apache-2.0
// The one clock every stamp uses: CLOCK_MONOTONIC in nanoseconds, the same
// clock in every thread and every process of the machine (and the one JS
// reaches through the addon), so stamps written by different writers compare.
// Wait-free (a vDSO read, no syscall); any thread may call. See docs/tracing.md.
#pragma once

#include <cstdint>
#include <ctime>

namespace triptych::trace {

// Nanoseconds since boot on CLOCK_MONOTONIC. Never 0 on a running system, which
// is why 0 means "not stamped" in a FrameTraceRecord.
[[nodiscard]] inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace triptych::trace
