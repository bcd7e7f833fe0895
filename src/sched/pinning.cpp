// SPDX-License-Identifier: Apache-2.0
// pin_current_thread (include/triptych/sched/pinning.hpp). Acts on the
// calling thread only; blocking only for the system calls. The kernel keeps
// the part of a requested mask it allows and drops the rest silently, so the
// mask is read back and a partial pin is undone and reported.
// See docs/scheduler.md ("Pinning").
#include "triptych/sched/pinning.hpp"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "triptych/sched/topology.hpp"

namespace triptych::sched {
namespace {

constexpr std::uint32_t kCpuSetSize = CPU_SETSIZE;  // what a cpu_set_t holds

int set_affinity(const CpuSet& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::uint32_t cpu : cpus) CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// EINVAL: the kernel allows none of `cpus`; success with a smaller mask read
// back: it allowed only part of them (that part is undone).
Result<void> pin_affinity(const CpuSet& cpus, std::string_view name) {
  const std::string what = "cannot pin this thread" + (name.empty() ? "" : " ('" + std::string(name) + "')") +
                           " to CPUs " + cpus.to_string();
  if (cpus.cpus().back() >= kCpuSetSize) {
    return make_error(Errc::kInvalidArgument, what + ": CPU " + std::to_string(cpus.cpus().back()) +
                                                  " is beyond CPU_SETSIZE (" + std::to_string(kCpuSetSize) + ")");
  }
  const CpuSet before = current_thread_affinity();
  const int rc = set_affinity(cpus);
  if (rc != 0 && rc != EINVAL) return make_error(Errc::kSystem, what + ": " + std::strerror(rc));
  const CpuSet refused = rc == EINVAL ? cpus : cpus.minus(current_thread_affinity());
  if (refused.empty()) return {};
  if (rc == 0) (void)set_affinity(before);
  return make_error(Errc::kInvalidArgument, what + ": the kernel refused CPUs " + refused.to_string() +
                                                " (offline, nonexistent or outside this process's cpuset)");
}

}  // namespace

Result<void> pin_current_thread(const CpuSet& cpus, std::string_view name) {
  if (name.size() > kMaxThreadName) {
    return make_error(Errc::kInvalidArgument, "thread name '" + std::string(name) + "' is longer than " +
                                                  std::to_string(kMaxThreadName) + " bytes");
  }
  if (!cpus.empty()) {
    if (auto ok = pin_affinity(cpus, name); !ok) return ok;
  }
  if (name.empty()) return {};
  if (const int rc = pthread_setname_np(pthread_self(), std::string(name).c_str()); rc != 0) {
    return make_error(Errc::kSystem, "cannot name this thread '" + std::string(name) + "': " + std::strerror(rc));
  }
  return {};
}

}  // namespace triptych::sched
