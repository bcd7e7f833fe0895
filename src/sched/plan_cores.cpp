// SPDX-License-Identifier: Apache-2.0
// plan_cores (include/triptych/sched/core_plan.hpp): the core planner, one
// named step per rule of docs/scheduler.md ("Core plan"), run in that order.
// Pure functions of their inputs, callable from any thread; nothing here
// blocks. Policy parsing and the plan's table/JSON output are in core_plan.cpp.
#include "triptych/sched/core_plan.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace triptych::sched {
namespace {

// One CPU a pool thread can be pinned to, with what the planner ranks it by.
struct Slot {
  std::uint32_t cpu = 0;
  std::uint32_t core = 0;
  std::uint32_t numa = 0;
  std::uint32_t l3 = 0;
  std::uint32_t kind = 0;
  [[nodiscard]] std::uint64_t domain() const { return (std::uint64_t{numa} << 32) | l3; }
};

// The design review reserves cores 0-2 for the orchestrator, UI and OS. On
// smaller machines we keep the reserved share at or below a quarter.
constexpr int kMaxReservedCores = 3;

int default_reserved(std::size_t cores) {
  return std::clamp(static_cast<int>(cores / 4), 1, kMaxReservedCores);
}

std::string kind_name(const Topology& t, std::uint32_t k) {
  const auto& ks = t.kinds();
  if (k < ks.size() && !ks[k].name.empty()) return ks[k].name;
  return "kind " + std::to_string(k);
}


// Picks n slots from `avail` (removing them): the fastest kind first; inside
// it, one NUMA/L3 domain that fits (smallest that fits, so big domains stay
// whole for the other pool), else domains in order. Returns fewer than n when
// `avail` runs out.
std::vector<Slot> pick(std::vector<Slot>& avail, std::size_t n) {
  std::vector<Slot> out;
  if (n == 0 || avail.empty()) return out;
  std::uint32_t top_kind = 0;
  for (const Slot& s : avail) top_kind = std::max(top_kind, s.kind);
  for (int tier = 0; tier < 2 && out.size() < n; ++tier) {
    auto eligible = [&](const Slot& s) { return tier == 1 || s.kind == top_kind; };
    std::map<std::uint64_t, std::size_t> per_domain;
    for (const Slot& s : avail) {
      if (eligible(s)) ++per_domain[s.domain()];
    }
    const std::size_t need = n - out.size();
    std::optional<std::uint64_t> fit;
    for (const auto& [d, count] : per_domain) {
      if (count >= need && (!fit || count < per_domain[*fit])) fit = d;
    }
    std::vector<Slot> rest;
    for (const Slot& s : avail) {
      const bool take = out.size() < n && eligible(s) && (!fit || s.domain() == *fit);
      (take ? out : rest).push_back(s);
    }
    avail = std::move(rest);
  }
  return out;
}

void describe(PoolPlan& p, const std::vector<Slot>& slots) {
  std::set<std::uint32_t> kinds;
  std::set<std::uint32_t> numa;
  for (const Slot& s : slots) {
    p.threads.push_back(s.cpu);
    kinds.insert(s.kind);
    numa.insert(s.numa);
  }
  p.cpus = CpuSet(p.threads);
  p.kinds.assign(kinds.begin(), kinds.end());
  p.numa_nodes.assign(numa.begin(), numa.end());
  p.mixed_kinds = kinds.size() > 1;
}

Slot slot_of(const Topology& t, std::uint32_t cpu) {
  const Core* c = t.core_of(cpu);
  return Slot{cpu, c->index, c->numa, c->l3, c->kind};
}

// ---- plan_cores, step by step ------------------------------------------------
// Each step below is one rule of docs/scheduler.md "Core plan"; plan_cores
// runs them in that order. Notes and warnings are appended in step order.

// Counts in range: reserved >= 0, pools >= 1.
Result<void> check_counts(const PlanPolicy& pol) {
  struct Count { const char* what; const std::optional<int>* value; int min; };
  const Count counts[] = {{"reserved cores", &pol.reserved_cores, 0},
                          {"compute threads", &pol.compute_threads, 1},
                          {"render threads", &pol.render_threads, 1}};
  for (const Count& c : counts) {
    if (*c.value && **c.value < c.min) {
      return make_error(Errc::kInvalidArgument, std::string(c.what) + " must be at least " +
                                                    std::to_string(c.min) + ", got " + std::to_string(**c.value));
    }
  }
  return {};
}

// The plan's one-line summary of the machine.
std::string summarize(const Topology& t) {
  const CpuSet& allowed = t.allowed();
  std::ostringstream os;
  os << t.source() << ": " << t.packages() << " package(s), " << t.numa_nodes() << " NUMA node(s), "
     << t.l3_groups() << " L3 group(s), " << t.cores().size() << " cores, " << t.pus().size()
     << " PUs, " << t.kinds().size() << " CPU kind(s); allowed CPUs " << allowed.to_string() << " ("
     << allowed.size() << " PUs on " << t.allowed_core_count() << " cores)";
  return os.str();
}

// Rule 1: explicit CPU lists lie inside the allowed set and are pairwise
// disjoint (an overlap is only a warning when forced). Returns the CPUs they claim.
Result<CpuSet> claim_explicit_lists(const PlanPolicy& pol, const CpuSet& allowed,
                                    std::vector<std::string>& warnings) {
  const std::pair<const char*, const std::optional<CpuSet>*> explicit_lists[] = {
      {"reserved", &pol.reserved_cpus}, {"compute", &pol.compute_cpus}, {"render", &pol.render_cpus}};
  CpuSet taken;
  for (const auto& [name, list] : explicit_lists) {
    if (!*list) continue;
    if ((*list)->empty()) return make_error(Errc::kInvalidArgument, std::string(name) + " CPU list is empty");
    const CpuSet outside = (*list)->minus(allowed);
    if (!outside.empty()) {
      return make_error(Errc::kInvalidArgument, std::string(name) + " CPUs " + outside.to_string() +
                                                    " are not in the allowed set " + allowed.to_string());
    }
    const CpuSet overlap = (*list)->intersect(taken);
    if (!overlap.empty()) {
      if (!pol.allow_oversubscribe) {
        return make_error(Errc::kOverlap, std::string(name) + " CPUs overlap another set at " +
                                              overlap.to_string() + " (pass --oversubscribe to force)");
      }
      warnings.push_back(std::string(name) + " CPUs overlap another set at " + overlap.to_string() + " (forced)");
    }
    taken = taken.unite(**list);
  }
  return taken;
}

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

FreeCores gather_free_cores(const Topology& t, const CpuSet& taken) {
  FreeCores out;
  std::set<std::uint32_t> kinds_present;
  for (const Core& c : t.cores()) {
    std::vector<std::uint32_t> pus;
    for (std::uint32_t p : c.allowed_pus) {
      if (!taken.contains(p)) pus.push_back(p);
    }
    if (!pus.empty()) out.cores.push_back(FreeCore{c.index, pus, c.kind});
    if (!c.allowed_pus.empty()) kinds_present.insert(c.kind);
  }
  out.hybrid = kinds_present.size() > 1;
  out.top_kind = kinds_present.empty() ? 0 : *kinds_present.rbegin();
  return out;
}

// How many threads each pool gets when no explicit list fixes its CPUs.
struct PoolCounts {
  std::size_t compute = 0;
  std::size_t render = 0;
  bool by_domain = false;  // several NUMA nodes / L3 groups: each goes whole to one pool
};

// The steps that work on the free cores, sharing the plan being built.
class Planner {
 public:
  Planner(const Topology& t, const PlanPolicy& pol, CorePlan plan, FreeCores free)
      : t_(t), pol_(pol), plan_(std::move(plan)), free_(std::move(free.cores)), hybrid_(free.hybrid),
        top_kind_(free.top_kind) {}

