// SPDX-License-Identifier: Apache-2.0
// Cross-process test: the parent creates a sealed-memfd arena and fork()s a
// child that attaches it through the inherited fd. The parent streams control
// messages (SPSC ring) and compute frames (triple buffer) to the child; the
// child streams result frames back (triple buffer). The parent SIGKILLs the
// child mid-stream, checks that its own views, counters and header are
// intact, rebuilds the triple buffers (arena.md: recovery), and a second
// child re-attaches and continues the message stream where the first one
// stopped. Counts lost, duplicated, reordered and torn: all must be 0. Every
// wait has a deadline, and a child exits on its own after kChildLifetime.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "triptych/arena/arena.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Fewer messages under sanitizers: each atomic is ~10x slower there.
constexpr std::uint64_t kMessagesPerChild = TRIPTYCH_SANITIZED ? 2000 : 10000;
constexpr auto kPhaseDeadline = 60s;
constexpr auto kChildLifetime = 150s;

ArenaSpec spec() {
  ArenaSpec s;
  s.compute_slot_bytes = 8192;
  s.layout_slot_bytes = 64;
  s.result_slot_bytes = 4096;
  s.control_ring_capacity = 8;  // small: the ring wraps hundreds of times
  s.handoff_ring_capacity = 8;
  s.handle_capacity = 4;
  return s;
}

std::uint64_t mix(std::uint64_t gen, std::uint64_t i) {
  return (gen + 1) * 0x9E3779B97F4A7C15ull ^ (i * 0xBF58476D1CE4E5B9ull);
}

// Word 0 names the frame; every other word is derived from it, so a frame
// mixed from two writes fails the check.
void fill(std::span<std::byte> slot, std::uint64_t gen, std::size_t first_free_word = 1) {
  auto* w = reinterpret_cast<std::uint64_t*>(slot.data());
  const std::size_t n = slot.size() / 8;
  w[0] = gen;
  for (std::size_t i = first_free_word; i < n; ++i) w[i] = mix(gen, i);
}
bool intact(std::span<const std::byte> slot, std::size_t first_free_word = 1) {
  const auto* w = reinterpret_cast<const std::uint64_t*>(slot.data());
  const std::size_t n = slot.size() / 8;
  for (std::size_t i = first_free_word; i < n; ++i)
    if (w[i] != mix(w[0], i)) return false;
  return true;
}

// What a child reports in each result frame (words 1..7; word 0 is the frame
// counter, words 8.. the pattern).
struct Report {
  std::uint64_t counter, child, first_seq, last_seq, seq_errors, torn, compute_frames, pad;
};
constexpr std::size_t kReportWords = sizeof(Report) / 8;

// The child: attaches, consumes control messages and compute frames,
// publishes result frames. Never returns; exit code 0 = no errors seen.
[[noreturn]] void child_main(int fd, std::uint64_t child_id) {
  auto attached = Arena::attach_memfd(fd);
  if (!attached.ok()) _exit(10);
  Arena& a = attached.value();
  ComponentLine& line = a.component(Component::kRender);
  line.pid.store(static_cast<std::uint32_t>(getpid()), std::memory_order_relaxed);
  line.state.store(static_cast<std::uint32_t>(ComponentState::kRunning), std::memory_order_relaxed);
  TripleBuffer& compute = a.triple_buffer(FrameStage::kCompute);
  TripleBuffer& result = a.triple_buffer(FrameStage::kResult);
  Report r{0, child_id, 0, 0, 0, 0, 0, 0};
  const auto die_at = Clock::now() + kChildLifetime;
  while (Clock::now() < die_at) {
    ControlMessage m{};
    if (a.control().pop(m, 1ms)) {
      if (m.kind == static_cast<std::uint32_t>(ControlKind::kShutdown)) {
        line.state.store(static_cast<std::uint32_t>(ComponentState::kStopped),
                         std::memory_order_relaxed);
        _exit(r.seq_errors == 0 && r.torn == 0 ? 0 : 1);
      }
      if (r.first_seq == 0) r.first_seq = m.sequence;
      if (r.last_seq != 0 && m.sequence != r.last_seq + 1) ++r.seq_errors;
      r.last_seq = m.sequence;
      line.frame.store(m.sequence, std::memory_order_relaxed);
    }
    auto f = compute.acquire_latest();
    if (f.is_new) {
      ++r.compute_frames;
      if (!intact(f.data) || f.data.size() != 8192) ++r.torn;
    }
    auto slot = result.write_slot();
    ++r.counter;
    std::memcpy(slot.data() + 8, &r.child, sizeof(Report) - 8);
    fill(slot, r.counter, kReportWords);
    (void)result.publish();
    line.heartbeat.fetch_add(1, std::memory_order_relaxed);
  }
  _exit(3);
}

