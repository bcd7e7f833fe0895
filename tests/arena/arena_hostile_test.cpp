// SPDX-License-Identifier: Apache-2.0
// Bad input to include/triptych/arena/arena.hpp: every header word
// overwritten with hostile values, corrupt zone rows and sub-blocks,
// truncated regions, unsealed and truncated memfds, and adopted regions that
// are too small, misaligned or overlapping. Single-threaded.
#include "arena/arena_fixtures.hpp"
#include "support/host_memory.hpp"
#include "triptych/arena/arena.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>

namespace triptych {
namespace {

using test::HostMemory;
using testing_arena::small_spec;

// --- bad input ---------------------------------------------------------------

// An arena in a plain host buffer, easy to corrupt and re-attach.
class ArenaHostile : public testing::Test {
 protected:
  void SetUp() override {
    auto l = compute_zone_map(small_spec());
    ASSERT_TRUE(l.ok());
    zone_map_ = l.value();
    host_.emplace(HostMemory(static_cast<std::size_t>(zone_map_.total_bytes)));
    kernel_host_.emplace(HostMemory(static_cast<std::size_t>(zone_map_.kernel_bytes)));
    auto a = Arena::adopt(memories(), small_spec());
    ASSERT_TRUE(a.ok()) << a.error().what();
  }
  HostMemories memories() const {
    return HostMemories{kernel_host_->mem.get(), kernel_host_->bytes, host_->mem.get(), host_->bytes, offset_};
  }
  std::byte* base() { return host_->mem.get() + offset_; }
  Result<Arena> attach() { return Arena::attach_external(memories()); }
  void expect_refused(Errc code, const char* what) {
    auto r = attach();
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code, code) << what << ": " << r.error().what();
    EXPECT_FALSE(r.error().message.empty());
  }
  template <class T>
  void poke(std::uint64_t off, T v) {
    std::memcpy(base() + off, &v, sizeof(T));
  }
  ZoneMap zone_map_;
  std::optional<HostMemory> host_;
  std::optional<HostMemory> kernel_host_;
  std::uint64_t offset_ = 0;
};

TEST_F(ArenaHostile, EveryHeaderWordOverwrittenIsRefusedOrHarmless) {
  std::vector<std::byte> pristine(base(), base() + sizeof(ArenaHeader));
  // Spec echoes whose change the page rounding may absorb: refusing is
  // allowed but not required. Every other word must be refused.
  auto may_pass = [](std::size_t off) {
    return (off >= offsetof(ArenaHeader, worker_stack_bytes) &&
            off < offsetof(ArenaHeader, worker_stack_bytes) + 16);  // stack bytes, static bytes
  };
  int refused = 0;
  for (std::size_t off = 0; off < sizeof(ArenaHeader); off += 4) {
    std::uint32_t orig = 0;
    std::memcpy(&orig, pristine.data() + off, 4);
    for (std::uint32_t v :
         {0u, 1u, 0xFFFFFFFFu, 0x80000000u, orig ^ 1u, orig ^ 0x1000u, orig + 64u}) {
      if (v == orig) continue;
      poke(off, v);
      auto r = attach();
      if (r.ok()) {
        EXPECT_TRUE(may_pass(off)) << "header word at " << off << " = " << v << " was accepted";
      } else {
        ++refused;
        EXPECT_FALSE(r.error().message.empty());
      }
      std::memcpy(base() + off, pristine.data() + off, 4);
    }
  }
  EXPECT_GT(refused, 1000);
  auto healthy = attach();
  EXPECT_TRUE(healthy.ok()) << healthy.error().what();
}

TEST_F(ArenaHostile, HeaderFieldsGiveTheirOwnErrors) {
  auto reset = [&] {
    auto a = Arena::adopt(memories(), small_spec());
    ASSERT_TRUE(a.ok());
  };
  poke<std::uint64_t>(offsetof(ArenaHeader, magic), 0x1234);
  expect_refused(Errc::kBadMagic, "magic");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, version), kArenaVersion + 1);
  expect_refused(Errc::kBadVersion, "version");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, initialized), 0);
  expect_refused(Errc::kCorruptHeader, "initialized");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, header_bytes), 512);
  expect_refused(Errc::kCorruptHeader, "header_bytes");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, flags), 4);
  expect_refused(Errc::kCorruptHeader, "flags");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, total_bytes), zone_map_.total_bytes + kPageSize);
  expect_refused(Errc::kTooSmall, "total_bytes past the mapping");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, total_bytes), ~std::uint64_t{0});
  expect_refused(Errc::kCorruptHeader, "total_bytes huge");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, total_bytes), zone_map_.total_bytes - kPageSize);
  expect_refused(Errc::kCorruptHeader, "total_bytes short: zones end past it");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, kernel_bytes), zone_map_.kernel_bytes + kPageSize);
  expect_refused(Errc::kTooSmall, "kernel_bytes past the kernel's memory");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, kernel_bytes), zone_map_.kernel_bytes - kPageSize);
  expect_refused(Errc::kCorruptHeader, "kernel_bytes short: compute C ends past it");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, zone_count), 16);
  expect_refused(Errc::kCorruptHeader, "zone_count");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, control_ring_capacity), 12);
  expect_refused(Errc::kCorruptHeader, "control ring capacity not a power of two");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, handle_capacity), 17);
  expect_refused(Errc::kCorruptHeader, "handle capacity disagrees with the table");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, tb_control), zone_map_.tb_control[1]);
  expect_refused(Errc::kCorruptHeader, "two stages share a control block");
  reset();
  poke<std::uint64_t>(offsetof(ArenaHeader, slot_table), 0);
  expect_refused(Errc::kCorruptHeader, "slot table over the header");
  reset();
  poke<std::uint8_t>(offsetof(ArenaHeader, reserved1) + 7, 1);
  expect_refused(Errc::kCorruptHeader, "reserved bytes");
}