  Result<CorePlan> run() {
    if (is_small_machine()) {
      plan_small_machine();
    } else if (auto ok = plan_pools(); !ok) {
      return ok.error();
    }
    return finish();
  }

 private:
  [[nodiscard]] bool is_small_machine() const {
    const bool counts_default = !pol_.compute_threads && !pol_.render_threads && !pol_.compute_cpus &&
                                !pol_.render_cpus && !pol_.reserved_cores && !pol_.reserved_cpus;
    return counts_default && free_.size() <= 2 && !pol_.use_smt;
  }

  // Rule 4: reserved and render share core 0; compute owns the other core.
  void plan_small_machine() {
    plan_.reserved = CpuSet{free_.front().pus.front()};
    plan_.shared_core = true;
    if (free_.size() == 2) {
      plan_two_cores(free_[0], free_[1]);
    } else {
      plan_one_core(free_[0].pus);
    }
  }

  void plan_two_cores(const FreeCore& c0, const FreeCore& c1) {
    compute_.push_back(slot_of(t_, c1.pus.front()));
    render_.push_back(slot_of(t_, c0.pus.size() > 1 ? c0.pus[1] : c0.pus.front()));
    for (std::size_t i = 2; i < c0.pus.size(); ++i) plan_.reserved.insert(c0.pus[i]);
    for (std::size_t i = 1; i < c1.pus.size(); ++i) spare_.push_back(slot_of(t_, c1.pus[i]));
    plan_.notes.push_back("2 cores: compute owns core " + std::to_string(c1.core) +
                          " (1 thread); reserved (orchestrator/UI/OS) and render share core " +
                          std::to_string(c0.core) + (c0.pus.size() > 1 ? " on separate SMT siblings" : " and its CPU") +
                          "; render and the frame loop compete for that core");
  }

