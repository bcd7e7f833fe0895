// SPDX-License-Identifier: Apache-2.0
// Tests for Pool: exactly-once execution (parallel_for over many frames, 10^6
// randomly nested tasks with stealing forced), pinning and names read back
// from /proc, the affinity partitioner, external members, shutdown with work
// pending, parking without lost work, idle CPU use, and bad configurations.
// Pools run more threads than this machine's CPUs on purpose, so stealing and
// preemption happen. Counts scale down under sanitizers (TRIPTYCH_SANITIZED).
#include "triptych/sched/pool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "sched/proc_task.hpp"

namespace triptych::sched {
namespace {

using namespace std::chrono_literals;

#if TRIPTYCH_SANITIZED
constexpr std::size_t kScale = 20;
#else
constexpr std::size_t kScale = 1;
#endif

// The CPUs this process may use, as a cycle for thread placement.
std::vector<std::uint32_t> cpus(std::size_t n) {
  const CpuSet mine = current_thread_affinity();
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(mine[i % mine.size()]);
  return out;
}

std::unique_ptr<Pool> make_pool(PoolConfig c) {
  auto p = Pool::create(std::move(c));
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().what());
  return std::move(p).value();
}

// utime + stime of one thread, in clock ticks (/proc/<pid>/task/<tid>/stat fields 14, 15).
long cpu_ticks(int tid) {
  std::string stat = proc_field(tid, "stat", "");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long ut = 0;
  long st = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) ut = std::stol(field);
    if (i == 15) st = std::stol(field);
  }
  return ut + st;
}

TEST(Pool, CreateRejectsZeroWorkersBadNameAndForeignCpu) {
  PoolConfig zero;
  zero.threads = 0;
  auto a = Pool::create(zero);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("zero workers"), std::string::npos);
  PoolConfig longname;
  longname.name = "much-too-long-name";
  EXPECT_FALSE(Pool::create(longname).ok());
  PoolConfig foreign;
  foreign.cpus = {4000};
  auto c = Pool::create(foreign);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("cannot pin a thread to CPU 4000"), std::string::npos);
}

TEST(Pool, ThreadsArePinnedAndNamed_ReadFromProc) {
  PoolConfig c;
  c.name = "pin";
  c.cpus = cpus(3);
  std::reverse(c.cpus.begin(), c.cpus.end());
  auto pool = make_pool(c);
  const auto tids = pool->thread_ids();
  ASSERT_EQ(tids.size(), 3u);
  for (std::size_t i = 0; i < tids.size(); ++i) {
    EXPECT_EQ(proc_field(tids[i], "status", "Cpus_allowed_list"), std::to_string(c.cpus[i]));
    EXPECT_EQ(proc_field(tids[i], "comm", ""), "tp-pin-" + std::to_string(i));
  }
}

TEST(Pool, ParallelFor_CoversEveryIndexOnce_ManyFrames) {
  PoolConfig c;
  c.name = "pf";
  c.cpus = cpus(4);
  auto pool = make_pool(c);
  constexpr std::size_t kN = 10007;
  const std::size_t frames = 300 / kScale;
  std::vector<std::atomic<std::uint32_t>> count(kN);
  AffinityPartitioner part;
  for (std::size_t f = 0; f < frames; ++f) {
    pool->parallel_for(0, kN, 37, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) count[i].fetch_add(1, std::memory_order_relaxed);
    }, f % 2 == 0 ? &part : nullptr);
  }
  std::size_t wrong = 0;
  for (auto& x : count) wrong += x.load(std::memory_order_relaxed) != frames;
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(part.total_hits() + part.total_steals(), ((kN + 36) / 37) * ((frames + 1) / 2));
}

TEST(Pool, ParallelFor_EmptyRangeAndGrainZero) {
  auto pool = make_pool(PoolConfig{});
  std::atomic<int> calls{0};
  pool->parallel_for(5, 5, 1, [&](std::size_t, std::size_t) { calls.fetch_add(1, std::memory_order_relaxed); });
  EXPECT_EQ(calls.load(std::memory_order_relaxed), 0);
  std::vector<std::atomic<int>> hit(10);
  pool->parallel_for(0, 10, 0, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) hit[i].fetch_add(1, std::memory_order_relaxed);
  });
  for (auto& h : hit) EXPECT_EQ(h.load(std::memory_order_relaxed), 1);
}