TEST_F(ArenaHostile, ZoneRowsGiveTheirOwnErrors) {
  auto row = [](ZoneId id) {
    return offsetof(ArenaHeader, zones) + static_cast<std::uint32_t>(id) * sizeof(ZoneEntry);
  };
  auto reset = [&] {
    auto a = Arena::adopt(memories(), small_spec());
    ASSERT_TRUE(a.ok());
  };
  const ZoneEntry cb = zone_map_.zone(ZoneId::kComputeB);
  poke<std::uint32_t>(row(ZoneId::kComputeB), 3);
  expect_refused(Errc::kCorruptHeader, "row id");
  reset();
  poke<std::uint32_t>(row(ZoneId::kComputeB) + 4, 0);
  expect_refused(Errc::kCorruptHeader, "row flags");
  reset();
  poke<std::uint64_t>(row(ZoneId::kComputeB) + 8, cb.offset + 64);
  expect_refused(Errc::kMisaligned, "frame zone off its page");
  reset();
  poke<std::uint64_t>(row(ZoneId::kComputeB) + 8, cb.offset - kPageSize);
  expect_refused(Errc::kOverlap, "compute B over compute A");
  reset();
  poke<std::uint64_t>(row(ZoneId::kComputeB) + 8, zone_map_.kernel_bytes);
  expect_refused(Errc::kCorruptHeader, "compute B past the end of the kernel's memory");
  reset();
  poke<std::uint32_t>(row(ZoneId::kResultA) + 4, kZoneKernelMemory | kZoneGpuImport);
  expect_refused(Errc::kCorruptHeader, "result A moved into the kernel's memory");
  reset();
  poke<std::uint64_t>(row(ZoneId::kComputeB) + 16, ~std::uint64_t{0} - kPageSize + 1);
  expect_refused(Errc::kCorruptHeader, "offset + size overflows");
  reset();
  poke<std::uint64_t>(row(ZoneId::kTrace) + 16, zone_map_.zone(ZoneId::kTrace).size + 64);
  expect_refused(Errc::kCorruptHeader, "trace size disagrees with the spec");
  reset();
  poke<std::uint64_t>(row(ZoneId::kKernel) + 16, 0);
  expect_refused(Errc::kCorruptHeader, "kernel zone size disagrees with the spec");
  reset();
  poke<std::uint32_t>(offsetof(ArenaHeader, zones) + kZoneCount * sizeof(ZoneEntry), 15);
  expect_refused(Errc::kCorruptHeader, "the unused row is not zero");
}

