// SPDX-License-Identifier: Apache-2.0
// System counters behind include/triptych/report/counters.hpp: getrusage,
// perf_event_open (software CPU-migration counter; optional hardware
// counters), /proc/thread-self/sched as the migration fallback, and the
// futex-wait timing wrapper. Blocking only inside timed_wait. docs/tracing.md.
#include "triptych/report/counters.hpp"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "triptych/trace/clock.hpp"
#include "triptych/trace/spans.hpp"

namespace triptych::report {
namespace {

thread_local std::uint64_t t_wait_ns = 0;
thread_local std::uint64_t t_wait_calls = 0;
thread_local std::uint64_t t_idle_ns = 0;

std::mutex g_note_mu;
std::string g_hw_note;  // guarded by g_note_mu; first refusal only

std::uint64_t timeval_ns(const timeval& tv) {
  return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(tv.tv_usec) * 1000u;
}

int open_counter(std::uint32_t type, std::uint64_t config, bool exclude_kernel) {
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = type;
  attr.config = config;
  attr.exclude_kernel = exclude_kernel ? 1 : 0;
  attr.exclude_hv = 1;
  // pid 0, cpu -1: this thread, on whichever CPU it runs.
  const long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  return fd < 0 ? -1 : static_cast<int>(fd);
}

std::uint64_t read_counter(int fd) {
  std::uint64_t v = 0;
  if (fd < 0 || read(fd, &v, sizeof(v)) != static_cast<ssize_t>(sizeof(v))) return 0;
  return v;
}

void note_refusal(const char* what, int err) {
  const std::lock_guard lock(g_note_mu);
  if (!g_hw_note.empty()) return;
  g_hw_note = std::string("perf_event_open(") + what + ") refused: " + std::strerror(err) +
              "; hardware counters are left out of this run";
  std::fprintf(stderr, "triptych trace: %s\n", g_hw_note.c_str());
}

// se.nr_migrations from /proc/thread-self/sched (CONFIG_SCHED_DEBUG kernels).
// Reads into a stack buffer: no allocation.
bool proc_migrations(std::uint64_t& out) {
  const int fd = open("/proc/thread-self/sched", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[8192];
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = std::strstr(buf, "se.nr_migrations");
  if (p == nullptr) return false;
  p = std::strchr(p, ':');
  if (p == nullptr) return false;
  unsigned long long v = 0;
  if (std::sscanf(p + 1, "%llu", &v) != 1) return false;
  out = v;
  return true;
}

}  // namespace

ThreadProbe::ThreadProbe() noexcept {
  migration_fd_ = open_counter(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS, false);
  if (migration_fd_ < 0)
    migration_fd_ = open_counter(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS, true);
  if (migration_fd_ < 0) {
    std::uint64_t ignored = 0;
    proc_migrations_ = proc_migrations(ignored);
  }
  static constexpr std::array<std::uint64_t, 3> kHw{
      PERF_COUNT_HW_CPU_CYCLES, PERF_COUNT_HW_INSTRUCTIONS, PERF_COUNT_HW_CACHE_MISSES};
  static constexpr std::array<const char*, 3> kHwName{"cycles", "instructions", "cache-misses"};
  for (std::size_t i = 0; i < kHw.size(); ++i) {
    hw_fds_[i] = open_counter(PERF_TYPE_HARDWARE, kHw[i], true);
    if (hw_fds_[i] < 0) {
      note_refusal(kHwName[i], errno);
      for (int& fd : hw_fds_) {
        if (fd >= 0) close(fd);
        fd = -1;
      }
      break;
    }
  }
  start_ = sample();
}

ThreadProbe::~ThreadProbe() {
  if (migration_fd_ >= 0) close(migration_fd_);
  for (const int fd : hw_fds_)
    if (fd >= 0) close(fd);
}

ThreadProbe::Sample ThreadProbe::sample() const noexcept {
  Sample s{};
  s.wall_ns = trace::now_ns();
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    s.user_ns = timeval_ns(ru.ru_utime);
    s.system_ns = timeval_ns(ru.ru_stime);
    s.nvcsw = static_cast<std::uint64_t>(ru.ru_nvcsw);
    s.nivcsw = static_cast<std::uint64_t>(ru.ru_nivcsw);
  }
  if (migration_fd_ >= 0) {
    s.migrations = read_counter(migration_fd_);
  } else if (proc_migrations_) {
    (void)proc_migrations(s.migrations);
  }
  s.wait_ns = t_wait_ns;
  s.wait_calls = t_wait_calls;
  s.idle_ns = t_idle_ns;
  for (std::size_t i = 0; i < hw_fds_.size(); ++i) s.hw[i] = read_counter(hw_fds_[i]);
  return s;
}

trace::ThreadCounters ThreadProbe::finish() noexcept {
  const Sample end = sample();
  trace::ThreadCounters c;
  c.wall_ns = end.wall_ns - start_.wall_ns;
  c.user_ns = end.user_ns - start_.user_ns;
  c.system_ns = end.system_ns - start_.system_ns;
  c.voluntary_switches = end.nvcsw - start_.nvcsw;
  c.involuntary_switches = end.nivcsw - start_.nivcsw;
  c.migrations_available = migration_fd_ >= 0 || proc_migrations_;
  c.cpu_migrations = end.migrations - start_.migrations;
  c.futex_wait_ns = end.wait_ns - start_.wait_ns;
  c.futex_wait_calls = end.wait_calls - start_.wait_calls;
  c.idle_wait_ns = end.idle_ns - start_.idle_ns;
  c.hw_available = hw_fds_[0] >= 0;
  if (c.hw_available) {
    c.cycles = end.hw[0] - start_.hw[0];
    c.instructions = end.hw[1] - start_.hw[1];
    c.cache_misses = end.hw[2] - start_.hw[2];
  }
  try {
    trace::record_thread_counters(c);
  } catch (...) {  // registering the thread may allocate; the counters are still returned
  }
  return c;
}

ProcessProbe::ProcessProbe() noexcept {
  rusage ru{};
  start_.wall_ns = trace::now_ns();
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    start_.user_ns = timeval_ns(ru.ru_utime);
    start_.system_ns = timeval_ns(ru.ru_stime);
    start_.voluntary_switches = static_cast<std::uint64_t>(ru.ru_nvcsw);
    start_.involuntary_switches = static_cast<std::uint64_t>(ru.ru_nivcsw);
  }
}

