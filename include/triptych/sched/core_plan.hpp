// SPDX-License-Identifier: Apache-2.0
// CorePlan: which CPUs the orchestrator/UI/OS keep (reserved), which run the
// compute pool and which run the render pool, computed from a Topology and a
// PlanPolicy (the design review's §3.2 hybrid plan, NUMA- and P/E-kind-aware,
// inside the allowed cpuset, never oversubscribed unless forced). Pure
// functions of their inputs, callable from any thread. Defaults, small-machine
// behaviour and overrides are documented in docs/scheduler.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/sched/cpuset.hpp"
#include "triptych/sched/topology.hpp"

namespace triptych::sched {

// The render pool's default size: the most threads the render stage keeps busy.
// Its only parallel work is the layout pass (src/render/layout.cpp), one chunk
// per 2048 particles: 3 chunks for the default 8000-particle scene. Beyond 4
// threads even a 1M-particle pass (11 ms on one thread) gains little, and
// compute, costlier per particle, gains more. The reasoning: docs/scheduler.md.
inline constexpr std::size_t kDefaultRenderThreads = 4;

// Overrides. Unset fields take the documented defaults. Counts are cores
// (threads when use_smt). Explicit CPU lists win over counts for their pool.
struct PlanPolicy {
  std::optional<int> reserved_cores;   // >= 0
  std::optional<int> compute_threads;  // >= 1
  std::optional<int> render_threads;   // >= 1
  std::optional<CpuSet> reserved_cpus;
  std::optional<CpuSet> compute_cpus;
  std::optional<CpuSet> render_cpus;
  bool use_smt = false;              // one thread per PU instead of per core
  bool allow_oversubscribe = false;  // force: more pool threads than PUs (warns)
};

// Reads TRIPTYCH_RESERVED_CORES, TRIPTYCH_COMPUTE_THREADS, TRIPTYCH_RENDER_THREADS,
// TRIPTYCH_RESERVED_CPUS, TRIPTYCH_COMPUTE_CPUS, TRIPTYCH_RENDER_CPUS,
// TRIPTYCH_SMT (0/1) and TRIPTYCH_OVERSUBSCRIBE (0/1) into `policy`, over what
// it holds. `getenv` is injectable for tests. A malformed value is an error
// naming the variable.
[[nodiscard]] Result<void> apply_env(PlanPolicy& policy,
                                     const std::function<const char*(const char*)>& getenv = nullptr);

// Parses a count option ("compute threads", "4"): an integer >= min_value.
[[nodiscard]] Result<int> parse_count(const std::string& what, const std::string& text, int min_value);

struct PoolPlan {
  std::string name;                    // "compute" or "render"
  std::vector<std::uint32_t> threads;  // the CPU each thread is pinned to, in thread order
  CpuSet cpus;                         // the distinct CPUs of `threads`
  std::vector<std::uint32_t> kinds;    // CPU kinds used (index into Topology::kinds())
  std::vector<std::uint32_t> numa_nodes;  // NUMA nodes spanned
  bool mixed_kinds = false;
};

struct CorePlan {
  CpuSet reserved;  // orchestrator, frame loop, UI, OS
  PoolPlan compute;
  PoolPlan render;
  CpuSet unused;    // allowed CPUs no set claims (SMT siblings, spare E cores)
  CpuSet allowed;   // the allowed set the plan was made in
  std::vector<std::string> notes;     // plain statements of what was decided and why
  std::vector<std::string> warnings;  // forced oversubscription, mixed kinds, shared cores
  bool oversubscribed = false;        // pool threads > allowed PUs (only when forced)
  bool shared_core = false;           // some pool shares a core with reserved (small machines)
  // Too few allowed CPUs for a pool of its own: a pool shares the other
  // pool's CPU (so oversubscribed, without being forced). It runs, slowly; a
  // warning says so.
  bool degraded = false;
  std::string topology;               // a one-line summary of the machine

  [[nodiscard]] std::size_t pool_threads() const noexcept {
    return compute.threads.size() + render.threads.size();
  }
  [[nodiscard]] std::string to_table() const;
  [[nodiscard]] std::string to_json() const;
};

// Errors: kInvalidArgument for counts < 1 (reserved < 0), CPU lists outside
// the allowed set or overlapping (unless allow_oversubscribe), or a request
// for more pool threads than allowed PUs without allow_oversubscribe.
[[nodiscard]] Result<CorePlan> plan_cores(const Topology& topo, const PlanPolicy& policy = {});

}  // namespace triptych::sched