void tree(TaskGroup& g, std::size_t id, std::size_t n, std::vector<std::atomic<std::uint8_t>>& seen, Pool& pool) {
  seen[id].fetch_add(1, std::memory_order_relaxed);
  const std::size_t kids[2] = {2 * id + 1, 2 * id + 2};
  // Random nesting: about a third of the nodes wait on a nested group of their own.
  const bool nested = ((id * 0x9e3779b97f4a7c15ULL) >> 61) < 3;
  if (nested) {
    TaskGroup inner(pool);
    for (std::size_t k : kids) {
      if (k < n) inner.run([&, k] { tree(inner, k, n, seen, pool); });
    }
    inner.wait();
  } else {
    for (std::size_t k : kids) {
      if (k < n) g.run([&g, k, n, &seen, &pool] { tree(g, k, n, seen, pool); });
    }
  }
}

TEST(Pool, EveryTaskRunsExactlyOnce_MillionNestedTasks_StealingForced) {
  PoolConfig c;
  c.name = "tree";
  c.cpus = cpus(4);  // more threads than CPUs: preemption makes thieves take work
  auto pool = make_pool(c);
  const std::size_t n = 1000000 / kScale;
  std::vector<std::atomic<std::uint8_t>> seen(n);
  {
    TaskGroup g(*pool);
    g.run([&] { tree(g, 0, n, seen, *pool); });
    g.wait();
  }
  std::size_t lost = 0;
  std::size_t dup = 0;
  for (auto& s : seen) {
    lost += s.load(std::memory_order_relaxed) == 0;
    dup += s.load(std::memory_order_relaxed) > 1;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(dup, 0u);
  const PoolMetrics m = pool->metrics();
  EXPECT_EQ(m.executed, n);
  EXPECT_GT(m.steals, 0u);
}

TEST(Pool, AffinityPreservedWhenNobodySteals) {
  PoolConfig c;
  c.name = "aff";
  c.cpus = cpus(2);
  c.steal_attempts = 0;  // an unloaded pool: nothing takes another member's chunks
  auto pool = make_pool(c);
  AffinityPartitioner part;
  std::vector<std::atomic<std::uint32_t>> ran_on(64);
  auto body = [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) ran_on[i].store(*pool->current_member(), std::memory_order_relaxed);
  };
  pool->parallel_for(0, 64, 4, body, &part);
  std::vector<std::uint32_t> first(16);
  for (std::size_t k = 0; k < 16; ++k) first[k] = part.last_member(k);
  for (int f = 0; f < 50; ++f) {
    pool->parallel_for(0, 64, 4, body, &part);
    EXPECT_EQ(part.last_hits(), 16u);
    EXPECT_EQ(part.last_steals(), 0u);
    for (std::size_t k = 0; k < 16; ++k) {
      EXPECT_EQ(part.last_member(k), first[k]);
      EXPECT_EQ(ran_on[k * 4].load(std::memory_order_relaxed), first[k]);
    }
  }
  EXPECT_EQ(pool->metrics().affinity_steals, 0u);
}

TEST(Pool, AffinityMovesOnlyWhenStolen_AccountingExact) {
  PoolConfig c;
  c.name = "aff2";
  c.cpus = cpus(3);
  auto pool = make_pool(c);
  AffinityPartitioner part;
  constexpr std::size_t kChunks = 48;
  std::vector<std::uint32_t> prev(kChunks);
  pool->parallel_for(0, kChunks, 1, [](std::size_t, std::size_t) {}, &part);
  for (int f = 0; f < 100; ++f) {
    for (std::size_t k = 0; k < kChunks; ++k) prev[k] = part.last_member(k);
    pool->parallel_for(0, kChunks, 1, [](std::size_t, std::size_t) {
      volatile int x = 0;
      for (int i = 0; i < 200; ++i) x = x + i;
    }, &part);
    std::size_t moved = 0;
    for (std::size_t k = 0; k < kChunks; ++k) moved += part.last_member(k) != prev[k];
    EXPECT_EQ(part.last_hits() + part.last_steals(), kChunks);
    EXPECT_EQ(moved, part.last_steals()) << "a chunk changes member only when stolen";
  }
}