// The parent's side of one phase: stream until the child has consumed
// `until_seq`, checking every result frame it receives.
struct Parent {
  Arena& a;
  std::uint64_t next_seq = 1;
  std::uint64_t compute_published = 0;
  std::uint64_t results_taken = 0;
  std::uint64_t torn_results = 0;
  Report last{};

  void step() {
    ControlMessage m{static_cast<std::uint32_t>(ControlKind::kPing), 0, next_seq, next_seq, 0};
    // Blocking push: while the ring is full the parent sleeps and leaves the
    // CPU to the child (the test machines have two cores).
    if (a.control().push(m, 50ms)) ++next_seq;
    fill(a.triple_buffer(FrameStage::kCompute).write_slot(), compute_published + 1);
    compute_published = a.triple_buffer(FrameStage::kCompute).publish();
    auto f = a.triple_buffer(FrameStage::kResult).acquire_latest();
    if (f.is_new) {
      ++results_taken;
      if (!intact(f.data, kReportWords)) {
        ++torn_results;
      } else {
        std::memcpy(&last, f.data.data(), sizeof(Report));
      }
    }
  }

  // Streams until the child reports `seq` consumed; false on the deadline.
  bool run_until(std::uint64_t seq) {
    const auto deadline = Clock::now() + kPhaseDeadline;
    while (a.component(Component::kRender).frame.load(std::memory_order_relaxed) < seq) {
      if (Clock::now() > deadline) return false;
      step();
    }
    return true;
  }
};

pid_t spawn(int fd, std::uint64_t child_id) {
  const pid_t pid = fork();
  if (pid == 0) child_main(fd, child_id);
  return pid;
}

// waitpid with a deadline; kills the child if it overstays.
int wait_exit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(1ms);
  }
  return status;
}

