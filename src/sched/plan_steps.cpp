// SPDX-License-Identifier: Apache-2.0
// The core planner's parts (declared in plan_internal.hpp): picking picks for
// a pool, the free cores, the GPU's locality and the first rules of
// docs/scheduler.md ("Core plan"). Pure functions; any thread.
#include "plan_internal.hpp"

#include <algorithm>
#include <sstream>

namespace triptych::sched::plan_internal {

int default_reserved(std::size_t cores) {
  return std::clamp(static_cast<int>(cores / 4), 1, kMaxReservedCores);
}

std::string kind_name(const Topology& t, std::uint32_t k) {
  const auto& ks = t.kinds();
  if (k < ks.size() && !ks[k].name.empty()) return ks[k].name;
  return "kind " + std::to_string(k);
}



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

// Picks n picks from `avail` (removing them): the fastest kind first; inside
// it, one NUMA node that holds them all (a `near` node first, else the
// smallest that fits) and inside that node one L3 group that holds them all
// (smallest that fits), else the node's picks in order. When no node holds
// n, whole nodes, largest first. Returns fewer than n when `avail` runs out.
std::vector<CpuPick> pick(std::vector<CpuPick>& avail, std::size_t n, const std::set<std::uint32_t>& near, End end) {
  std::vector<CpuPick> out;
  if (n == 0 || avail.empty()) return out;
  std::uint32_t top_kind = 0;
  for (const CpuPick& s : avail) top_kind = std::max(top_kind, s.kind);
  for (int tier = 0; tier < 2 && out.size() < n; ++tier) {
    auto eligible = [&](const CpuPick& s) { return tier == 1 || s.kind == top_kind; };
    const std::size_t need = n - out.size();
    std::map<std::uint32_t, std::size_t> per_node;
    for (const CpuPick& s : avail) {
      if (eligible(s)) ++per_node[s.numa];
    }
    std::vector<CpuPick> candidates;
    if (const auto home = best_fit(per_node, need, near)) {
      std::map<std::uint32_t, std::size_t> per_l3;
      for (const CpuPick& s : avail) {
        if (eligible(s) && s.numa == *home) ++per_l3[s.l3];
      }
      const auto l3 = best_fit(per_l3, need, {});
      for (const CpuPick& s : avail) {
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
        for (const CpuPick& s : avail) {
          if (eligible(s) && s.numa == node) candidates.push_back(s);
        }
      }
    }
    if (candidates.size() > need) candidates.resize(need);
    std::set<std::uint32_t> taken;
    for (const CpuPick& s : candidates) taken.insert(s.cpu);
    std::erase_if(avail, [&](const CpuPick& s) { return taken.contains(s.cpu); });
    out.insert(out.end(), candidates.begin(), candidates.end());
  }
  return out;
}

void describe(PoolPlan& p, const std::vector<CpuPick>& picks) {
  std::set<std::uint32_t> kinds;
  std::set<std::uint32_t> numa;
  for (const CpuPick& s : picks) {
    p.threads.push_back(s.cpu);
    kinds.insert(s.kind);
    numa.insert(s.numa);
  }
  p.cpus = CpuSet(p.threads);
  p.kinds.assign(kinds.begin(), kinds.end());
  p.numa_nodes.assign(numa.begin(), numa.end());
  p.mixed_kinds = kinds.size() > 1;
}

std::vector<std::uint32_t> cpus_of(const std::vector<CpuPick>& picks) {
  std::vector<std::uint32_t> out;
  for (const CpuPick& s : picks) out.push_back(s.cpu);
  return out;
}

CpuPick pick_of(const Topology& t, std::uint32_t cpu) {
  const Core* c = t.core_of(cpu);
  return CpuPick{cpu, c->index, c->numa, c->l3, c->kind};
}

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

}  // namespace triptych::sched::plan_internal
