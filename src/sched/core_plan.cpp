// SPDX-License-Identifier: Apache-2.0
// Core plan policy and output (include/triptych/sched/core_plan.hpp): the env
// overrides, count parsing, and the plan as a table or JSON. Pure functions,
// callable from any thread. The planner itself is src/sched/plan_cores.cpp;
// the rules it follows, and why, are in docs/scheduler.md ("Core plan").
#include "triptych/sched/core_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include "triptych/core/json_writer.hpp"

namespace triptych::sched {
namespace {

std::string cpus_of(const std::vector<std::uint32_t>& threads) { return CpuSet(threads).to_string(); }

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
     << (oversubscribed ? " (OVERSUBSCRIBED)" : "") << (degraded ? " (DEGRADED)" : "") << "\n";
  for (const auto& n : notes) os << "note: " << n << "\n";
  for (const auto& w : warnings) os << "WARNING: " << w << "\n";
  return os.str();
}

std::string CorePlan::to_json() const {
  std::ostringstream os;
  JsonWriter w(os);
  auto pool = [&](std::string_view name, const PoolPlan& p) {
    w.key(name);
    w.begin_object();
    w.field("threads", p.threads);
    w.field("cpus", p.cpus.cpus());
    w.field("numa_nodes", p.numa_nodes);
    w.field("kinds", p.kinds);
    w.field("mixed_kinds", p.mixed_kinds);
    w.end_object();
  };
  w.begin_object();
  w.field("topology", topology);
  w.field("allowed", allowed.cpus());
  w.field("reserved", reserved.cpus());
  pool("compute", compute);
  pool("render", render);
  w.field("unused", unused.cpus());
  w.field("pool_threads", std::uint64_t{pool_threads()});
  w.field("oversubscribed", oversubscribed);
  w.field("shared_core", shared_core);
  w.field("degraded", degraded);
  w.field("notes", notes);
  w.field("warnings", warnings);
  w.end_object();
  return os.str();
}

}  // namespace triptych::sched