TEST_F(ArenaHostile, CorruptSubBlocksAreRefusedWithTheirName) {
  auto reset = [&] {
    auto a = Arena::adopt(memories(), small_spec());
    ASSERT_TRUE(a.ok());
  };
  auto expect_named = [&](Errc code, const char* name) {
    auto r = attach();
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, code) << r.error().what();
    EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().what();
  };
  poke<std::uint32_t>(zone_map_.tb_control[2], 0);
  expect_named(Errc::kBadMagic, "triple buffer 2");
  reset();
  // Layout slot 0 pointed at the result zone: in bounds, but not its own.
  poke<std::uint64_t>(zone_map_.tb_control[1] + offsetof(TripleBufferControl, slot_offsets),
                      zone_map_.zone(ZoneId::kResultA).offset);
  expect_named(Errc::kCorruptHeader, "triple buffer 1");
  reset();
  poke<std::uint64_t>(zone_map_.tb_control[0] + offsetof(TripleBufferControl, slot_offsets) + 8,
                      zone_map_.kernel_bytes);
  expect_named(Errc::kOutOfRange, "triple buffer 0");
  reset();
  // Compute slot 0 pointed at offset 0 of the kernel's memory: in bounds of
  // that memory, but the kernel zone, not a compute slot.
  poke<std::uint64_t>(zone_map_.tb_control[0] + offsetof(TripleBufferControl, slot_offsets), 0);
  expect_named(Errc::kCorruptHeader, "triple buffer 0");
  reset();
  poke<std::uint64_t>(zone_map_.zone(ZoneId::kControlRing).offset, 0);
  expect_named(Errc::kBadMagic, "control ring");
  reset();
  poke<std::uint32_t>(zone_map_.zone(ZoneId::kHandoffRing).offset + 12, 8);  // capacity
  expect_named(Errc::kCorruptHeader, "hand-off ring");
  reset();
  poke<std::uint64_t>(zone_map_.slot_table, 0);
  expect_named(Errc::kBadMagic, "slot table");
  reset();
  poke<std::uint64_t>(zone_map_.zone(ZoneId::kTrace).offset, 0);
  expect_named(Errc::kBadMagic, "trace table");
}

TEST_F(ArenaHostile, TruncatedRegionsAreRefused) {
  for (std::size_t avail : {std::size_t{0}, std::size_t{100}, sizeof(ArenaHeader),
                            static_cast<std::size_t>(zone_map_.total_bytes - 1)}) {
    HostMemories m = memories();
    m.engine_bytes = avail;
    auto r = Arena::attach_external(m);
    ASSERT_FALSE(r.ok()) << avail;
    EXPECT_EQ(r.error().code, Errc::kTooSmall) << avail << ": " << r.error().what();
  }
  HostMemories m = memories();
  m.kernel_bytes = static_cast<std::size_t>(zone_map_.kernel_bytes - kPageSize);
  auto short_kernel = Arena::attach_external(m);
  EXPECT_EQ(short_kernel.error().code, Errc::kTooSmall) << short_kernel.error().what();
  m = memories();
  m.engine_bytes = 10;
  m.engine_offset = 20;
  EXPECT_EQ(Arena::attach_external(m).error().code, Errc::kTooSmall);
  m = memories();
  m.engine = nullptr;
  EXPECT_EQ(Arena::attach_external(m).error().code, Errc::kInvalidArgument);
  m = memories();
  m.kernel = nullptr;
  EXPECT_EQ(Arena::attach_external(m).error().code, Errc::kInvalidArgument);
  m = memories();
  m.engine_offset = 64;
  EXPECT_EQ(Arena::attach_external(m).error().code, Errc::kMisaligned);
  m = memories();
  m.kernel = m.engine;  // one memory for both: the boundary is gone
  EXPECT_EQ(Arena::attach_external(m).error().code, Errc::kOverlap);
}

TEST_F(ArenaHostile, ZeroedAndRandomRegionsAreRefused) {
  std::memset(base(), 0, static_cast<std::size_t>(zone_map_.total_bytes));
  expect_refused(Errc::kBadMagic, "zeroed");
  std::srand(7);
  for (std::size_t i = 0; i < sizeof(ArenaHeader); ++i)
    base()[i] = static_cast<std::byte>(std::rand());
  expect_refused(Errc::kBadMagic, "random");
}

