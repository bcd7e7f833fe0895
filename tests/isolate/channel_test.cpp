// SPDX-License-Identifier: Apache-2.0
// Channel::receive_into: a message into the caller's buffers, without
// allocating; what does not fit is reported truncated, and fds beyond the
// caller's array are closed, never leaked. Design: docs/isolation.md,
// "Handshake".
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "triptych/isolate/channel.hpp"

namespace triptych::isolate {
namespace {

using namespace std::chrono_literals;

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(Channel, ReceiveIntoFillsTheCallersBuffers) {
  auto pair = Channel::make_pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = pair.value();
  const std::array<std::byte, 5> sent{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const int fds[1] = {fd};
  ASSERT_TRUE(a.send(sent, fds));
  ::close(fd);
  std::array<std::byte, 16> buffer{};
  std::array<UniqueFd, 2> got_fds;
  auto got = b.receive_into(std::chrono::steady_clock::now() + 1s, buffer, got_fds);
  ASSERT_TRUE(got) << got.error().what();
  EXPECT_EQ(got.value().bytes, 5u);
  EXPECT_EQ(got.value().fds, 1u);
  EXPECT_FALSE(got.value().truncated);
  EXPECT_EQ(std::memcmp(buffer.data(), sent.data(), sent.size()), 0);
  EXPECT_TRUE(got_fds[0].valid());
  EXPECT_FALSE(got_fds[1].valid());
}

TEST(Channel, ReceiveIntoMarksWhatDoesNotFitTruncatedAndClosesTheExtraFds) {
  auto pair = Channel::make_pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = pair.value();
  const std::size_t before = open_fds();
  std::array<int, 3> fds{};
  for (int& fd : fds) fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::array<std::byte, 64> sent{};
  ASSERT_TRUE(a.send(sent, fds));
  for (const int fd : fds) ::close(fd);
  {
    std::array<std::byte, 8> small{};
    std::array<UniqueFd, 1> one;
    auto got = b.receive_into(std::chrono::steady_clock::now() + 1s, small, one);
    ASSERT_TRUE(got) << got.error().what();
    EXPECT_TRUE(got.value().truncated);
    EXPECT_EQ(got.value().bytes, 8u);
    EXPECT_EQ(got.value().fds, 1u);
  }
  EXPECT_EQ(open_fds(), before) << "an fd beyond the caller's array leaked";
}

TEST(Channel, ReceiveIntoTimesOutAtTheDeadlineAndSeesAHangUp) {
  auto pair = Channel::make_pair();
  ASSERT_TRUE(pair);
  auto& [a, b] = pair.value();
  std::array<std::byte, 8> buffer{};
  const auto start = std::chrono::steady_clock::now();
  auto got = b.receive_into(start + 50ms, buffer, {});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::kTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  a.close();
  got = b.receive_into(std::chrono::steady_clock::now() + 1s, buffer, {});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::kPeerLost);
}

}  // namespace
}  // namespace triptych::isolate
