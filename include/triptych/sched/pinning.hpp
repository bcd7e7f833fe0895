// SPDX-License-Identifier: Apache-2.0
// Thread pinning: the one place in the tree that pins a thread to a CpuSet
// and names it (pthread_setaffinity_np + pthread_setname_np). Blocking only
// for the two system calls; it acts on the calling thread alone, so any
// thread may call it at any time. Pool workers, external pool members and the
// engine's frame loop and render thread use it (docs/scheduler.md, "Pinning").
#pragma once

#include <cstddef>
#include <string_view>

#include "triptych/core/result.hpp"
#include "triptych/sched/cpuset.hpp"

namespace triptych::sched {

// Linux thread names (comm) hold at most 15 bytes.
inline constexpr std::size_t kMaxThreadName = 15;

// Pins the calling thread to `cpus` (it may then run on any of them), then
// names it `name` (what /proc/self/task/<tid>/comm and top show).
// - `cpus` empty: the affinity is left as it is (the thread stays unpinned);
//   the name is still set.
// - `name` empty: the name is left as it is (e.g. a joining external member).
// Errors:
// - kInvalidArgument, with the thread's affinity and name unchanged: `name`
//   longer than kMaxThreadName; a CPU at or beyond CPU_SETSIZE (1024); or
//   CPUs the kernel refuses (offline, nonexistent, outside the process's
//   cpuset), named in the message. A set is refused whole: where the kernel
//   kept part of it, the previous affinity is restored.
// - kSystem: any other pthread_setaffinity_np failure, with its errno text;
//   or pthread_setname_np failing after the pin (its only Linux error,
//   ERANGE, is ruled out by the length check).
// Thread-safety: any thread may call it; it changes only the calling thread.
// Allocates (the CpuSet read back, error text): call it in a thread's
// prologue, not on a hot path.
[[nodiscard]] Result<void> pin_current_thread(const CpuSet& cpus, std::string_view name);

}  // namespace triptych::sched
