// SPDX-License-Identifier: Apache-2.0
// triptych-plan: prints the core plan (reserved / compute / render CPU sets)
// triptych would use on this machine, or on another one given its hwloc XML,
// as a table or as JSON. A native stand-in for `triptych plan` until the Node
// CLI exists. Single-threaded. Exit codes: 0 ok, 1 no valid plan, 2 bad usage.
// See docs/scheduler.md.
#include <cstdio>
#include <cstring>
#include <string>

#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/topology.hpp"

namespace {

using triptych::sched::CpuSet;

constexpr const char* kUsage =
    "usage: triptych-plan [options]\n"
    "Prints the CPU sets triptych pins its threads to: reserved (orchestrator, UI, OS),\n"
    "compute and render.\n\n"
    "  --topology FILE        plan for the machine described by this hwloc XML file\n"
    "                         (lstopo --of xml); HWLOC_XMLFILE works too\n"
    "  --synthetic DESC       plan for an hwloc synthetic topology, e.g. 'pack:2 core:8 pu:2'\n"
    "  --allowed LIST         restrict the allowed CPUs further, e.g. 0-5 (as a cgroup would)\n"
    "  --reserved-cores N     cores to reserve (default: a quarter of the cores, 1 to 3)\n"
    "  --compute-threads N    compute pool threads (default: the free cores of one NUMA node)\n"
    "  --render-threads N     render pool threads (default: 4, at most half the pool CPUs)\n"
    "  --reserved-cpus LIST   explicit reserved CPUs, e.g. 0-2\n"
    "  --compute-cpus LIST    explicit compute CPUs\n"
    "  --render-cpus LIST     explicit render CPUs\n"
    "  --smt                  one thread per hardware thread instead of per core\n"
    "  --oversubscribe        allow more pool threads than CPUs (prints a warning)\n"
    "  --json                 print JSON instead of a table\n"
    "  --help                 this text\n\n"
    "Environment (flags win): TRIPTYCH_RESERVED_CORES, TRIPTYCH_COMPUTE_THREADS,\n"
    "TRIPTYCH_RENDER_THREADS, TRIPTYCH_RESERVED_CPUS, TRIPTYCH_COMPUTE_CPUS,\n"
    "TRIPTYCH_RENDER_CPUS, TRIPTYCH_SMT=0|1, TRIPTYCH_OVERSUBSCRIBE=0|1.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "triptych-plan: %s\nRun 'triptych-plan --help' for the options.\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  triptych::sched::TopologyOptions topt;
  triptych::sched::PlanPolicy policy;
  if (auto env = triptych::sched::apply_env(policy); !env) return usage_error(env.error().message);
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--smt") {
      policy.use_smt = true;
    } else if (a == "--oversubscribe") {
      policy.allow_oversubscribe = true;
    } else if (a == "--topology" || a == "--synthetic" || a == "--allowed" || a == "--reserved-cores" ||
               a == "--compute-threads" || a == "--render-threads" || a == "--reserved-cpus" ||
               a == "--compute-cpus" || a == "--render-cpus") {
      if (!value(v)) return usage_error(a + " needs a value");
      if (a == "--topology") {
        topt.xml_file = v;
      } else if (a == "--synthetic") {
        topt.synthetic = v;
      } else if (a.ends_with("-cores") || a.ends_with("-threads")) {
        auto n = triptych::sched::parse_count(a, v, a == "--reserved-cores" ? 0 : 1);
        if (!n) return usage_error(n.error().message);
        (a == "--reserved-cores" ? policy.reserved_cores
                                 : a == "--compute-threads" ? policy.compute_threads : policy.render_threads) = n.value();
      } else {
        auto set = CpuSet::parse(v);
        if (!set) return usage_error(a + ": " + set.error().message);
        if (a == "--allowed") {
          topt.restrict_allowed = true;
          topt.allowed = set.value();
        } else {
          (a == "--reserved-cpus" ? policy.reserved_cpus
                                  : a == "--compute-cpus" ? policy.compute_cpus : policy.render_cpus) = set.value();
        }
      }
    } else {
      return usage_error("unknown option '" + a + "'");
    }
  }
  auto topo = triptych::sched::Topology::load(topt);
  if (!topo) {
    std::fprintf(stderr, "triptych-plan: %s\n", topo.error().what().c_str());
    return 1;
  }
  auto plan = triptych::sched::plan_cores(topo.value(), policy);
  if (!plan) {
    std::fprintf(stderr, "triptych-plan: %s\n", plan.error().what().c_str());
    return 1;
  }
  if (json) {
    std::printf("%s\n", plan->to_json().c_str());
  } else {
    std::fputs(plan->to_table().c_str(), stdout);
  }
  for (const auto& w : plan->warnings) std::fprintf(stderr, "triptych-plan: warning: %s\n", w.c_str());
  return 0;
}