TEST(Pool, ExternalMember_JoinTakeCompleteLeave) {
  PoolConfig c;
  c.name = "ext";
  c.cpus = cpus(1);
  c.max_external = 1;
  c.external_cpus = {cpus(2)[1]};
  auto pool = make_pool(c);
  constexpr std::size_t kN = 4096;
  std::vector<std::atomic<std::uint32_t>> count(kN);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> member_jobs{0};
  std::atomic<bool> joined{false};
  std::string pinned_to;
  std::string restored;
  const std::string before = proc_field(static_cast<int>(gettid()), "status", "Cpus_allowed_list");
  std::thread ext([&] {
    auto m = pool->join();
    ASSERT_TRUE(m.ok()) << m.error().what();
    auto again = pool->join();
    EXPECT_FALSE(again.ok());
    pinned_to = proc_field(static_cast<int>(gettid()), "status", "Cpus_allowed_list");
    joined.store(true, std::memory_order_release);
    while (!stop.load(std::memory_order_acquire)) {
      auto job = m->take(5ms);
      if (!job) continue;
      if (job->is_chunk()) {  // do the work ourselves, as a WASM worker would
        for (std::size_t i = job->begin(); i < job->end(); ++i) count[i].fetch_add(1, std::memory_order_relaxed);
      } else {
        job->run();
      }
      m->complete(*job);
      member_jobs.fetch_add(1, std::memory_order_relaxed);
    }
    m->leave();
    m->leave();  // idempotent
    restored = proc_field(static_cast<int>(gettid()), "status", "Cpus_allowed_list");
  });
  while (!joined.load(std::memory_order_acquire)) std::this_thread::yield();
  auto busy = pool->join();  // the only external slot is taken
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, Errc::kOutOfRange);
  AffinityPartitioner part;
  const std::size_t frames = 200 / kScale;
  for (std::size_t f = 0; f < frames; ++f) {
    pool->parallel_for(0, kN, 64, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) count[i].fetch_add(1, std::memory_order_relaxed);
    }, &part);
  }
  stop.store(true, std::memory_order_release);
  ext.join();
  std::size_t wrong = 0;
  for (auto& x : count) wrong += x.load(std::memory_order_relaxed) != frames;
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(pinned_to, std::to_string(c.external_cpus[0]));
  EXPECT_EQ(restored, before);
  auto free_again = pool->join();  // leave() returned the slot
  ASSERT_TRUE(free_again.ok());
  free_again->leave();
  EXPECT_GE(pool->metrics().executed, member_jobs.load(std::memory_order_relaxed)) << "completions by the member are counted";
}

TEST(Pool, ShutdownWithWorkPendingRunsEverythingOnce) {
  std::atomic<std::uint64_t> ran{0};
  const std::uint64_t n = 20000 / kScale;
  PoolMetrics m;
  {
    PoolConfig c;
    c.name = "down";
    c.cpus = cpus(2);
    auto pool = make_pool(c);
    for (std::uint64_t i = 0; i < n; ++i) {
      EXPECT_EQ(pool->submit([&] { ran.fetch_add(1, std::memory_order_relaxed); }), SubmitStatus::kAccepted);
    }
  }
  EXPECT_EQ(ran.load(std::memory_order_relaxed), n);
}

TEST(Pool, PoolWithoutThreads_WaiterRunsTheWork) {
  PoolConfig c;
  c.threads = 0;
  c.max_external = 1;
  auto pool = make_pool(c);
  std::vector<std::atomic<int>> hit(100);
  pool->parallel_for(0, 100, 3, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) hit[i].fetch_add(1, std::memory_order_relaxed);
  });
  for (auto& h : hit) EXPECT_EQ(h.load(std::memory_order_relaxed), 1);
  std::atomic<int> x{0};
  TaskGroup g(*pool);
  g.run([&] { x.fetch_add(1, std::memory_order_relaxed); });
  g.wait();
  EXPECT_EQ(x.load(std::memory_order_relaxed), 1);
}