  void plan_one_core(const std::vector<std::uint32_t>& pus) {
    compute_.push_back(slot_of(t_, pus.size() > 1 ? pus[1] : pus[0]));
    if (pus.size() > 2) {
      render_.push_back(slot_of(t_, pus[2]));
    } else if (pus.size() == 2) {
      render_.push_back(slot_of(t_, pus[0]));
    }
    for (std::size_t i = 3; i < pus.size(); ++i) plan_.reserved.insert(pus[i]);
    plan_.notes.push_back(pus.size() == 1
                              ? "1 CPU: compute gets 1 thread on CPU " + std::to_string(pus[0]) +
                                    "; no render threads (render work runs on the thread that waits for "
                                    "it); everything shares that CPU"
                              : "1 core: reserved, compute and render share it on its SMT siblings");
  }

  // Rules 2-3 on a machine with more than two free cores (or any override).
  Result<void> plan_pools() {
    if (auto ok = choose_reserved(); !ok) return ok;
    collect_slots();
    if (auto ok = take_explicit_lists(); !ok) return ok;
    const PoolCounts n = count_pools();
    if (n.by_domain) {
      split_by_domain();
      return {};
    }
    if (n.compute == 0 && !pol_.compute_cpus) {
      return make_error(Errc::kInvalidArgument, "no CPU left for the compute pool");
    }
    if (auto ok = fill(n.compute, "compute", compute_); !ok) return ok;
    return fill(n.render, "render", render_);
  }

  // Rule 2: the explicit reserved list, or whole cores (slowest kind first).
  Result<void> choose_reserved() {
    if (pol_.reserved_cpus) {
      plan_.reserved = *pol_.reserved_cpus;
      return {};
    }
    const int r = pol_.reserved_cores ? *pol_.reserved_cores : (free_.size() >= 3 ? default_reserved(free_.size()) : 0);
    const bool pools_explicit = pol_.compute_cpus && pol_.render_cpus;
    if (!pools_explicit && static_cast<std::size_t>(r) >= free_.size()) {
      return make_error(Errc::kInvalidArgument, "reserving " + std::to_string(r) + " of " +
                                                    std::to_string(free_.size()) +
                                                    " free cores leaves none for the pools");
    }
    reserve_cores(static_cast<std::size_t>(r));
    if (r == 0) {
      plan_.notes.push_back("no cores reserved");
    } else {
      plan_.notes.push_back("reserved " + std::to_string(r) + " core(s) for the orchestrator, UI and OS" +
                            (hybrid_ ? " from the most efficient CPU kind" : "") +
                            (pol_.reserved_cores ? "" : " (default: a quarter of the cores, 1 to 3)"));
    }
    return {};
  }

