// SPDX-License-Identifier: Apache-2.0
// The core planner (include/triptych/sched/core_plan.hpp): pure functions,
// callable from any thread. The rules it follows, and why, are in
// docs/scheduler.md ("Core plan").
#include "triptych/sched/core_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
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

std::string cpus_of(const std::vector<std::uint32_t>& threads) { return CpuSet(threads).to_string(); }

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

void describe(const Topology& t, PoolPlan& p, const std::vector<Slot>& slots) {
  std::set<std::uint32_t> kinds;
  std::set<std::uint32_t> numa;
  for (const Slot& s : slots) {
    p.threads.push_back(s.cpu);
    kinds.insert(s.kind);
    numa.insert(s.numa);
  }
  (void)t;
  p.cpus = CpuSet(p.threads);
  p.kinds.assign(kinds.begin(), kinds.end());
  p.numa_nodes.assign(numa.begin(), numa.end());
  p.mixed_kinds = kinds.size() > 1;
}

Slot slot_of(const Topology& t, std::uint32_t cpu) {
  const Core* c = t.core_of(cpu);
  return Slot{cpu, c->index, c->numa, c->l3, c->kind};
}

std::string json_list(const std::vector<std::uint32_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string json_str(const std::string& in) {
  std::string s = "\"";
  for (char c : in) {
    if (c == '"' || c == '\\') s += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    s += c;
  }
  return s + "\"";
}

}  // namespace

Result<int> parse_count(const std::string& what, const std::string& text, int min_value) {
  int v = 0;
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), last, v);
  if (text.empty() || ec != std::errc() || ptr != last) {
    return make_error(Errc::kInvalidArgument, what + " must be an integer, got '" + text + "'");
  }
  if (v < min_value) {
    return make_error(Errc::kInvalidArgument,
                      what + " must be at least " + std::to_string(min_value) + ", got " + text);
  }
  return v;
}

Result<void> apply_env(PlanPolicy& policy, const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* name) -> const char* {
    return getenv ? getenv(name) : std::getenv(name);
  };
  struct CountVar { const char* name; std::optional<int>* field; int min; };
  const CountVar counts[] = {{"TRIPTYCH_RESERVED_CORES", &policy.reserved_cores, 0},
                             {"TRIPTYCH_COMPUTE_THREADS", &policy.compute_threads, 1},
                             {"TRIPTYCH_RENDER_THREADS", &policy.render_threads, 1}};
  for (const CountVar& c : counts) {
    if (const char* v = get(c.name); v != nullptr) {
      auto r = parse_count(c.name, v, c.min);
      if (!r) return r.error();
      *c.field = r.value();
    }
  }
  struct ListVar { const char* name; std::optional<CpuSet>* field; };
  const ListVar lists[] = {{"TRIPTYCH_RESERVED_CPUS", &policy.reserved_cpus},
                           {"TRIPTYCH_COMPUTE_CPUS", &policy.compute_cpus},
                           {"TRIPTYCH_RENDER_CPUS", &policy.render_cpus}};
  for (const ListVar& l : lists) {
    if (const char* v = get(l.name); v != nullptr) {
      auto r = CpuSet::parse(v);
      if (!r) return make_error(Errc::kInvalidArgument, std::string(l.name) + ": " + r.error().message);
      *l.field = r.value();
    }
  }
  struct FlagVar { const char* name; bool* field; };
  const FlagVar flags[] = {{"TRIPTYCH_SMT", &policy.use_smt},
                           {"TRIPTYCH_OVERSUBSCRIBE", &policy.allow_oversubscribe}};
  for (const FlagVar& f : flags) {
    if (const char* v = get(f.name); v != nullptr) {
      const std::string s = v;
      if (s != "0" && s != "1") {
        return make_error(Errc::kInvalidArgument, std::string(f.name) + " must be 0 or 1, got '" + s + "'");
      }
      *f.field = s == "1";
    }
  }
  return {};
}

