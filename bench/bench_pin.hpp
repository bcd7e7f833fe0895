// SPDX-License-Identifier: Apache-2.0
// Pins a benchmark thread to the CPU given on its command line through the
// scheduler's one pinning helper (sched::pin_current_thread). A failure is
// reported, not fatal: the numbers are then for an unpinned thread, and the
// line says so. Call it at a thread's start, never inside a timed loop.
#pragma once

#include <cstdio>

#include "triptych/sched/pinning.hpp"

namespace triptych::bench {

inline void pin_or_warn(int cpu) {
  const auto ok = cpu < 0 ? Result<void>(make_error(Errc::kInvalidArgument, "negative CPU"))
                          : sched::pin_current_thread(sched::CpuSet{static_cast<std::uint32_t>(cpu)}, {});
  if (!ok) std::fprintf(stderr, "warning: could not pin to CPU %d (%s); running unpinned\n", cpu, ok.error().what().c_str());
}

}  // namespace triptych::bench
