// SPDX-License-Identifier: Apache-2.0
// plan_cores (include/triptych/sched/core_plan.hpp): the core planner, one
// named step per rule of docs/scheduler.md ("Core plan"), run in that order;
// the parts the steps share are plan_steps.cpp's.
// Pure functions of their inputs, callable from any thread; nothing here
// blocks. Policy parsing and the plan's table/JSON output are in core_plan.cpp.
#include "triptych/sched/core_plan.hpp"

#include "plan_internal.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace triptych::sched {
namespace {

using namespace plan_internal;

// ---- plan_cores, step by step ------------------------------------------------
// Each step is one rule of docs/scheduler.md "Core plan"; plan_cores runs
// them in that order. Notes and warnings are appended in step order.

// The steps that work on the free cores, sharing the plan being built.
class Planner {
 public:
  Planner(const Topology& t, const PlanPolicy& pol, CorePlan plan, FreeCores free)
      : t_(t), pol_(pol), plan_(std::move(plan)), free_(std::move(free.cores)), hybrid_(free.hybrid),
        top_kind_(free.top_kind), gpu_(gpu_locality(t)) {}

  Result<CorePlan> run() {
    if (is_small_machine()) {
      plan_small_machine();
    } else if (auto ok = plan_pools(); !ok) {
      return ok.error();
    }
    give_every_pool_a_thread();
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
    compute_.push_back(pick_of(t_, c1.pus.front()));
    render_.push_back(pick_of(t_, c0.pus.size() > 1 ? c0.pus[1] : c0.pus.front()));
    for (std::size_t i = 2; i < c0.pus.size(); ++i) plan_.reserved.insert(c0.pus[i]);
    for (std::size_t i = 1; i < c1.pus.size(); ++i) spare_.push_back(pick_of(t_, c1.pus[i]));
    plan_.notes.push_back("2 cores: compute owns core " + std::to_string(c1.core) +
                          " (1 thread); reserved (orchestrator/UI/OS) and render share core " +
                          std::to_string(c0.core) + (c0.pus.size() > 1 ? " on separate SMT siblings" : " and its CPU") +
                          "; render and the frame loop compete for that core");
  }

  // One PU: compute takes it and render is given it too (degraded, see
  // give_every_pool_a_thread).
  void plan_one_core(const std::vector<std::uint32_t>& pus) {
    compute_.push_back(pick_of(t_, pus.size() > 1 ? pus[1] : pus[0]));
    if (pus.size() > 2) {
      render_.push_back(pick_of(t_, pus[2]));
    } else if (pus.size() == 2) {
      render_.push_back(pick_of(t_, pus[0]));
    }
    for (std::size_t i = 3; i < pus.size(); ++i) plan_.reserved.insert(pus[i]);
    plan_.notes.push_back(pus.size() == 1 ? "1 CPU: reserved, compute and render all run on CPU " + std::to_string(pus[0])
                                          : "1 core: reserved, compute and render share it on its SMT siblings");
  }

  // Rules 2-3 on a machine with more than two free cores (or any override).
  // A pool whose size is given is placed first, render before compute (render
  // is the one with a node preference, the GPU's); then the automatic ones.
  Result<void> plan_pools() {
    if (auto ok = choose_reserved(); !ok) return ok;
    collect_picks();
    if (auto ok = take_explicit_lists(); !ok) return ok;
    if (pol_.render_threads && !pol_.render_cpus) {
      const auto n = static_cast<std::size_t>(*pol_.render_threads);
      if (auto ok = fill(n, "render", render_, gpu_.nodes, End::kHigh); !ok) return ok;
    }
    if (pol_.compute_threads && !pol_.compute_cpus) {
      const auto n = static_cast<std::size_t>(*pol_.compute_threads);
      if (auto ok = fill(n, "compute", compute_, {}, End::kLow); !ok) return ok;
    }
    const bool compute_given = pol_.compute_cpus || pol_.compute_threads;
    const bool render_given = pol_.render_cpus || pol_.render_threads;
    if (compute_given && render_given) return {};
    keep_fastest_kind();
    if (!render_given) place_default_render(compute_given);
    if (!compute_given) place_default_compute();
    return {};
  }

  // Rule 3, hybrid CPUs: pools sized by default take the fastest kind; slower
  // cores not reserved stay with the OS.
  void keep_fastest_kind() {
    const auto top = static_cast<std::size_t>(std::count_if(
        avail_.begin(), avail_.end(), [&](const CpuPick& s) { return s.kind == top_kind_; }));
    if (!hybrid_ || top < 2) return;
    std::erase_if(avail_, [&](const CpuPick& s) { return s.kind != top_kind_; });
    plan_.notes.push_back("hybrid CPU: pools sized by default take the fastest kind (" +
                          kind_name(t_, top_kind_) + "); the remaining slower cores are left to the OS");
  }