TEST(ArenaMultiprocess, ChildKilledMidStreamThenReattached) {
  auto created = Arena::create_memfd(spec(), "arena-mp-test");
  ASSERT_TRUE(created.ok()) << created.error().what();
  Arena& a = created.value();
  Parent p{a};

  // Phase 1: stream to child 1, then kill it while it is busy.
  const pid_t first = spawn(a.fd(), 1);
  ASSERT_GT(first, 0);
  const bool reached = p.run_until(kMessagesPerChild);
  // Keep streaming right up to the kill so that it lands mid-stream.
  for (int i = 0; i < 100; ++i) p.step();
  ASSERT_EQ(kill(first, SIGKILL), 0);
  const int status = wait_exit(first, 10s);
  ASSERT_TRUE(reached) << "child 1 stalled at seq "
                       << a.component(Component::kRender).frame.load(std::memory_order_relaxed);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  // The parent is unaffected: header valid, counters consistent, views work.
  ASSERT_TRUE(Arena::validate(a.base(), a.total_bytes(), a.zone_map().kernel_bytes).ok());
  EXPECT_EQ(p.torn_results, 0u);
  EXPECT_GT(p.results_taken, 0u);
  EXPECT_EQ(p.last.child, 1u);
  EXPECT_EQ(p.last.seq_errors, 0u) << "child 1 saw lost, duplicated or reordered messages";
  EXPECT_EQ(p.last.torn, 0u) << "child 1 accepted torn compute frames";
  EXPECT_GT(p.last.compute_frames, 0u);
  TripleBuffer& compute = a.triple_buffer(FrameStage::kCompute);
  EXPECT_EQ(compute.published(), p.compute_published);
  // Each frame was consumed, dropped, or is still pending; a reader killed
  // inside acquire_latest may not have counted its last one.
  EXPECT_LE(compute.consumed() + compute.dropped(), compute.published());
  EXPECT_GE(compute.consumed() + compute.dropped() + 2, compute.published());
  EXPECT_EQ(a.triple_buffer(FrameStage::kResult).consumed(), p.results_taken);
  const std::uint64_t reported =
      a.component(Component::kRender).frame.load(std::memory_order_relaxed);
  EXPECT_LT(reported, p.next_seq);
  // Nobody consumes now: the ring fills up and refuses cleanly, then the
  // parent's own consumer view can drain it in order.
  std::uint64_t pushed = 0;
  while (a.control().try_push(ControlMessage{0, 0, p.next_seq, 0, 0})) {
    ++p.next_seq;
    ++pushed;
    ASSERT_LE(pushed, 8u);
  }
  EXPECT_LE(pushed, 8u);
  auto peer = Arena::attach_memfd(a.fd());
  ASSERT_TRUE(peer.ok()) << peer.error().what();

  // Recovery: rebuild the triple buffers child 1 shared, then child 2
  // re-attaches and continues the control stream.
  ASSERT_TRUE(a.rebuild_frames(FrameStage::kCompute).ok());
  ASSERT_TRUE(a.rebuild_frames(FrameStage::kResult).ok());
  p.compute_published = 0;
  p.results_taken = 0;
  p.last = Report{};
  const pid_t second = spawn(a.fd(), 2);
  ASSERT_GT(second, 0);
  const bool reached2 = p.run_until(reported + kMessagesPerChild);
  // Let one more result frame through so that `last` is child 2's latest.
  const auto deadline = Clock::now() + kPhaseDeadline;
  while (p.last.child != 2 && Clock::now() < deadline) p.step();
  ControlMessage bye{static_cast<std::uint32_t>(ControlKind::kShutdown), 0, 0, 0, 0};
  const bool sent = a.control().push(bye, 10s);
  const int status2 = wait_exit(second, 20s);
  ASSERT_TRUE(reached2) << "child 2 stalled";
  ASSERT_TRUE(sent);
  ASSERT_TRUE(WIFEXITED(status2)) << status2;
  EXPECT_EQ(WEXITSTATUS(status2), 0) << "child 2 saw lost, duplicated, reordered or torn data";
  EXPECT_EQ(p.last.child, 2u);
  // Child 2 starts right after the last message child 1 reported (or one
  // later: child 1 may die between taking a message and reporting it).
  EXPECT_GE(p.last.first_seq, reported + 1);
  EXPECT_LE(p.last.first_seq, reported + 2);
  EXPECT_EQ(p.last.seq_errors, 0u);
  EXPECT_EQ(p.last.torn, 0u);
  EXPECT_EQ(p.torn_results, 0u);
  EXPECT_EQ(a.triple_buffer(FrameStage::kCompute).rejected() + a.triple_buffer(FrameStage::kResult).rejected(),
            0u);
}

TEST(ArenaMultiprocess, ChildRefusesAnUnsealedCopy) {
  auto created = Arena::create_memfd(spec(), "arena-mp-src");
  ASSERT_TRUE(created.ok());
  const int fd = memfd_create("unsealed", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const auto total = static_cast<std::size_t>(created->total_bytes());
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(total)), 0);
  ASSERT_EQ(pwrite(fd, created->base(), total, 0), static_cast<ssize_t>(total));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = Arena::attach_memfd(fd);
    _exit(!r.ok() && r.error().code == Errc::kNotSealed ? 0 : 1);
  }
  const int status = wait_exit(pid, 10s);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  close(fd);
}

}  // namespace
}  // namespace triptych