ProcessCounters ProcessProbe::finish() const noexcept {
  ProcessCounters c;
  c.wall_ns = trace::now_ns() - start_.wall_ns;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    c.user_ns = timeval_ns(ru.ru_utime) - start_.user_ns;
    c.system_ns = timeval_ns(ru.ru_stime) - start_.system_ns;
    c.voluntary_switches = static_cast<std::uint64_t>(ru.ru_nvcsw) - start_.voluntary_switches;
    c.involuntary_switches = static_cast<std::uint64_t>(ru.ru_nivcsw) - start_.involuntary_switches;
    c.max_rss_kib = static_cast<std::uint64_t>(ru.ru_maxrss);
  }
  return c;
}

WaitStatus timed_wait(WaitWord& ww, std::uint32_t expected, std::chrono::nanoseconds timeout,
                      SpinPolicy policy, WaitKind kind) noexcept {
  const std::uint64_t t0 = trace::now_ns();
  const WaitStatus st = wait(ww, expected, timeout, policy);
  const std::uint64_t spent = trace::now_ns() - t0;
  if (kind == WaitKind::kIdle) {
    t_idle_ns += spent;
  } else {
    t_wait_ns += spent;
    ++t_wait_calls;
  }
  return st;
}

std::uint64_t thread_futex_wait_ns() noexcept {
  return t_wait_ns;
}
std::uint64_t thread_futex_wait_calls() noexcept {
  return t_wait_calls;
}
std::uint64_t thread_idle_wait_ns() noexcept {
  return t_idle_ns;
}

std::string hw_counters_note() {
  const std::lock_guard lock(g_note_mu);
  return g_hw_note;
}

}  // namespace triptych::report