  // Rule 3b: render gets what the render stage can use, kDefaultRenderThreads,
  // but no more than half the pool CPUs (all that is left when compute's size
  // is given), on the GPU's node when it holds them.
  void place_default_render(bool compute_given) {
    const std::size_t left = avail_.size();
    const std::size_t n = std::min(kDefaultRenderThreads, compute_given ? left : left / 2);
    render_ = pick(avail_, n, gpu_.nodes, End::kHigh);
    if (render_.empty()) return;
    plan_.notes.push_back("render: " + std::to_string(render_.size()) +
                          " thread(s), what the render stage can use (its layout pass; up to " +
                          std::to_string(kDefaultRenderThreads) + " by default, --render-threads overrides)");
    note_gpu_placement();
  }

  void note_gpu_placement() {
    if (t_.numa_nodes() < 2) return;
    if (gpu_.nodes.empty()) {
      plan_.notes.push_back((gpu_.note.empty() ? std::string("no GPU locality known") : gpu_.note) +
                            ": render takes the smallest NUMA node that holds it");
      return;
    }
    const bool near = std::all_of(render_.begin(), render_.end(),
                                  [&](const CpuPick& s) { return gpu_.nodes.contains(s.numa); });
    plan_.notes.push_back(gpu_.note + (near ? ": render is placed there"
                                            : ": too few free CPUs there, render is placed elsewhere"));
  }

