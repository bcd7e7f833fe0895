// SPDX-License-Identifier: Apache-2.0
// The deadline governor against a load that comes and goes, in one run:
// `make run`'s scene (8000 particles, 60 Hz, 640x480, the CPU reference,
// the native particle kernel) with a render stage made slow for the first
// LOAD seconds (a test stall of 30 ms x the level's render cost: about 2.3x
// over budget at full cost), then fast again. Prints when the governor first
// shed, when it last shed under the load (its convergence), the changes
// while the load held after that, how long after the load dropped it was
// back at full quality, and the late frames of each phase. Figures for
// docs/BENCHMARKS.md; not a test.
//   bench_governor_recovery [cpus...]   (the CPUs are ignored: the engine plans its own)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <thread>

#include "triptych/pipeline/engine.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych_kernel.h"

using namespace triptych;
using namespace triptych::pipeline;

int main() {
  constexpr double kLoadSeconds = 4.0;
  constexpr double kRunSeconds = 14.0;
  auto topo = sched::Topology::load();
  if (!topo) return std::fprintf(stderr, "%s\n", topo.error().what().c_str()), 1;
  auto plan = sched::plan_cores(topo.value());
  if (!plan) return std::fprintf(stderr, "%s\n", plan.error().what().c_str()), 1;
  EngineConfig c;
  c.particles = 8000;
  c.hz = 60;
  c.seconds = kRunSeconds;
  c.renderer = RendererKind::kCpu;
  c.native_kernel = &tp_kernel_step;
  c.plan = plan.value();
  c.governor = true;
  static std::atomic<std::uint64_t> load_until{0};
  c.test_render_stall = [](std::uint64_t, RendererKind, double cost) -> std::uint64_t {
    return trace::now_ns() < load_until.load(std::memory_order_relaxed) ? static_cast<std::uint64_t>(30e6 * cost) : 0;
  };
  auto e = Engine::create(c);
  if (!e) return std::fprintf(stderr, "%s\n", e.error().what().c_str()), 1;
  auto& engine = *e.value();
  const std::uint64_t t0 = trace::now_ns();
  const std::uint64_t drop = t0 + static_cast<std::uint64_t>(kLoadSeconds * 1e9);
  load_until.store(drop, std::memory_order_relaxed);
  if (auto ok = engine.start(); !ok) return std::fprintf(stderr, "%s\n", ok.error().what().c_str()), 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(kLoadSeconds));
  const EngineStatus at_drop = engine.status();
  if (!engine.wait_finished(std::chrono::seconds(60))) return std::fprintf(stderr, "the run did not end\n"), 1;
  engine.stop();
  const EngineStatus end = engine.status();
  const auto ds = engine.governor_decisions();
  double first_shed = -1, last_shed = -1, back_at_full = -1;
  unsigned changes_after_converged = 0;
  for (const auto& d : ds) {
    const double at = static_cast<double>(d.at_ns - t0) * 1e-9;
    const bool shed = d.to_level > d.from_level;
    if (d.at_ns < drop && shed) {
      if (first_shed < 0) first_shed = at;
      last_shed = at;
    }
  }
  for (const auto& d : ds) {
    const double at = static_cast<double>(d.at_ns - t0) * 1e-9;
    if (d.at_ns < drop && at > last_shed) ++changes_after_converged;
    if (d.at_ns >= drop && d.to_level == 0) back_at_full = at - kLoadSeconds;
  }
  std::printf("governor recovery: 8000 particles, 60 Hz, CPU reference, render stalled 30 ms x cost for %.0f s of %.0f s\n",
              kLoadSeconds, kRunSeconds);
  std::printf("  first shed %.2f s, last shed under load %.2f s (converged in %.2f s from the first), %u changes after it while loaded\n",
              first_shed, last_shed, last_shed - first_shed, changes_after_converged);
  std::printf("  back at full quality %.2f s after the load dropped; %zu changes in all\n", back_at_full, ds.size());
  std::printf("  late: %llu of %llu presented while loaded, %llu of %llu after\n",
              static_cast<unsigned long long>(at_drop.late), static_cast<unsigned long long>(at_drop.presented),
              static_cast<unsigned long long>(end.late - at_drop.late),
              static_cast<unsigned long long>(end.presented - at_drop.presented));
  std::printf("  %s\n", engine.delivery_summary().c_str());
  return 0;
}
