// SPDX-License-Identifier: Apache-2.0
// The host/render-process handshake against a real spawned child: a good
// child attaches both memories and stands ready; a silent child times out
// at the deadline; a child of another protocol version, or one that sends
// an fd, is refused and the fd closed; a child that dies mid-handshake is a
// PeerLost, not a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>

#include "isolate/child_fixture.hpp"
#include "triptych/isolate/protocol.hpp"

namespace triptych::isolate {
namespace {

using namespace std::chrono_literals;
using test::spawn_child;

constexpr std::size_t kPage = 4096;

struct Fixture {
  SplitMemory memory;
  HostHandshake how;
};

Fixture make_memory(std::chrono::milliseconds deadline) {
  auto m = SplitMemory::create(4 * kPage, 2 * kPage);
  EXPECT_TRUE(m) << m.error().what();
  EXPECT_TRUE(m.value().seal_host());
  return {std::move(m).value(), HostHandshake{7, 64, std::chrono::steady_clock::now() + deadline}};
}

TEST(Handshake, AGoodChildAttachesBothMemoriesAndStandsReady) {
  auto f = make_memory(5s);
  auto child = spawn_child("serve");
  ASSERT_TRUE(child) << child.error().what();
  const auto t0 = std::chrono::steady_clock::now();
  auto ok = host_handshake(child.value().channel, f.memory, f.how);
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "well inside the 5 s deadline";
  // The child bumps its progress word in C, which the host sees.
  auto* word = reinterpret_cast<std::atomic<std::uint64_t>*>(f.memory.child().data() + 64);
  const std::uint64_t first = word->load(std::memory_order_relaxed);
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (word->load(std::memory_order_relaxed) == first && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_NE(word->load(std::memory_order_relaxed), first) << "the child's progress reaches the host through C";
}

TEST(Handshake, ASilentChildTimesOutAtTheDeadline) {
  auto f = make_memory(300ms);
  // Measured from when the deadline was set: spawning the child spends part of it.
  const auto t0 = f.how.deadline - 300ms;
  auto child = spawn_child("silent");
  ASSERT_TRUE(child);
  auto ok = host_handshake(child.value().channel, f.memory, f.how);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kTimedOut) << ok.error().what();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 800ms) << "returned at its deadline, not later";
}

TEST(Handshake, AnotherProtocolVersionIsRefused) {
  auto f = make_memory(5s);
  auto child = spawn_child("bad-version");
  ASSERT_TRUE(child);
  auto ok = host_handshake(child.value().channel, f.memory, f.how);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kBadVersion) << ok.error().what();
  EXPECT_NE(ok.error().message.find("protocol 99"), std::string::npos) << ok.error().what();
}

TEST(Handshake, AnFdFromTheChildIsRefusedAndClosed) {
  auto f = make_memory(5s);
  auto child = spawn_child("send-fd");
  ASSERT_TRUE(child);
  const int fds_before = test::open_fd_count();
  auto ok = host_handshake(child.value().channel, f.memory, f.how);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kPeerLost) << ok.error().what();
  EXPECT_NE(ok.error().message.find("refused"), std::string::npos) << ok.error().what();
  EXPECT_EQ(test::open_fd_count(), fds_before) << "the passed fd was closed, not kept";
}

TEST(Handshake, AChildKilledMidHandshakeIsPeerLostNotAHang) {
  auto f = make_memory(5s);
  auto child = spawn_child("silent");
  ASSERT_TRUE(child);
  ASSERT_TRUE(child.value().process.signal(SIGKILL));
  const auto t0 = std::chrono::steady_clock::now();
  auto ok = host_handshake(child.value().channel, f.memory, f.how);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kPeerLost) << ok.error().what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "the hang-up ends the wait, not the 5 s deadline";
}

}  // namespace
}  // namespace triptych::isolate
