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


// Which end of its group a pool takes slots from: compute the low CPUs,
// render the high ones, so pools that share a node or L3 group stay contiguous.
enum class End { kLow, kHigh };

// The key whose count is >= need: a preferred key first, then the smallest
// count (best fit, so larger groups stay whole for the other pool), then the
// lowest key. Empty when no key holds `need`.
std::optional<std::uint32_t> best_fit(const std::map<std::uint32_t, std::size_t>& counts, std::size_t need,
                                      const std::set<std::uint32_t>& preferred) {
  std::optional<std::uint32_t> fit;
  auto better = [&](std::uint32_t a, std::uint32_t b) {
    const bool pa = preferred.contains(a);
    const bool pb = preferred.contains(b);
    if (pa != pb) return pa;
    return counts.at(a) < counts.at(b);
  };
  for (const auto& [key, count] : counts) {
    if (count >= need && (!fit || better(key, *fit))) fit = key;
  }
  return fit;
}

// Picks n slots from `avail` (removing them): the fastest kind first; inside
// it, one NUMA node that holds them all (a `near` node first, else the
// smallest that fits) and inside that node one L3 group that holds them all
// (smallest that fits), else the node's slots in order. When no node holds
// n, whole nodes, largest first. Returns fewer than n when `avail` runs out.
std::vector<Slot> pick(std::vector<Slot>& avail, std::size_t n, const std::set<std::uint32_t>& near, End end) {
  std::vector<Slot> out;
  if (n == 0 || avail.empty()) return out;
  std::uint32_t top_kind = 0;
  for (const Slot& s : avail) top_kind = std::max(top_kind, s.kind);
  for (int tier = 0; tier < 2 && out.size() < n; ++tier) {
    auto eligible = [&](const Slot& s) { return tier == 1 || s.kind == top_kind; };
    const std::size_t need = n - out.size();
    std::map<std::uint32_t, std::size_t> per_node;
    for (const Slot& s : avail) {
      if (eligible(s)) ++per_node[s.numa];
    }
    std::vector<Slot> candidates;
    if (const auto home = best_fit(per_node, need, near)) {
      std::map<std::uint32_t, std::size_t> per_l3;
      for (const Slot& s : avail) {
        if (eligible(s) && s.numa == *home) ++per_l3[s.l3];
      }
      const auto l3 = best_fit(per_l3, need, {});
      for (const Slot& s : avail) {
        if (eligible(s) && s.numa == *home && (!l3 || s.l3 == *l3)) candidates.push_back(s);
      }
      if (end == End::kHigh) candidates.erase(candidates.begin(), candidates.end() - static_cast<std::ptrdiff_t>(need));
    } else {
      std::vector<std::uint32_t> nodes;
      for (const auto& [node, count] : per_node) nodes.push_back(node);
      std::stable_sort(nodes.begin(), nodes.end(), [&](std::uint32_t a, std::uint32_t b) {
        if (per_node[a] != per_node[b]) return per_node[a] > per_node[b];
        return near.contains(a) && !near.contains(b);
      });
      for (std::uint32_t node : nodes) {
        for (const Slot& s : avail) {
          if (eligible(s) && s.numa == node) candidates.push_back(s);
        }
      }
    }
    if (candidates.size() > need) candidates.resize(need);
    std::set<std::uint32_t> taken;
    for (const Slot& s : candidates) taken.insert(s.cpu);
    std::erase_if(avail, [&](const Slot& s) { return taken.contains(s.cpu); });
    out.insert(out.end(), candidates.begin(), candidates.end());
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

std::vector<std::uint32_t> cpus_of(const std::vector<Slot>& slots) {
  std::vector<std::uint32_t> out;
  for (const Slot& s : slots) out.push_back(s.cpu);
  return out;
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

// The NUMA nodes nearest the GPU, when hwloc knows them and they say
// something: empty when there is no GPU, when it is local to every node, or
// when GPUs sit near different nodes (the plan cannot know which one renders).
struct GpuLocality {
  std::set<std::uint32_t> nodes;
  std::string note;  // what the plan did with the GPU's locality, for the notes
};

GpuLocality gpu_locality(const Topology& t) {
  GpuLocality out;
  if (t.gpus().empty()) return out;
  const Gpu& first = t.gpus().front();
  for (const Gpu& g : t.gpus()) {
    if (g.numa_nodes != first.numa_nodes) {
      out.note = "GPUs sit near different NUMA nodes; no node is preferred for render";
      return out;
    }
  }
  // Local to every CPU (e.g. its bridge hangs off the machine): nothing to prefer.
  if (first.numa_nodes.empty() || t.all_cpus().is_subset_of(first.local_cpus)) return out;
  out.nodes.insert(first.numa_nodes.begin(), first.numa_nodes.end());
  out.note = "GPU " + first.name + " (PCI " + first.pci_bus_id + ") is nearest NUMA node(s) " +
             CpuSet(first.numa_nodes).to_string();
  return out;
}

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
    compute_.push_back(slot_of(t_, c1.pus.front()));
    render_.push_back(slot_of(t_, c0.pus.size() > 1 ? c0.pus[1] : c0.pus.front()));
    for (std::size_t i = 2; i < c0.pus.size(); ++i) plan_.reserved.insert(c0.pus[i]);
    for (std::size_t i = 1; i < c1.pus.size(); ++i) spare_.push_back(slot_of(t_, c1.pus[i]));
    plan_.notes.push_back("2 cores: compute owns core " + std::to_string(c1.core) +
                          " (1 thread); reserved (orchestrator/UI/OS) and render share core " +
                          std::to_string(c0.core) + (c0.pus.size() > 1 ? " on separate SMT siblings" : " and its CPU") +
                          "; render and the frame loop compete for that core");
  }

  // One PU: compute takes it and render is given it too (degraded, see
  // give_every_pool_a_thread).
  void plan_one_core(const std::vector<std::uint32_t>& pus) {
    compute_.push_back(slot_of(t_, pus.size() > 1 ? pus[1] : pus[0]));
    if (pus.size() > 2) {
      render_.push_back(slot_of(t_, pus[2]));
    } else if (pus.size() == 2) {
      render_.push_back(slot_of(t_, pus[0]));
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
    collect_slots();
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
        avail_.begin(), avail_.end(), [&](const Slot& s) { return s.kind == top_kind_; }));
    if (!hybrid_ || top < 2) return;
    std::erase_if(avail_, [&](const Slot& s) { return s.kind != top_kind_; });
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
                                  [&](const Slot& s) { return gpu_.nodes.contains(s.numa); });
    plan_.notes.push_back(gpu_.note + (near ? ": render is placed there"
                                            : ": too few free CPUs there, render is placed elsewhere"));
  }

  // Rule 3c: compute takes the free CPUs of one NUMA node, the one with the
  // most left (on one node: all that render left).
  void place_default_compute() {
    std::map<std::uint32_t, std::size_t> per_node;
    for (const Slot& s : avail_) ++per_node[s.numa];
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

  // Rule 6: every pool gets at least one thread, so the engine runs on any
  // machine. A pool left with none takes, in order: a CPU no set claims; a
  // reserved CPU the other pool does not use (a shared core, as on 2 cores);
  // the other pool's last CPU, which oversubscribes it: the plan is then
  // degraded and says so.
  void give_every_pool_a_thread() {
    struct Empty { const char* name; std::vector<Slot>& pool; const std::vector<Slot>& other; };
    for (const Empty& e : {Empty{"compute", compute_, render_}, Empty{"render", render_, compute_}}) {
      if (!e.pool.empty()) continue;
      std::vector<Slot> got = pick(avail_, 1, {}, End::kHigh);
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
        e.pool.push_back(slot_of(t_, cpu));
        plan_.shared_core = true;
        plan_.notes.push_back(std::string(e.name) + " has no CPU of its own: 1 thread on reserved CPU " +
                              std::to_string(cpu) + ", shared with the frame loop, UI and OS");
        continue;
      }
      const std::uint32_t cpu = e.other.back().cpu;
      e.pool.push_back(slot_of(t_, cpu));
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
  Result<void> fill(std::size_t n, const char* name, std::vector<Slot>& out, const std::set<std::uint32_t>& near,
                   End end) {
    std::vector<Slot> got = pick(avail_, n, near, end);
    if (got.size() < n) {
      std::vector<Slot> more = pick(spare_, n - got.size(), {}, end);
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
  std::vector<Slot> compute_;
  std::vector<Slot> render_;
  std::vector<Slot> avail_;  // first PU of each remaining core (all PUs with use_smt)
  std::vector<Slot> spare_;  // SMT siblings, used only when whole cores run out
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
