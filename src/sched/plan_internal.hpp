// SPDX-License-Identifier: Apache-2.0
// The core planner's parts (plan_steps.cpp), shared with the planner's steps
// in plan_cores.cpp: the picks a pool thread can take, how a pool picks them
// (one NUMA node, then one L3 group), the free cores, the GPU's locality and
// the first rules. Not a public header: core_plan.hpp is the contract. Pure
// functions; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/topology.hpp"

namespace triptych::sched::plan_internal {

// One CPU a pool thread can be pinned to, with what the planner ranks it by.
struct CpuPick {
  std::uint32_t cpu = 0;
  std::uint32_t core = 0;
  std::uint32_t numa = 0;
  std::uint32_t l3 = 0;
  std::uint32_t kind = 0;
};

// The design review reserves cores 0-2 for the orchestrator, UI and OS. On
// smaller machines we keep the reserved share at or below a quarter.
constexpr int kMaxReservedCores = 3;
int default_reserved(std::size_t cores);
std::string kind_name(const Topology& t, std::uint32_t k);

// Which end of its group a pool takes picks from: compute the low CPUs,
// render the high ones, so pools that share a node or L3 group stay contiguous.
enum class End { kLow, kHigh };

// The key whose count is >= need: a preferred key first, then the smallest
// count (best fit, so larger groups stay whole for the other pool), then the
// lowest key. Empty when no key holds `need`.
std::optional<std::uint32_t> best_fit(const std::map<std::uint32_t, std::size_t>& counts, std::size_t need,
                                      const std::set<std::uint32_t>& preferred);

// Picks n picks from `avail` (removing them): the fastest kind first; inside
// it, one NUMA node that holds them all (a `near` node first, else the
// smallest that fits) and inside that node one L3 group that holds them all
// (smallest that fits), else the node's picks in order. When no node holds
// n, whole nodes, largest first. Returns fewer than n when `avail` runs out.
std::vector<CpuPick> pick(std::vector<CpuPick>& avail, std::size_t n, const std::set<std::uint32_t>& near, End end);

// Fills a pool's threads, CPUs, kinds and NUMA nodes from its picks.
void describe(PoolPlan& p, const std::vector<CpuPick>& picks);
std::vector<std::uint32_t> cpus_of(const std::vector<CpuPick>& picks);
CpuPick pick_of(const Topology& t, std::uint32_t cpu);

// Counts in range: reserved >= 0, pools >= 1.
Result<void> check_counts(const PlanPolicy& pol);
// The plan's one-line summary of the machine.
std::string summarize(const Topology& t);
// Rule 1: explicit CPU lists lie inside the allowed set and are pairwise
// disjoint (an overlap is only a warning when forced). Returns the CPUs they claim.
Result<CpuSet> claim_explicit_lists(const PlanPolicy& pol, const CpuSet& allowed, std::vector<std::string>& warnings);

// A core with allowed PUs that no explicit list claimed.
struct FreeCore {
  std::uint32_t core;
  std::vector<std::uint32_t> pus;
  std::uint32_t kind;
};

struct FreeCores {
  std::vector<FreeCore> cores;  // hwloc order
  bool hybrid = false;          // more than one CPU kind among the allowed cores
  std::uint32_t top_kind = 0;   // the fastest kind among the allowed cores
};

FreeCores gather_free_cores(const Topology& t, const CpuSet& taken);

// The NUMA nodes nearest the GPU, when hwloc knows them and they say
// something: empty when there is no GPU, when it is local to every node, or
// when GPUs sit near different nodes (the plan cannot know which one renders).
struct GpuLocality {
  std::set<std::uint32_t> nodes;
  std::string note;  // what the plan did with the GPU's locality, for the notes
};

GpuLocality gpu_locality(const Topology& t);

}  // namespace triptych::sched::plan_internal
