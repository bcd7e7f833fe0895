// SPDX-License-Identifier: Apache-2.0
// The two memories' seals, from inside a real child: it cannot shrink, grow,
// reseal or write H by any route (EPERM/EACCES), cannot resize C, and the
// host is never hit by SIGBUS. Attach refuses an unsealed H, and one of
// another size. The sandbox keeps the child away from the host.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <string>

#include "isolate/child_fixture.hpp"
#include "triptych/isolate/protocol.hpp"

namespace triptych::isolate {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kPage = 4096;

TEST(SplitMemory, HAndCAreBackToBack) {
  auto m = SplitMemory::create(2 * kPage, kPage);
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m.value().host().data() + m.value().host().size(), m.value().child().data());
  EXPECT_EQ(m.value().child().size(), kPage);
}

TEST(SplitMemory, BadSizesAreRefused) {
  EXPECT_FALSE(SplitMemory::create(0, kPage));
  auto odd = SplitMemory::create(kPage + 1, kPage);
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("page size"), std::string::npos) << odd.error().what();
}

TEST(SplitMemory, AttachRefusesAnUnsealedHostMemory) {
  auto m = SplitMemory::create(kPage, kPage);
  ASSERT_TRUE(m);
  const int h = ::dup(m.value().host_fd());
  const int c = ::dup(m.value().child_fd());
  auto a = SplitMemory::attach(h, c, kPage, kPage);  // H not sealed yet
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::kNotSealed) << a.error().what();
  ::close(h);
  ::close(c);
}

TEST(SplitMemory, AttachRefusesAnotherSize) {
  auto m = SplitMemory::create(kPage, kPage);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m.value().seal_host());
  const int h = ::dup(m.value().host_fd());
  const int c = ::dup(m.value().child_fd());
  auto a = SplitMemory::attach(h, c, 2 * kPage, kPage);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::kCorruptHeader) << a.error().what();
  ::close(h);
  ::close(c);
}

TEST(SplitMemory, TheChildCannotWriteOrResizeEitherWayItTries) {
  auto m = SplitMemory::create(4 * kPage, 2 * kPage);
  ASSERT_TRUE(m);
  m.value().host()[0] = std::byte{42};
  m.value().child()[kPage] = std::byte{9};
  ASSERT_TRUE(m.value().seal_host());
  auto child = test::spawn_child("seal-probe");
  ASSERT_TRUE(child);
  ASSERT_TRUE(host_handshake(child.value().channel, m.value(),
                             HostHandshake{1, 0, std::chrono::steady_clock::now() + 5s}));
  auto report = child.value().channel.receive(std::chrono::steady_clock::now() + 5s);
  ASSERT_TRUE(report) << report.error().what();
  const std::string r(reinterpret_cast<const char*>(report.value().bytes.data()), report.value().bytes.size());
  EXPECT_EQ(r,
            "ftruncate_h=EPERM grow_h=EPERM ftruncate_c=EPERM mmap_write_h=EPERM write_h=EPERM unseal_h=EPERM "
            "mprotect_h=EACCES punch_h=EPERM punch_c=OK");
  // The hole the child punched in C reads as zeros here, and C kept its size.
  EXPECT_EQ(m.value().child()[kPage], std::byte{0});
  struct stat st {};
  ASSERT_EQ(::fstat(m.value().child_fd(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), 2 * kPage);
  // Still whole, still ours, and the host's own writable mapping still works.
  EXPECT_EQ(m.value().host()[0], std::byte{42});
  m.value().host()[1] = std::byte{7};
  EXPECT_EQ(m.value().host()[1], std::byte{7});
}

// The sandbox, from inside a real child after its handshake: every way to
// another process is refused, and the child still works inside it.
TEST(Sandbox, TheChildCannotReachTheHostAndStillServes) {
  auto m = SplitMemory::create(4 * kPage, 2 * kPage);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m.value().seal_host());
  auto child = test::spawn_child("sandbox-probe");
  ASSERT_TRUE(child);
  ASSERT_TRUE(host_handshake(child.value().channel, m.value(),
                             HostHandshake{1, 64, std::chrono::steady_clock::now() + 5s}));
  auto report = child.value().channel.receive(std::chrono::steady_clock::now() + 5s);
  ASSERT_TRUE(report) << report.error().what();
  const std::string r(reinterpret_cast<const char*>(report.value().bytes.data()), report.value().bytes.size());
  EXPECT_NE(r.find("pidfd_open=EPERM ptrace=EPERM vm_read=EPERM"), std::string::npos) << r;
  if (r.rfind("landlock=1", 0) == 0) {
    EXPECT_NE(r.find("open_host_fd=EACCES open_file=EACCES"), std::string::npos) << r;
  } else {
    std::printf("this kernel has no Landlock: the file-system rule is not checked (%s)\n", r.c_str());
  }
  auto* word = reinterpret_cast<std::atomic<std::uint64_t>*>(m.value().child().data() + 64);
  const std::uint64_t first = word->load(std::memory_order_relaxed);
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (word->load(std::memory_order_relaxed) == first && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_NE(word->load(std::memory_order_relaxed), first) << "the sandboxed child still makes progress";
}

}  // namespace
}  // namespace triptych::isolate
