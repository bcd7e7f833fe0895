// SPDX-License-Identifier: Apache-2.0
// The supervisor against real spawned children: a SIGKILL loop (at random
// times after READY and in the middle of the handshake) where every death is
// seen, counted by signal, woken on the epoch word and reaped, with no fd,
// mapping or zombie left; stopped children killed within the hang timeout
// plus 50 ms; and a host killed with -9 takes its render process with it
// within 100 ms.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "isolate/child_fixture.hpp"
#include "triptych/isolate/protocol.hpp"
#include "triptych/isolate/supervisor.hpp"

namespace triptych::isolate {
namespace {

using namespace std::chrono_literals;
using test::spawn_child;

constexpr std::size_t kPage = 4096;
constexpr std::uint64_t kProgressOffset = 64;

// Losses the supervisor reported, for the test thread.
struct LossLog {
  std::mutex mu;
  std::vector<ChildLoss> losses;
  void add(const ChildLoss& l) {
    std::lock_guard<std::mutex> lock(mu);
    losses.push_back(l);
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return losses.size();
  }
  ChildLoss at(std::size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return losses.at(i);
  }
};

std::unique_ptr<Supervisor> make_supervisor(LossLog& log, std::chrono::milliseconds hang) {
  Supervisor::Config c;
  c.hang_timeout = hang;
  c.on_lost = [&log](const ChildLoss& l) { log.add(l); };
  auto s = Supervisor::create(std::move(c));
  EXPECT_TRUE(s) << s.error().what();
  return std::move(s).value();
}

// Waits until the supervisor has seen `deaths` deaths; how long it took.
std::chrono::steady_clock::duration wait_deaths(Supervisor& s, std::uint32_t deaths, std::chrono::milliseconds timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  while (s.deaths_seen() < deaths && std::chrono::steady_clock::now() - t0 < timeout) {
    std::this_thread::sleep_for(200us);
  }
  return std::chrono::steady_clock::now() - t0;
}

TEST(Supervisor, EveryKillIsSeenCountedAndReapedWithNothingLeaked) {
  LossLog log;
  auto sup = make_supervisor(log, 2000ms);
  auto memory = SplitMemory::create(4 * kPage, 2 * kPage);
  ASSERT_TRUE(memory);
  ASSERT_TRUE(memory.value().seal_host());
  auto* progress = reinterpret_cast<const std::atomic<std::uint64_t>*>(memory.value().child().data() + kProgressOffset);
  const int fds_before = test::open_fd_count();
  std::mt19937 random(12345);
  constexpr std::uint32_t kKills = 200;
  for (std::uint32_t i = 0; i < kKills; ++i) {
    auto child = spawn_child("serve");
    ASSERT_TRUE(child) << child.error().what();
    const bool mid_handshake = i % 2 == 1;
    if (!mid_handshake) {
      auto ok = host_handshake(child.value().channel, memory.value(),
                               HostHandshake{i, kProgressOffset, std::chrono::steady_clock::now() + 5s});
      ASSERT_TRUE(ok) << "kill " << i << ": " << ok.error().what();
      std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
    }
    const int channel_fd = child.value().channel.fd();
    const pid_t pid = child.value().process.pid();
    ASSERT_TRUE(sup->watch(std::move(child.value().process), channel_fd, progress, i));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);  // still our unreaped child: the pid cannot be reused
    const auto took = wait_deaths(*sup, i + 1, 2000ms);
    ASSERT_EQ(sup->deaths_seen(), i + 1) << "kill " << i << " not seen within 2 s";
    EXPECT_LT(took, 500ms) << "kill " << i << ": seen well inside the 2 s timeout";
    if (mid_handshake) {
      auto ok = host_handshake(child.value().channel, memory.value(),
                               HostHandshake{i, kProgressOffset, std::chrono::steady_clock::now() + 5s});
      EXPECT_FALSE(ok) << "a handshake with a dead child cannot succeed";
    }
  }
  ASSERT_EQ(log.size(), kKills);
  for (std::uint32_t i = 0; i < kKills; ++i) {
    const ChildLoss l = log.at(i);
    EXPECT_EQ(l.epoch, i);
    EXPECT_TRUE(l.exit.signaled);
    EXPECT_EQ(l.exit.code, SIGKILL) << describe(l.exit);
    EXPECT_FALSE(l.hang_killed);
  }
  const SupervisorCounters c = sup->counters();
  EXPECT_EQ(c.deaths, kKills);
  EXPECT_EQ(c.by_signal[SIGKILL], kKills) << "crashes counted = kills";
  EXPECT_EQ(c.hangs_killed, 0U);
  EXPECT_FALSE(sup->watching());
  EXPECT_EQ(test::open_fd_count(), fds_before) << "no fd left behind";
  EXPECT_TRUE(test::no_children()) << "every child reaped: no zombie";
}

TEST(Supervisor, AStoppedChildIsKilledWithinTheHangTimeoutPlus50Ms) {
  LossLog log;
  constexpr auto kHang = 100ms;
  auto sup = make_supervisor(log, kHang);
  auto memory = SplitMemory::create(4 * kPage, 2 * kPage);
  ASSERT_TRUE(memory);
  ASSERT_TRUE(memory.value().seal_host());
  auto* progress = reinterpret_cast<const std::atomic<std::uint64_t>*>(memory.value().child().data() + kProgressOffset);
  constexpr std::uint32_t kStops = 20;
  for (std::uint32_t i = 0; i < kStops; ++i) {
    auto child = spawn_child("serve");
    ASSERT_TRUE(child);
    ASSERT_TRUE(host_handshake(child.value().channel, memory.value(),
                               HostHandshake{i, kProgressOffset, std::chrono::steady_clock::now() + 5s}));
    const int channel_fd = child.value().channel.fd();
    const pid_t pid = child.value().process.pid();
    ASSERT_TRUE(sup->watch(std::move(child.value().process), channel_fd, progress, i));
    std::this_thread::sleep_for(30ms);  // progressing: no kill
    ASSERT_EQ(sup->deaths_seen(), i) << "a progressing child was killed";
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    const auto took = wait_deaths(*sup, i + 1, 2000ms);
    ASSERT_EQ(sup->deaths_seen(), i + 1) << "stop " << i << ": not killed within 2 s";
    EXPECT_LT(took, kHang + 50ms) << "stop " << i;
    EXPECT_TRUE(log.at(i).hang_killed);
  }
  EXPECT_EQ(sup->counters().hangs_killed, kStops);
  EXPECT_TRUE(test::no_children());
}

TEST(Supervisor, AHostKilledWithMinus9TakesItsRenderProcessWithin100Ms) {
  // Orphans come back to this process (not init), so it can reap them.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  constexpr int kHosts = 100;
  for (int i = 0; i < kHosts; ++i) {
    auto middle = spawn_child("middle");  // a host with a render process of its own
    ASSERT_TRUE(middle);
    auto said = middle.value().channel.receive(std::chrono::steady_clock::now() + 5s);
    ASSERT_TRUE(said) << said.error().what();
    const pid_t render = static_cast<pid_t>(
        std::stol(std::string(reinterpret_cast<const char*>(said.value().bytes.data()), said.value().bytes.size())));
    const int render_fd = static_cast<int>(::syscall(SYS_pidfd_open, render, 0));
    ASSERT_GE(render_fd, 0);
    std::this_thread::sleep_for(5ms);  // the orphan-to-be has bound itself to its host
    const auto t0 = std::chrono::steady_clock::now();
    middle.value().process.kill_and_reap();
    pollfd p{render_fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 1000), 1) << "host " << i << ": its render process outlived it by 1 s";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << "host " << i;
    siginfo_t info{};
    EXPECT_EQ(::waitid(P_PIDFD, static_cast<id_t>(render_fd), &info, WEXITED), 0);
    // Killed by PDEATHSIG, or (the host died before the prctl) it saw
    // getppid() change and left on its own: bind_to_host's refusal, exit 65.
    const bool by_deathsig = info.si_code == CLD_KILLED && info.si_status == SIGKILL;
    const bool by_recheck = info.si_code == CLD_EXITED && info.si_status == 65;
    EXPECT_TRUE(by_deathsig || by_recheck) << "code " << info.si_code << " status " << info.si_status;
    ::close(render_fd);
  }
  EXPECT_TRUE(test::no_children()) << "no orphan left";
}

}  // namespace
}  // namespace triptych::isolate