  // Rule 3c: compute takes the free CPUs of one NUMA node, the one with the
  // most left (on one node: all that render left).
  void place_default_compute() {
    std::map<std::uint32_t, std::size_t> per_node;
    for (const CpuPick& s : avail_) ++per_node[s.numa];
    std::size_t n = 0;
    for (const auto& [node, count] : per_node) n = std::max(n, count);
    compute_ = pick(avail_, n, {}, End::kLow);
    if (compute_.empty()) return;
    if (t_.numa_nodes() < 2) {
      plan_.notes.push_back("compute: the remaining " + std::to_string(compute_.size()) + " CPU(s)");
    } else {
      plan_.notes.push_back("compute: the " + std::to_string(compute_.size()) + " free CPU(s) of NUMA node " +
                            std::to_string(compute_.front().numa) +
                            ", the node with the most left; --compute-threads N spreads it over more nodes");
    }
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

  // Rule 3: one pick per core (every PU with use_smt), fastest kind first,
  // then hwloc order (NUMA node, L3, core); SMT siblings go to the spares.
  void collect_picks() {
    for (const FreeCore& c : free_) {
      for (std::size_t i = 0; i < c.pus.size(); ++i) {
        if (plan_.reserved.contains(c.pus[i])) continue;
        ((i == 0 || pol_.use_smt) ? avail_ : spare_).push_back(pick_of(t_, c.pus[i]));
      }
    }
    std::stable_sort(avail_.begin(), avail_.end(), [](const CpuPick& a, const CpuPick& b) { return a.kind > b.kind; });
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
  Result<void> take_list(const CpuSet& list, std::optional<int> count, const char* name, std::vector<CpuPick>& out) {
    const std::size_t n = count ? static_cast<std::size_t>(*count) : list.size();
    if (n > list.size() && !pol_.allow_oversubscribe) {
      return make_error(Errc::kInvalidArgument, std::to_string(n) + " " + name + " threads on " +
                                                    std::to_string(list.size()) + " CPUs (" + list.to_string() +
                                                    ") would oversubscribe them (pass --oversubscribe to force)");
    }
    for (std::size_t i = 0; i < n; ++i) out.push_back(pick_of(t_, list[i % list.size()]));
    return {};
  }

  // Rule 6: every pool gets at least one thread, so the engine runs on any
  // machine. A pool left with none takes, in order: a CPU no set claims; a
  // reserved CPU the other pool does not use (a shared core, as on 2 cores);
  // the other pool's last CPU, which oversubscribes it: the plan is then
  // degraded and says so.
  void give_every_pool_a_thread() {
    struct Empty { const char* name; std::vector<CpuPick>& pool; const std::vector<CpuPick>& other; };
    for (const Empty& e : {Empty{"compute", compute_, render_}, Empty{"render", render_, compute_}}) {
      if (!e.pool.empty()) continue;
      std::vector<CpuPick> got = pick(avail_, 1, {}, End::kHigh);
      if (got.empty()) got = pick(spare_, 1, {}, End::kHigh);
      if (!got.empty()) {
        plan_.notes.push_back(std::string(e.name) + ": 1 thread on CPU " + std::to_string(got.front().cpu) +
                              ", the only free CPU left");
        e.pool = std::move(got);
        continue;
      }
      const CpuSet other = CpuSet(cpus_of(e.other));
      const CpuSet reserved_only = plan_.reserved.minus(other);
      if (!reserved_only.empty()) {
        const std::uint32_t cpu = reserved_only[reserved_only.size() - 1];
        e.pool.push_back(pick_of(t_, cpu));
        plan_.shared_core = true;
        plan_.notes.push_back(std::string(e.name) + " has no CPU of its own: 1 thread on reserved CPU " +
                              std::to_string(cpu) + ", shared with the frame loop, UI and OS");
        continue;
      }
      const std::uint32_t cpu = e.other.back().cpu;
      e.pool.push_back(pick_of(t_, cpu));
      plan_.degraded = true;
      plan_.warnings.push_back("DEGRADED: " + std::to_string(plan_.allowed.size()) + " allowed CPU(s) (" +
                               plan_.allowed.to_string() + ") leave " + e.name +
                               " no CPU of its own; its thread shares CPU " + std::to_string(cpu) +
                               " with the other pool, so frames will be slow and late. Allow the process more "
                               "CPUs (cgroup cpuset, taskset)" +
                               (pol_.compute_threads ? " or ask for fewer compute threads" : "") +
                               " for a normal run");
    }
  }

  // n threads for one pool: whole cores, then SMT siblings (with a note), then
  // (only when forced, rule 5) wrapping around the non-reserved CPUs.
  Result<void> fill(std::size_t n, const char* name, std::vector<CpuPick>& out, const std::set<std::uint32_t>& near,
                   End end) {
    std::vector<CpuPick> got = pick(avail_, n, near, end);
    if (got.size() < n) {
      std::vector<CpuPick> more = pick(spare_, n - got.size(), {}, end);
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
      for (std::size_t i = got.size(), j = 0; i < n; ++i, ++j) got.push_back(pick_of(t_, wrap[j % wrap.size()]));
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
    note_numa_confinement();
    if (!plan_.unused.empty()) {
      plan_.notes.push_back("CPUs " + plan_.unused.to_string() + " are left unpinned, to the OS (" +
                            (pol_.use_smt ? "" : "SMT siblings, ") + "cores the pools do not need)");
    }
    return std::move(plan_);
  }

  // Rule 3a's outcome, stated: which node each pool lies in, or why it spans several.
  void note_numa_confinement() {
    if (t_.numa_nodes() < 2) return;
    std::string where;
    for (const PoolPlan* p : {&plan_.compute, &plan_.render}) {
      if (p->numa_nodes.size() == 1) {
        where += std::string(where.empty() ? "" : ", ") + p->name + " on NUMA node " + std::to_string(p->numa_nodes[0]);
      } else if (p->numa_nodes.size() > 1) {
        plan_.notes.push_back(p->name + " spans NUMA nodes " + CpuSet(p->numa_nodes).to_string() + ": no node has " +
                              std::to_string(p->threads.size()) + " free CPUs for it");
      }
    }
    if (!where.empty()) plan_.notes.push_back("each pool within one NUMA node where one holds it: " + where);
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
    if (plan_.degraded && !pol_.allow_oversubscribe) return {};  // rule 6 did it, and warned
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
  std::vector<CpuPick> compute_;
  std::vector<CpuPick> render_;
  std::vector<CpuPick> avail_;  // first PU of each remaining core (all PUs with use_smt)
  std::vector<CpuPick> spare_;  // SMT siblings, used only when whole cores run out
  GpuLocality gpu_;
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
  if (plan.allowed.size() < t.all_cpus().size()) {
    plan.notes.push_back("only " + std::to_string(plan.allowed.size()) + " of the machine's " +
                         std::to_string(t.all_cpus().size()) + " CPUs are allowed (" + plan.allowed.to_string() +
                         ": cgroup cpuset, affinity mask or --allowed); the plan stays inside them");
  }
  auto taken = claim_explicit_lists(pol, plan.allowed, plan.warnings);
  if (!taken) return taken.error();
  return Planner(t, pol, std::move(plan), gather_free_cores(t, taken.value())).run();
}

}  // namespace triptych::sched
