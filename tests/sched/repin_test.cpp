// SPDX-License-Identifier: Apache-2.0
// Pool::repin (the adaptive core plan's mechanism): a published set reaches
// every member, own threads and joined external ones, read back from
// /proc/self/task/<tid>/status Cpus_allowed_list; parked members re-pin
// without new work; work keeps running meanwhile; an empty set is refused.
// Uses the CPUs this process may run on (two on the smallest CI machine).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "sched/proc_task.hpp"
#include "triptych/sched/pinning.hpp"
#include "triptych/sched/pool.hpp"
#include "triptych/sched/topology.hpp"

namespace triptych::sched {
namespace {

using namespace std::chrono_literals;

std::string allowed_list(int tid) { return proc_field(tid, "status", "Cpus_allowed_list"); }

// Waits (well inside `limit`) until `tid`'s allowed list reads `want`.
bool becomes(int tid, const std::string& want, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (allowed_list(tid) == want) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

TEST(Repin, OwnThreadsRepinWhenParkedAndKeepWorking) {
  const CpuSet mine = current_thread_affinity();
  ASSERT_FALSE(mine.empty());
  const std::uint32_t first = mine.cpus().front();
  PoolConfig pc;
  pc.name = "repin";
  pc.cpus = {first, first};
  auto pool = Pool::create(pc);
  ASSERT_TRUE(pool.ok()) << pool.error().what();
  Pool& p = *pool.value();
  const auto tids = p.thread_ids();
  for (int tid : tids) EXPECT_EQ(allowed_list(tid), std::to_string(first));
  EXPECT_EQ(p.repin_epoch(), 0U);

  std::this_thread::sleep_for(20ms);  // let them park
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.repin(mine));
  EXPECT_EQ(p.repin_epoch(), 1U);
  for (int tid : tids) EXPECT_TRUE(becomes(tid, mine.to_string(), 2000ms)) << "thread " << tid;
  // Parked members are woken: well inside the park timeout's 100 ms plus slack.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);

  std::atomic<int> ran{0};
  p.parallel_for(0, 64, 1, [&](std::size_t b, std::size_t e) { ran.fetch_add(static_cast<int>(e - b), std::memory_order_relaxed); });
  EXPECT_EQ(ran.load(std::memory_order_relaxed), 64);

  ASSERT_TRUE(p.repin(CpuSet{mine.cpus().back()}));
  for (int tid : tids) EXPECT_TRUE(becomes(tid, std::to_string(mine.cpus().back()), 2000ms));
  EXPECT_FALSE(p.repin(CpuSet{}));
  EXPECT_EQ(p.repin_epoch(), 2U);
}

TEST(Repin, ExternalMemberRepinsAtItsNextTakeAndRestoresOnLeave) {
  const CpuSet mine = current_thread_affinity();
  const std::uint32_t last = mine.cpus().back();
  PoolConfig pc;
  pc.name = "repin-ext";
  pc.threads = 0;
  pc.max_external = 1;
  pc.external_cpus = {last};
  pc.caller_helps = false;
  auto pool = Pool::create(pc);
  ASSERT_TRUE(pool.ok()) << pool.error().what();
  Pool& p = *pool.value();
  std::atomic<int> tid{0};
  std::atomic<bool> stop{false};
  std::string after_leave;
  std::thread member([&] {
    auto m = p.join();
    ASSERT_TRUE(m.ok()) << m.error().what();
    tid.store(static_cast<int>(syscall(SYS_gettid)), std::memory_order_release);
    while (!stop.load(std::memory_order_acquire)) {
      if (auto job = m.value().take(10ms)) {
        job->run();
        m.value().complete(std::move(*job));
      }
    }
    m.value().leave();
    after_leave = allowed_list(static_cast<int>(syscall(SYS_gettid)));
  });
  while (tid.load(std::memory_order_acquire) == 0) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(becomes(tid.load(std::memory_order_acquire), std::to_string(last), 2000ms));
  ASSERT_TRUE(p.repin(mine));
  EXPECT_TRUE(becomes(tid.load(std::memory_order_acquire), mine.to_string(), 2000ms));
  stop.store(true, std::memory_order_release);
  member.join();
  EXPECT_EQ(after_leave, mine.to_string());  // the thread's own affinity before it joined
}

}  // namespace
}  // namespace triptych::sched