Result<CorePlan> plan_cores(const Topology& t, const PlanPolicy& pol) {
  if (pol.reserved_cores && *pol.reserved_cores < 0) {
    return make_error(Errc::kInvalidArgument,
                      "reserved cores must be at least 0, got " + std::to_string(*pol.reserved_cores));
  }
  if (pol.compute_threads && *pol.compute_threads < 1) {
    return make_error(Errc::kInvalidArgument,
                      "compute threads must be at least 1, got " + std::to_string(*pol.compute_threads));
  }
  if (pol.render_threads && *pol.render_threads < 1) {
    return make_error(Errc::kInvalidArgument,
                      "render threads must be at least 1, got " + std::to_string(*pol.render_threads));
  }
  const CpuSet& allowed = t.allowed();
  if (allowed.empty()) return make_error(Errc::kInvalidArgument, "the allowed CPU set is empty");

  CorePlan plan;
  plan.allowed = allowed;
  plan.compute.name = "compute";
  plan.render.name = "render";
  {
    std::ostringstream os;
    os << t.source() << ": " << t.packages() << " package(s), " << t.numa_nodes() << " NUMA node(s), "
       << t.l3_groups() << " L3 group(s), " << t.cores().size() << " cores, " << t.pus().size()
       << " PUs, " << t.kinds().size() << " CPU kind(s); allowed CPUs " << allowed.to_string() << " ("
       << allowed.size() << " PUs on " << t.allowed_core_count() << " cores)";
    plan.topology = os.str();
  }
  const bool forced = pol.allow_oversubscribe;

  // Explicit CPU lists: inside the allowed set, and disjoint unless forced.
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
      if (!forced) {
        return make_error(Errc::kOverlap, std::string(name) + " CPUs overlap another set at " +
                                              overlap.to_string() + " (pass --oversubscribe to force)");
      }
      plan.warnings.push_back(std::string(name) + " CPUs overlap another set at " + overlap.to_string() +
                              " (forced)");
    }
    taken = taken.unite(**list);
  }

  // Free cores (allowed PUs not claimed by an explicit list), reserved first
  // from the slowest kind, then in hwloc order (cores 0-2 on a uniform machine).
  struct FreeCore { std::uint32_t core; std::vector<std::uint32_t> pus; std::uint32_t kind; };
  std::vector<FreeCore> free;
  std::set<std::uint32_t> kinds_present;
  for (const Core& c : t.cores()) {
    std::vector<std::uint32_t> pus;
    for (std::uint32_t p : c.allowed_pus) {
      if (!taken.contains(p)) pus.push_back(p);
    }
    if (!pus.empty()) free.push_back(FreeCore{c.index, pus, c.kind});
    if (!c.allowed_pus.empty()) kinds_present.insert(c.kind);
  }
  const bool hybrid = kinds_present.size() > 1;
  const std::uint32_t top_kind = kinds_present.empty() ? 0 : *kinds_present.rbegin();
  const bool counts_default = !pol.compute_threads && !pol.render_threads && !pol.compute_cpus &&
                              !pol.render_cpus && !pol.reserved_cores && !pol.reserved_cpus;

  std::vector<Slot> compute_slots;
  std::vector<Slot> render_slots;
  std::vector<Slot> avail;   // first PU of each remaining core (all PUs with use_smt)
  std::vector<Slot> spare;   // SMT siblings, used only when whole cores run out

  if (counts_default && free.size() <= 2 && !pol.use_smt) {
    // Small machines: reserved and render share core 0; compute owns the other.
    const FreeCore& c0 = free.front();
    plan.reserved = CpuSet{c0.pus.front()};
    plan.shared_core = true;
    if (free.size() == 2) {
      compute_slots.push_back(slot_of(t, free[1].pus.front()));
      render_slots.push_back(slot_of(t, c0.pus.size() > 1 ? c0.pus[1] : c0.pus.front()));
      for (std::size_t i = 2; i < c0.pus.size(); ++i) plan.reserved.insert(c0.pus[i]);
      for (std::size_t i = 1; i < free[1].pus.size(); ++i) spare.push_back(slot_of(t, free[1].pus[i]));
      plan.notes.push_back("2 cores: compute owns core " + std::to_string(free[1].core) +
                           " (1 thread); reserved (orchestrator/UI/OS) and render share core " +
                           std::to_string(c0.core) + (c0.pus.size() > 1 ? " on separate SMT siblings" : " and its CPU") +
                           "; render and the frame loop compete for that core");
    } else {
      const auto& pus = c0.pus;
      compute_slots.push_back(slot_of(t, pus.size() > 1 ? pus[1] : pus[0]));
      if (pus.size() > 2) {
        render_slots.push_back(slot_of(t, pus[2]));
      } else if (pus.size() == 2) {
        render_slots.push_back(slot_of(t, pus[0]));
      }
      for (std::size_t i = 3; i < pus.size(); ++i) plan.reserved.insert(pus[i]);
      plan.notes.push_back(pus.size() == 1
                               ? "1 CPU: compute gets 1 thread on CPU " + std::to_string(pus[0]) +
                                     "; no render threads (render work runs on the thread that waits for "
                                     "it); everything shares that CPU"
                               : "1 core: reserved, compute and render share it on its SMT siblings");
    }
  } else {
    // Reserved.
    if (pol.reserved_cpus) {
      plan.reserved = *pol.reserved_cpus;
    } else {
      int r = pol.reserved_cores ? *pol.reserved_cores : (free.size() >= 3 ? default_reserved(free.size()) : 0);
      const bool pools_explicit = pol.compute_cpus && pol.render_cpus;
      if (!pools_explicit && static_cast<std::size_t>(r) >= free.size()) {
        return make_error(Errc::kInvalidArgument, "reserving " + std::to_string(r) + " of " +
                                                      std::to_string(free.size()) +
                                                      " free cores leaves none for the pools");
      }
      std::vector<std::size_t> order(free.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return hybrid && free[a].kind < free[b].kind;
      });
      std::vector<bool> is_reserved(free.size(), false);
      for (int i = 0; i < r && static_cast<std::size_t>(i) < order.size(); ++i) {
        is_reserved[order[static_cast<std::size_t>(i)]] = true;
        for (std::uint32_t p : free[order[static_cast<std::size_t>(i)]].pus) plan.reserved.insert(p);
      }
      if (r == 0) plan.notes.push_back("no cores reserved");
      std::vector<FreeCore> rest;
      for (std::size_t i = 0; i < free.size(); ++i) {
        if (!is_reserved[i]) rest.push_back(free[i]);
      }
      free = std::move(rest);
      if (r > 0) {
        plan.notes.push_back("reserved " + std::to_string(r) + " core(s) for the orchestrator, UI and OS" +
                             (hybrid ? " from the most efficient CPU kind" : "") +
                             (pol.reserved_cores ? "" : " (default: a quarter of the cores, 1 to 3)"));
      }
    }
    // Pool slots: fastest kind first, then hwloc order (NUMA node, L3, core).
    for (const FreeCore& c : free) {
      for (std::size_t i = 0; i < c.pus.size(); ++i) {
        if (plan.reserved.contains(c.pus[i])) continue;
        ((i == 0 || pol.use_smt) ? avail : spare).push_back(slot_of(t, c.pus[i]));
      }
    }
    std::stable_sort(avail.begin(), avail.end(), [](const Slot& a, const Slot& b) { return a.kind > b.kind; });

    // Explicit lists first.
    auto from_list = [&](const CpuSet& list, std::optional<int> count, const char* name,
                         std::vector<Slot>& out) -> Result<void> {
      const std::size_t n = count ? static_cast<std::size_t>(*count) : list.size();
      if (n > list.size() && !forced) {
        return make_error(Errc::kInvalidArgument, std::to_string(n) + " " + name + " threads on " +
                                                      std::to_string(list.size()) + " CPUs (" + list.to_string() +
                                                      ") would oversubscribe them (pass --oversubscribe to force)");
      }
      for (std::size_t i = 0; i < n; ++i) out.push_back(slot_of(t, list[i % list.size()]));
      return {};
    };
    if (pol.compute_cpus) {
      if (auto r = from_list(*pol.compute_cpus, pol.compute_threads, "compute", compute_slots); !r) return r.error();
    }
    if (pol.render_cpus) {
      if (auto r = from_list(*pol.render_cpus, pol.render_threads, "render", render_slots); !r) return r.error();
    }

    // Counts.
    std::size_t nc = pol.compute_cpus ? 0 : (pol.compute_threads ? static_cast<std::size_t>(*pol.compute_threads) : 0);
    std::size_t nr = pol.render_cpus ? 0 : (pol.render_threads ? static_cast<std::size_t>(*pol.render_threads) : 0);
    const bool c_auto = !pol.compute_cpus && !pol.compute_threads;
    const bool r_auto = !pol.render_cpus && !pol.render_threads;
    std::size_t top_slots = 0;
    std::set<std::uint64_t> domains;
    for (const Slot& s : avail) {
      if (s.kind == top_kind) ++top_slots;
      domains.insert(s.domain());
    }
    bool by_domain = false;
    if (c_auto && r_auto) {
      std::size_t pool_slots = avail.size();
      if (hybrid && top_slots >= 2) {
        pool_slots = top_slots;
        plan.notes.push_back("hybrid CPU: compute and render take the fastest kind (" + kind_name(t, top_kind) +
                             "); the remaining slower cores are left to the OS");
      } else if (domains.size() > 1) {
        by_domain = true;
      }
      nc = (pool_slots + 1) / 2;
      nr = pool_slots - nc;
      if (!by_domain) plan.notes.push_back("compute and render split the remaining cores in halves");
    } else if (c_auto) {
      nc = avail.size() > nr ? avail.size() - nr : 0;
    } else if (r_auto) {
      nr = avail.size() > nc ? avail.size() - nc : 0;
    }

    if (by_domain) {
      // Each NUMA node / L3 group goes whole to one pool: largest first, to the
      // pool with fewer threads so far, so neither pool straddles a node it shares.
      std::map<std::uint64_t, std::vector<Slot>> per;
      for (const Slot& s : avail) per[s.domain()].push_back(s);
      std::vector<std::vector<Slot>> groups;
      for (auto& [d, v] : per) groups.push_back(std::move(v));
      std::stable_sort(groups.begin(), groups.end(),
                       [](const auto& a, const auto& b) { return a.size() > b.size(); });
      for (auto& g : groups) {
        auto& dst = compute_slots.size() <= render_slots.size() ? compute_slots : render_slots;
        dst.insert(dst.end(), g.begin(), g.end());
      }
      avail.clear();
      plan.notes.push_back("multiple NUMA nodes / L3 groups: each one goes whole to one pool");
    } else {
      auto fill = [&](std::size_t n, const char* name, std::vector<Slot>& out) -> Result<void> {
        std::vector<Slot> got = pick(avail, n);
        if (got.size() < n) {
          std::vector<Slot> more = pick(spare, n - got.size());
          if (!more.empty()) {
            plan.notes.push_back(std::string(name) + " ran out of whole cores and uses " +
                                 std::to_string(more.size()) + " SMT sibling(s)");
          }
          got.insert(got.end(), more.begin(), more.end());
        }
        if (got.size() < n) {
          if (!forced) {
            return make_error(Errc::kInvalidArgument,
                              std::string(name) + " needs " + std::to_string(n) + " threads but only " +
                                  std::to_string(got.size()) + " free CPUs remain of " +
                                  std::to_string(allowed.size()) +
                                  " allowed: that would oversubscribe (pass --oversubscribe to force)");
          }
          const CpuSet pool_cpus = allowed.minus(plan.reserved);
          const CpuSet& wrap = pool_cpus.empty() ? allowed : pool_cpus;
          for (std::size_t i = got.size(), j = 0; i < n; ++i, ++j) got.push_back(slot_of(t, wrap[j % wrap.size()]));
        }
        out.insert(out.end(), got.begin(), got.end());
        return {};
      };
      if (nc == 0 && !pol.compute_cpus) {
        return make_error(Errc::kInvalidArgument, "no CPU left for the compute pool");
      }
      if (auto r = fill(nc, "compute", compute_slots); !r) return r.error();
      if (auto r = fill(nr, "render", render_slots); !r) return r.error();
    }
  }

  describe(t, plan.compute, compute_slots);
  describe(t, plan.render, render_slots);
  for (const PoolPlan* p : {&plan.compute, &plan.render}) {
    if (p->mixed_kinds) {
      std::string ks;
      for (std::uint32_t k : p->kinds) ks += (ks.empty() ? "" : " and ") + kind_name(t, k);
      plan.warnings.push_back(p->name + " mixes CPU kinds (" + ks + ") because the fastest kind ran out");
    }
  }
  plan.unused = allowed.minus(plan.reserved).minus(plan.compute.cpus).minus(plan.render.cpus);
  std::multiset<std::uint32_t> pinned(plan.compute.threads.begin(), plan.compute.threads.end());
  pinned.insert(plan.render.threads.begin(), plan.render.threads.end());
  bool repeated = false;
  for (std::uint32_t c : pinned) repeated = repeated || pinned.count(c) > 1;
  plan.oversubscribed = plan.pool_threads() > allowed.size() || repeated;
  if (plan.oversubscribed) {
    if (!forced) {
      return make_error(Errc::kInvalidArgument, "the plan would pin " + std::to_string(plan.pool_threads()) +
                                                    " pool threads on " + std::to_string(allowed.size()) +
                                                    " allowed CPUs (pass --oversubscribe to force)");
    }
    plan.warnings.push_back("OVERSUBSCRIBED (forced): " + std::to_string(plan.pool_threads()) +
                            " pool threads on " + std::to_string(allowed.size()) +
                            " allowed CPUs; expect context switches and latency spikes");
  }
  if (!plan.unused.empty()) {
    plan.notes.push_back("CPUs " + plan.unused.to_string() + " are left unpinned (" +
                         (pol.use_smt ? "spare" : "SMT siblings or spare cores") + ")");
  }
  return plan;
}