// The WASM compute pool: the frame loop (a non-member) must never run a
// chunk natively; only the external member, who does the work itself, may.
TEST(Pool, CallerHelpsOff_OnlyExternalMembersRunChunks) {
  PoolConfig c;
  c.name = "wasm";
  c.threads = 0;
  c.max_external = 1;
  c.caller_helps = false;
  auto pool = make_pool(c);
  constexpr std::size_t kN = 1000;
  std::vector<std::atomic<int>> by_member(kN);
  std::atomic<int> by_body{0};
  std::atomic<bool> stop{false};
  std::thread member([&] {
    auto m = pool->join();
    ASSERT_TRUE(m.ok()) << m.error().what();
    while (!stop.load(std::memory_order_acquire)) {
      auto job = m->take(5ms);
      if (!job) continue;
      ASSERT_TRUE(job->is_chunk());
      for (std::size_t i = job->begin(); i < job->end(); ++i) by_member[i].fetch_add(1, std::memory_order_relaxed);
      m->complete(*job);
    }
  });
  for (int frame = 0; frame < 20; ++frame) {
    pool->parallel_for(0, kN, 37, [&](std::size_t, std::size_t) { by_body.fetch_add(1, std::memory_order_relaxed); });
  }
  stop.store(true, std::memory_order_release);
  member.join();
  EXPECT_EQ(by_body.load(std::memory_order_relaxed), 0) << "the waiting caller ran chunks itself";
  for (auto& n : by_member) EXPECT_EQ(n.load(std::memory_order_relaxed), 20);
}

// Chunks queued before any member joined wait for one instead of running on
// the caller (a frame dispatched while the Node workers are still starting).
TEST(Pool, CallerHelpsOff_ChunksWaitForAMemberToJoin) {
  PoolConfig c;
  c.name = "late";
  c.threads = 0;
  c.max_external = 2;
  c.caller_helps = false;
  auto pool = make_pool(c);
  std::vector<std::atomic<int>> hit(300);
  std::atomic<int> by_body{0};
  std::atomic<bool> done{false};
  std::thread caller([&] {
    pool->parallel_for(0, hit.size(), 16, [&](std::size_t, std::size_t) { by_body.fetch_add(1, std::memory_order_relaxed); });
    done.store(true, std::memory_order_release);
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(done.load(std::memory_order_acquire)) << "nobody may run the chunks yet";
  auto m = pool->join();
  ASSERT_TRUE(m.ok()) << m.error().what();
  while (!done.load(std::memory_order_acquire)) {
    auto job = m->take(5ms);
    if (!job) continue;
    for (std::size_t i = job->begin(); i < job->end(); ++i) hit[i].fetch_add(1, std::memory_order_relaxed);
    m->complete(*job);
  }
  caller.join();
  m->leave();
  EXPECT_EQ(by_body.load(std::memory_order_relaxed), 0);
  for (auto& h : hit) EXPECT_EQ(h.load(std::memory_order_relaxed), 1);
}

TEST(Pool, ParkAndUnpark_LosesNoWork) {
  PoolConfig c;
  c.name = "park";
  c.cpus = cpus(2);
  auto pool = make_pool(c);
  std::atomic<std::uint64_t> ran{0};
  const std::uint64_t rounds = 3000 / kScale;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    if (i % 100 == 0) std::this_thread::sleep_for(3ms);  // let the workers park
    TaskGroup g(*pool);
    g.run([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    g.wait();
    ASSERT_EQ(ran.load(std::memory_order_relaxed), i + 1);
  }
  EXPECT_GT(pool->metrics().parks, 0u);
}

TEST(Pool, IdlePoolParksAndUsesAlmostNoCpu) {
  PoolConfig c;
  c.name = "idle";
  c.cpus = cpus(2);
  auto pool = make_pool(c);
  const auto tids = pool->thread_ids();
  std::this_thread::sleep_for(100ms);  // let them reach the park
  long before = 0;
  for (int t : tids) before += cpu_ticks(t);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(500ms);
  long used = 0;
  for (int t : tids) used += cpu_ticks(t);
  used -= before;
  const double wall_ticks =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * static_cast<double>(sysconf(_SC_CLK_TCK));
  // A parked thread costs one futex wake per kParkTimeout: far under 10% of one CPU.
  EXPECT_LT(static_cast<double>(used), 0.1 * wall_ticks * static_cast<double>(tids.size()));
  EXPECT_GT(pool->metrics().parks, 0u);
}

}  // namespace
}  // namespace triptych::sched
