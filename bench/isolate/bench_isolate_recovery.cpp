// SPDX-License-Identifier: Apache-2.0
// Isolation mode's recovery time, SIGKILL of the render process -> the next
// new frame at the host, in one run: with the warm standby and with cold
// respawns only, each idle and under `stress-ng --cpu 2` (both CPUs busy
// with a neighbour's load), interleaved in rounds so drift hits all four
// alike. The engine runs at 500 Hz, test mode, 3,000 particles, 160x120,
// the CPU reference in the render process; the host takes every frame
// (host_presents) and polls every 100 us. Kills land at random times 5-20 ms
// apart. Prints p50/p99/max per cell for docs/BENCHMARKS.md ("Isolation
// mode"); not a test.
//   bench_isolate_recovery [cpus...]   (the CPUs are ignored: the engine plans its own)
//   BENCH_RECOVERY_KILLS=N             warm kills per round and condition (default 60; cold: half)
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "triptych/pipeline/engine.hpp"
#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych_kernel.h"

extern char** environ;

using namespace triptych;
using namespace triptych::pipeline;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * p))];
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

// `stress-ng --cpu 2` for as long as it lives (0 when it could not start).
pid_t start_stress() {
  char cmd[] = "stress-ng", cpu[] = "--cpu", two[] = "2", quiet[] = "--quiet";
  char* argv[] = {cmd, cpu, two, quiet, nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "stress-ng", nullptr, nullptr, argv, environ) != 0) return 0;
  std::this_thread::sleep_for(300ms);  // its workers are up
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != 0) return 0;  // it failed (not installed: exec failed)
  return pid;
}

void stop_stress(pid_t pid) {
  if (pid == 0) return;
  ::kill(pid, SIGTERM);  // stress-ng stops its workers on SIGTERM
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// `kills` SIGKILLs against one running engine; the recovery times in ms.
std::vector<double> kill_round(const sched::CorePlan& plan, bool warm, int kills, std::mt19937& rng) {
  EngineConfig c;
  c.particles = 3000;
  c.width = 160;
  c.height = 120;
  c.hz = 500;
  c.frames = 0;
  c.seconds = 0;
  c.renderer = RendererKind::kCpu;
  c.governor = false;
  c.native_kernel = &tp_kernel_step;
  c.plan = plan;
  c.isolate = true;
  c.isolate_warm_standby = warm;
  c.isolate_test_mode = true;
  c.isolate_crash_limit = 1000000;
  c.host_presents = true;
  std::vector<double> ms;
  auto e = Engine::create(c);
  if (!e) return std::fprintf(stderr, "%s\n", e.error().what().c_str()), ms;
  auto& engine = *e.value();
  if (auto ok = engine.start(); !ok) return std::fprintf(stderr, "%s\n", ok.error().what().c_str()), ms;
  std::vector<std::byte> pixels(std::size_t{c.width} * c.height * 4);
  const auto take = [&] {
    auto got = engine.copy_result(pixels);
    return got.ok() && got.value().has_value();
  };
  std::uniform_int_distribution<int> pause_us(5000, 20000);
  for (int k = 0; k < kills; ++k) {
    const auto run_until = Clock::now() + std::chrono::microseconds(pause_us(rng));
    std::int32_t pid = 0;
    while (Clock::now() < run_until || pid == 0) {
      (void)take();
      pid = engine.status().render_pid;
      std::this_thread::sleep_for(200us);
    }
    const std::uint64_t crashes = engine.status().render_crashes;
    const auto killed_at = Clock::now();
    ::kill(pid, SIGKILL);
    bool recovered = false;
    while (Clock::now() - killed_at < 5s) {
      const EngineStatus s = engine.status();
      if (s.render_crashes == crashes + 1 && s.render_pid != 0 && s.render_pid != pid && take()) {
        recovered = true;
        break;
      }
      std::this_thread::sleep_for(100us);
    }
    if (!recovered) {
      std::fprintf(stderr, "kill %d: no new frame within 5 s\n", k);
      break;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count());
  }
  engine.request_stop();
  (void)engine.wait_finished(10s);
  engine.stop();
  const EngineStatus s = engine.status();
  if (!s.error.empty() || !s.isolated) std::fprintf(stderr, "engine: '%s' %s\n", s.error.c_str(), s.isolation_fallback.c_str());
  return ms;
}

}  // namespace

int main() {
  const char* env_kills = std::getenv("BENCH_RECOVERY_KILLS");
  const int warm_kills = env_kills != nullptr ? std::max(2, std::atoi(env_kills)) : 60;
  const int cold_kills = std::max(1, warm_kills / 2);
  constexpr int kRounds = 2;
  auto topo = sched::Topology::load();
  if (!topo) return std::fprintf(stderr, "%s\n", topo.error().what().c_str()), 1;
  auto plan = sched::plan_cores(topo.value());
  if (!plan) return std::fprintf(stderr, "%s\n", plan.error().what().c_str()), 1;
  std::mt19937 rng(18);
  // [stressed][warm]
  std::vector<double> cells[2][2];
  double load[2] = {0, 0};
  bool stressed_ran = false;
  for (int round = 0; round < kRounds; ++round) {
    for (int stressed = 0; stressed < 2; ++stressed) {
      const pid_t stress = stressed != 0 ? start_stress() : 0;
      if (stressed != 0 && stress == 0) {
        std::fprintf(stderr, "stress-ng did not start (make deps installs it): the stressed cells stay empty\n");
        continue;
      }
      stressed_ran = stressed_ran || stressed != 0;
      for (int warm = 1; warm >= 0; --warm) {
        auto ms = kill_round(plan.value(), warm != 0, warm != 0 ? warm_kills : cold_kills, rng);
        cells[stressed][warm].insert(cells[stressed][warm].end(), ms.begin(), ms.end());
      }
      load[stressed] = std::max(load[stressed], load_average());
      stop_stress(stress);
    }
  }
  std::printf("recovery SIGKILL -> next new frame at the host (%d rounds; 500 Hz, 3,000 particles, 160x120)\n", kRounds);
  std::printf("%-32s %6s %9s %9s %9s %12s\n", "condition", "kills", "p50 ms", "p99 ms", "max ms", "load (1 min)");
  for (int stressed = 0; stressed < 2; ++stressed) {
    for (int warm = 1; warm >= 0; --warm) {
      const auto& v = cells[stressed][warm];
      char name[64];
      std::snprintf(name, sizeof name, "%s, %s", stressed != 0 ? "stress-ng --cpu 2" : "idle",
                    warm != 0 ? "warm standby" : "cold respawn");
      std::printf("%-32s %6zu %9.2f %9.2f %9.2f %12.2f\n", name, v.size(), percentile(v, 0.5), percentile(v, 0.99),
                  percentile(v, 1.0), load[stressed]);
    }
  }
  const bool complete = !cells[0][1].empty() && !cells[0][0].empty() && stressed_ran;
  return complete ? 0 : 1;
}