  // Moves the first r free cores (slowest kind first on hybrid CPUs, else in
  // hwloc order: cores 0-2 on a uniform machine) into the reserved set.
  void reserve_cores(std::size_t r) {
    std::vector<std::size_t> order(free_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return hybrid_ && free_[a].kind < free_[b].kind;
    });
    std::vector<bool> is_reserved(free_.size(), false);
    for (std::size_t i = 0; i < r && i < order.size(); ++i) {
      is_reserved[order[i]] = true;
      for (std::uint32_t p : free_[order[i]].pus) plan_.reserved.insert(p);
    }
    std::vector<FreeCore> rest;
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (!is_reserved[i]) rest.push_back(free_[i]);
    }
    free_ = std::move(rest);
  }

  // Rule 3: one slot per core (every PU with use_smt), fastest kind first,
  // then hwloc order (NUMA node, L3, core); SMT siblings go to the spares.
  void collect_slots() {
    for (const FreeCore& c : free_) {
      for (std::size_t i = 0; i < c.pus.size(); ++i) {
        if (plan_.reserved.contains(c.pus[i])) continue;
        ((i == 0 || pol_.use_smt) ? avail_ : spare_).push_back(slot_of(t_, c.pus[i]));
      }
    }
    std::stable_sort(avail_.begin(), avail_.end(), [](const Slot& a, const Slot& b) { return a.kind > b.kind; });
  }

  Result<void> take_explicit_lists() {
    if (pol_.compute_cpus) {
      if (auto ok = take_list(*pol_.compute_cpus, pol_.compute_threads, "compute", compute_); !ok) return ok;
    }
    if (pol_.render_cpus) {
      if (auto ok = take_list(*pol_.render_cpus, pol_.render_threads, "render", render_); !ok) return ok;
    }
    return {};
  }

  // `count` threads (default: one per CPU) over an explicit list, wrapping
  // around it only when forced.
  Result<void> take_list(const CpuSet& list, std::optional<int> count, const char* name, std::vector<Slot>& out) {
    const std::size_t n = count ? static_cast<std::size_t>(*count) : list.size();
    if (n > list.size() && !pol_.allow_oversubscribe) {
      return make_error(Errc::kInvalidArgument, std::to_string(n) + " " + name + " threads on " +
                                                    std::to_string(list.size()) + " CPUs (" + list.to_string() +
                                                    ") would oversubscribe them (pass --oversubscribe to force)");
    }
    for (std::size_t i = 0; i < n; ++i) out.push_back(slot_of(t_, list[i % list.size()]));
    return {};
  }

  // Explicit counts as given; a pool left automatic takes what the other leaves.
  PoolCounts count_pools() {
    const bool c_auto = !pol_.compute_cpus && !pol_.compute_threads;
    const bool r_auto = !pol_.render_cpus && !pol_.render_threads;
    if (c_auto && r_auto) return default_counts();
    PoolCounts n;
    n.compute = pol_.compute_cpus || !pol_.compute_threads ? 0 : static_cast<std::size_t>(*pol_.compute_threads);
    n.render = pol_.render_cpus || !pol_.render_threads ? 0 : static_cast<std::size_t>(*pol_.render_threads);
    if (c_auto) {
      n.compute = avail_.size() > n.render ? avail_.size() - n.render : 0;
    } else if (r_auto) {
      n.render = avail_.size() > n.compute ? avail_.size() - n.compute : 0;
    }
    return n;
  }

  // Rule 3 defaults: hybrid CPUs split the fastest kind in halves (the slower
  // cores stay with the OS); several domains go whole to one pool each;
  // otherwise halves of what is left.
  PoolCounts default_counts() {
    std::size_t top_slots = 0;
    std::set<std::uint64_t> domains;
    for (const Slot& s : avail_) {
      if (s.kind == top_kind_) ++top_slots;
      domains.insert(s.domain());
    }
    PoolCounts n;
    std::size_t pool_slots = avail_.size();
    if (hybrid_ && top_slots >= 2) {
      pool_slots = top_slots;
      plan_.notes.push_back("hybrid CPU: compute and render take the fastest kind (" + kind_name(t_, top_kind_) +
                            "); the remaining slower cores are left to the OS");
    } else if (domains.size() > 1) {
      n.by_domain = true;
    }
    n.compute = (pool_slots + 1) / 2;
    n.render = pool_slots - n.compute;
    if (!n.by_domain) plan_.notes.push_back("compute and render split the remaining cores in halves");
    return n;
  }

  // Each NUMA node / L3 group goes whole to one pool: largest first, to the
  // pool with fewer threads so far, so neither pool straddles a node it shares.
  void split_by_domain() {
    std::map<std::uint64_t, std::vector<Slot>> per;
    for (const Slot& s : avail_) per[s.domain()].push_back(s);
    std::vector<std::vector<Slot>> groups;
    for (auto& [d, v] : per) groups.push_back(std::move(v));
    std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (auto& g : groups) {
      auto& dst = compute_.size() <= render_.size() ? compute_ : render_;
      dst.insert(dst.end(), g.begin(), g.end());
    }
    avail_.clear();
    plan_.notes.push_back("multiple NUMA nodes / L3 groups: each one goes whole to one pool");
  }

  // n threads for one pool: whole cores, then SMT siblings (with a note), then
  // (only when forced, rule 5) wrapping around the non-reserved CPUs.
  Result<void> fill(std::size_t n, const char* name, std::vector<Slot>& out) {
    std::vector<Slot> got = pick(avail_, n);
    if (got.size() < n) {
      std::vector<Slot> more = pick(spare_, n - got.size());
      if (!more.empty()) {
        plan_.notes.push_back(std::string(name) + " ran out of whole cores and uses " + std::to_string(more.size()) +
                              " SMT sibling(s)");
      }
      got.insert(got.end(), more.begin(), more.end());
    }
    if (got.size() < n) {
      const CpuSet& allowed = plan_.allowed;
      if (!pol_.allow_oversubscribe) {
        return make_error(Errc::kInvalidArgument,
                          std::string(name) + " needs " + std::to_string(n) + " threads but only " +
                              std::to_string(got.size()) + " free CPUs remain of " + std::to_string(allowed.size()) +
                              " allowed: that would oversubscribe (pass --oversubscribe to force)");
      }
      const CpuSet pool_cpus = allowed.minus(plan_.reserved);
      const CpuSet& wrap = pool_cpus.empty() ? allowed : pool_cpus;
      for (std::size_t i = got.size(), j = 0; i < n; ++i, ++j) got.push_back(slot_of(t_, wrap[j % wrap.size()]));
    }
    out.insert(out.end(), got.begin(), got.end());
    return {};
  }

  // The pools' summaries, the mixed-kind warnings, rule 5 and the unused note.
  Result<CorePlan> finish() {
    describe(plan_.compute, compute_);
    describe(plan_.render, render_);
    warn_mixed_kinds();
    plan_.unused = plan_.allowed.minus(plan_.reserved).minus(plan_.compute.cpus).minus(plan_.render.cpus);
    if (auto ok = check_oversubscription(); !ok) return ok.error();
    if (!plan_.unused.empty()) {
      plan_.notes.push_back("CPUs " + plan_.unused.to_string() + " are left unpinned (" +
                            (pol_.use_smt ? "spare" : "SMT siblings or spare cores") + ")");
    }
    return std::move(plan_);
  }

  void warn_mixed_kinds() {
    for (const PoolPlan* p : {&plan_.compute, &plan_.render}) {
      if (!p->mixed_kinds) continue;
      std::string ks;
      for (std::uint32_t k : p->kinds) ks += (ks.empty() ? "" : " and ") + kind_name(t_, k);
      plan_.warnings.push_back(p->name + " mixes CPU kinds (" + ks + ") because the fastest kind ran out");
    }
  }

  // Rule 5: no more pool threads than allowed PUs and no PU twice, unless forced.
  Result<void> check_oversubscription() {
    const std::size_t allowed = plan_.allowed.size();
    std::multiset<std::uint32_t> pinned(plan_.compute.threads.begin(), plan_.compute.threads.end());
    pinned.insert(plan_.render.threads.begin(), plan_.render.threads.end());
    bool repeated = false;
    for (std::uint32_t c : pinned) repeated = repeated || pinned.count(c) > 1;
    plan_.oversubscribed = plan_.pool_threads() > allowed || repeated;
    if (!plan_.oversubscribed) return {};
    if (!pol_.allow_oversubscribe) {
      return make_error(Errc::kInvalidArgument, "the plan would pin " + std::to_string(plan_.pool_threads()) +
                                                    " pool threads on " + std::to_string(allowed) +
                                                    " allowed CPUs (pass --oversubscribe to force)");
    }
    plan_.warnings.push_back("OVERSUBSCRIBED (forced): " + std::to_string(plan_.pool_threads()) +
                             " pool threads on " + std::to_string(allowed) +
                             " allowed CPUs; expect context switches and latency spikes");
    return {};
  }

  const Topology& t_;
  const PlanPolicy& pol_;
  CorePlan plan_;
  std::vector<FreeCore> free_;  // free cores not (yet) reserved, hwloc order
  bool hybrid_;
  std::uint32_t top_kind_;
  std::vector<Slot> compute_;
  std::vector<Slot> render_;
  std::vector<Slot> avail_;  // first PU of each remaining core (all PUs with use_smt)
  std::vector<Slot> spare_;  // SMT siblings, used only when whole cores run out
};

}  // namespace

Result<CorePlan> plan_cores(const Topology& t, const PlanPolicy& pol) {
  if (auto ok = check_counts(pol); !ok) return ok.error();
  if (t.allowed().empty()) return make_error(Errc::kInvalidArgument, "the allowed CPU set is empty");
  CorePlan plan;
  plan.allowed = t.allowed();
  plan.compute.name = "compute";
  plan.render.name = "render";
  plan.topology = summarize(t);
  auto taken = claim_explicit_lists(pol, plan.allowed, plan.warnings);
  if (!taken) return taken.error();
  return Planner(t, pol, std::move(plan), gather_free_cores(t, taken.value())).run();
}

}  // namespace triptych::sched