std::string CorePlan::to_table() const {
  std::ostringstream os;
  os << "topology: " << topology << "\n\n";
  os << "set        threads  CPUs              NUMA nodes  kinds\n";
  os << "---------  -------  ----------------  ----------  -----\n";
  auto pad = [](std::string v, std::size_t w) {
    if (v.empty()) v = "-";
    v.resize(std::max(w, v.size() + 2), ' ');
    return v;
  };
  auto row = [&](const std::string& name, const std::string& threads, const std::string& cpus,
                 const std::vector<std::uint32_t>& numa, const std::vector<std::uint32_t>& kinds) {
    os << pad(name, 11) << pad(threads, 9) << pad(cpus, 18) << pad(numa.empty() ? "" : cpus_of(numa), 12)
       << (kinds.empty() ? "-" : cpus_of(kinds)) << "\n";
  };
  row("reserved", "-", reserved.to_string(), {}, {});
  row("compute", std::to_string(compute.threads.size()), cpus_of(compute.threads), compute.numa_nodes, compute.kinds);
  row("render", std::to_string(render.threads.size()), cpus_of(render.threads), render.numa_nodes, render.kinds);
  row("unused", "-", unused.to_string(), {}, {});
  os << "\npool threads " << pool_threads() << " on " << allowed.size() << " allowed CPUs"
     << (oversubscribed ? " (OVERSUBSCRIBED)" : "") << "\n";
  for (const auto& n : notes) os << "note: " << n << "\n";
  for (const auto& w : warnings) os << "WARNING: " << w << "\n";
  return os.str();
}