TEST(ArenaAdopt, RejectsTooSmallMisalignedOrOverlappingHostMemory) {
  const ArenaSpec spec = small_spec();
  auto l = compute_zone_map(spec);
  ASSERT_TRUE(l.ok());
  const auto engine_need = static_cast<std::size_t>(l->total_bytes);
  const auto kernel_need = static_cast<std::size_t>(l->kernel_bytes);
  HostMemory engine = HostMemory(engine_need + kPageSize);
  HostMemory kernel = HostMemory(kernel_need + kPageSize);
  const HostMemories fits{kernel.mem.get(), kernel_need, engine.mem.get(), engine_need, 0};
  auto ok = Arena::adopt(fits, spec);
  EXPECT_TRUE(ok.ok()) << ok.error().what();
  HostMemories m = fits;
  m.engine_bytes = engine_need - 1;
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kTooSmall);
  m = fits;
  m.kernel_bytes = kernel_need - 1;
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kTooSmall);
  m = fits;
  m.engine_bytes = engine_need + kPageSize;
  m.engine_offset = 64;
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kMisaligned);
  m = fits;
  m.kernel = kernel.mem.get() + 64;
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kMisaligned);
  m = fits;
  m.engine_bytes = 100;
  m.engine_offset = 200;
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kTooSmall);
  m = fits;
  m.engine = nullptr;
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kInvalidArgument);
  // One buffer for both memories would let a kernel reach the engine's bytes.
  HostMemory both = HostMemory(engine_need + kernel_need);
  m = HostMemories{both.mem.get(), both.bytes, both.mem.get() + kernel_need, engine_need, 0};
  EXPECT_EQ(Arena::adopt(m, spec).error().code, Errc::kOverlap);
  ArenaSpec bad = spec;
  bad.control_ring_capacity = 3;
  EXPECT_EQ(Arena::adopt(fits, bad).error().code, Errc::kInvalidArgument);
}

// --- memfd ---------------------------------------------------------------------

// Copies the first `bytes` of the arena's file image (the engine's memory,
// then the kernel's) into a new memfd with `seals`.
int copy_to_memfd(const Arena& a, std::size_t bytes, unsigned seals) {
  const int fd = memfd_create("arena-copy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  const std::size_t engine = std::min(bytes, a.total_bytes());
  const std::size_t kernel = bytes - engine;
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
      pwrite(fd, a.base(), engine, 0) != static_cast<ssize_t>(engine) ||
      pwrite(fd, a.kernel_base(), kernel, static_cast<off_t>(engine)) != static_cast<ssize_t>(kernel) ||
      (seals != 0 && fcntl(fd, F_ADD_SEALS, seals) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ArenaMemfd, CreatorsFdIsSealed) {
  auto a = Arena::create_memfd(small_spec(), "sealed");
  ASSERT_TRUE(a.ok()) << a.error().what();
  const int seals = fcntl(a->fd(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_NE(ftruncate(a->fd(), 0), 0) << "the seal forbids shrinking";
  EXPECT_EQ(a->backing(), Backing::kMemfd);
  // Closing the fd early keeps the mapping alive.
  a->close_fd();
  EXPECT_EQ(a->fd(), -1);
  ControlMessage m{0, 0, 1, 0, 0};
  EXPECT_TRUE(a->control().try_push(m));
}

TEST(ArenaMemfd, UnsealedOrPartlySealedFdIsRefused) {
  auto a = Arena::create_memfd(small_spec(), "src");
  ASSERT_TRUE(a.ok());
  const auto total = static_cast<std::size_t>(a->total_bytes());
  for (unsigned seals : {0u, unsigned{F_SEAL_SHRINK}, unsigned{F_SEAL_SHRINK | F_SEAL_GROW},
                         unsigned{F_SEAL_GROW | F_SEAL_SEAL}}) {
    const int fd = copy_to_memfd(a.value(), total, seals);
    ASSERT_GE(fd, 0);
    auto r = Arena::attach_memfd(fd);
    ASSERT_FALSE(r.ok()) << seals;
    EXPECT_EQ(r.error().code, Errc::kNotSealed) << r.error().what();
    close(fd);
  }
  // A pipe is not a memfd at all.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  auto r = Arena::attach_memfd(p[0]);
  EXPECT_EQ(r.error().code, Errc::kNotSealed);
  close(p[0]);
  close(p[1]);
  EXPECT_EQ(Arena::attach_memfd(-1).error().code, Errc::kNotSealed);
}

TEST(ArenaMemfd, TruncatedFdIsRefused) {
  auto a = Arena::create_memfd(small_spec(), "src");
  ASSERT_TRUE(a.ok());
  const unsigned all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  const auto total = static_cast<std::size_t>(a->total_bytes() + a->kernel_bytes());
  const int whole = copy_to_memfd(a.value(), total, all);
  ASSERT_GE(whole, 0);
  auto good = Arena::attach_memfd(whole);
  EXPECT_TRUE(good.ok()) << good.error().what();
  close(whole);
  const int cut = copy_to_memfd(a.value(), total - kPageSize, all);
  ASSERT_GE(cut, 0);
  auto r = Arena::attach_memfd(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTooSmall) << r.error().what();
  close(cut);
  const int tiny = copy_to_memfd(a.value(), 100, all);
  ASSERT_GE(tiny, 0);
  EXPECT_EQ(Arena::attach_memfd(tiny).error().code, Errc::kTooSmall);
  close(tiny);
}

}  // namespace
}  // namespace triptych
