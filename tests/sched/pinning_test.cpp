// SPDX-License-Identifier: Apache-2.0
// Tests for pin_current_thread: the affinity and name a thread gets are read
// back from /proc/self/task/<tid>/status and comm; an empty set or name
// leaves that part alone; CPUs the kernel refuses, CPUs beyond CPU_SETSIZE
// and over-long names are errors that leave the thread as it was. Each case
// runs on a fresh thread so the test runner's own thread stays unpinned.
#include "triptych/sched/pinning.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "sched/proc_task.hpp"
#include "triptych/sched/topology.hpp"

namespace triptych::sched {
namespace {

void on_new_thread(const std::function<void()>& body) { std::thread(body).join(); }

std::string allowed_list() { return proc_field(static_cast<int>(gettid()), "status", "Cpus_allowed_list"); }
std::string comm() { return proc_field(static_cast<int>(gettid()), "comm", ""); }

// A CPU number no machine here has: one past the last possible CPU.
std::uint32_t nonexistent_cpu() {
  std::ifstream f("/sys/devices/system/cpu/possible");
  std::string text;
  std::getline(f, text);
  const auto possible = CpuSet::parse(text);
  return possible.ok() && !possible.value().empty() ? possible.value().cpus().back() + 1 : 1023;
}

TEST(Pinning, PinsAndNamesCallingThread_ReadFromProc) {
  const CpuSet mine = current_thread_affinity();
  ASSERT_FALSE(mine.empty());
  for (const CpuSet& want : {CpuSet{mine.cpus().back()}, CpuSet{mine.cpus().front(), mine.cpus().back()}}) {
    on_new_thread([&] {
      const auto ok = pin_current_thread(want, "tp-pintest");
      ASSERT_TRUE(ok.ok()) << ok.error().what();
      EXPECT_EQ(allowed_list(), want.to_string());
      EXPECT_EQ(comm(), "tp-pintest");
    });
  }
}

TEST(Pinning, EmptySetLeavesAffinityEmptyNameLeavesName) {
  on_new_thread([] {
    const std::string before = allowed_list();
    ASSERT_TRUE(pin_current_thread(CpuSet{}, "tp-unpinned").ok());
    EXPECT_EQ(allowed_list(), before);
    EXPECT_EQ(comm(), "tp-unpinned");
    const CpuSet one{current_thread_affinity().cpus().front()};
    ASSERT_TRUE(pin_current_thread(one, "").ok());
    EXPECT_EQ(allowed_list(), one.to_string());
    EXPECT_EQ(comm(), "tp-unpinned");
  });
}

TEST(Pinning, CpuOutsideAllowedSetIsAClearErrorAndChangesNothing) {
  const std::uint32_t bad = nonexistent_cpu();
  if (bad >= CPU_SETSIZE) GTEST_SKIP() << "every cpu_set_t CPU is possible here";
  on_new_thread([bad] {
    ASSERT_TRUE(pin_current_thread(CpuSet{}, "tp-before").ok());
    const std::string before = allowed_list();
    const std::uint32_t good = current_thread_affinity().cpus().front();
    for (const CpuSet& ask : {CpuSet{bad}, CpuSet{good, bad}}) {
      const auto r = pin_current_thread(ask, "tp-after");
      ASSERT_FALSE(r.ok()) << ask.to_string();
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
      EXPECT_NE(r.error().message.find("the kernel refused CPUs " + std::to_string(bad)), std::string::npos)
          << r.error().message;
      EXPECT_EQ(allowed_list(), before) << "a refused set must not leave the thread partly pinned";
      EXPECT_EQ(comm(), "tp-before");
    }
    const auto beyond = pin_current_thread(CpuSet{good, 4000}, "tp-after");
    ASSERT_FALSE(beyond.ok());
    EXPECT_NE(beyond.error().message.find("CPU 4000 is beyond CPU_SETSIZE"), std::string::npos)
        << beyond.error().message;
    EXPECT_EQ(allowed_list(), before);
  });
}

TEST(Pinning, NameLongerThan15BytesIsRefused) {
  on_new_thread([] {
    const auto r = pin_current_thread(CpuSet{}, "tp-sixteen-bytes");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find("longer than 15 bytes"), std::string::npos) << r.error().message;
    EXPECT_TRUE(pin_current_thread(CpuSet{}, "fifteen-bytes--").ok());
  });
}

}  // namespace
}  // namespace triptych::sched