std::string CorePlan::to_json() const {
  std::ostringstream os;
  auto pool = [&](const PoolPlan& p) {
    os << "{\"threads\":" << json_list(p.threads) << ",\"cpus\":" << json_list(p.cpus.cpus())
       << ",\"numa_nodes\":" << json_list(p.numa_nodes) << ",\"kinds\":" << json_list(p.kinds)
       << ",\"mixed_kinds\":" << (p.mixed_kinds ? "true" : "false") << "}";
  };
  os << "{\"topology\":" << json_str(topology) << ",\"allowed\":" << json_list(allowed.cpus())
     << ",\"reserved\":" << json_list(reserved.cpus()) << ",\"compute\":";
  pool(compute);
  os << ",\"render\":";
  pool(render);
  os << ",\"unused\":" << json_list(unused.cpus()) << ",\"pool_threads\":" << pool_threads()
     << ",\"oversubscribed\":" << (oversubscribed ? "true" : "false")
     << ",\"shared_core\":" << (shared_core ? "true" : "false") << ",\"notes\":[";
  for (std::size_t i = 0; i < notes.size(); ++i) os << (i ? "," : "") << json_str(notes[i]);
  os << "],\"warnings\":[";
  for (std::size_t i = 0; i < warnings.size(); ++i) os << (i ? "," : "") << json_str(warnings[i]);
  os << "]}";
  return os.str();
}

}  // namespace triptych::sched
