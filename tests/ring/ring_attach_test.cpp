// SPDX-License-Identifier: Apache-2.0
// attach() on good, corrupt, truncated and hostile bytes, for both rings: each
// bad header yields its own Errc and never a crash (ASan+UBSan run this file).
// Also: attaching through a second mapping of the same memfd pages, and a
// seeded random-header sweep. Single-threaded. See docs/rings.md.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <random>

#include "ring/ring_test_util.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych {
namespace {

using namespace ring_test;
using ring_test::Mpmc;
using ring_test::Spsc;

template <class R>
struct Traits;
template <>
struct Traits<Spsc> {
  using Header = SpscRingHeader;
  static std::atomic<std::uint64_t>& writer_pos(Header& h) { return h.tail; }
  static std::atomic<std::uint64_t>& reader_pos(Header& h) { return h.head; }
};
template <>
struct Traits<Mpmc> {
  using Header = MpmcRingHeader;
  static std::atomic<std::uint64_t>& writer_pos(Header& h) { return h.enqueue_pos; }
  static std::atomic<std::uint64_t>& reader_pos(Header& h) { return h.dequeue_pos; }
};

template <class R>
class RingAttach : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kCap = 16;
  using Header = typename Traits<R>::Header;

  RingAttach() : buf_(R::required_bytes(kCap)) {
    auto r = R::create(buf_.data(), buf_.size(), kCap);
    EXPECT_TRUE(r.ok());
  }
  Header& header() { return *reinterpret_cast<Header*>(buf_.data()); }
  Errc attach_error(std::size_t bytes) {
    auto r = R::attach(buf_.data(), bytes);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return Errc::kOutOfRange;  // never a code attach returns: fails the caller's EXPECT
    EXPECT_FALSE(r.error().message.empty());
    return r.error().code;
  }
  Errc attach_error() { return attach_error(buf_.size()); }

  AlignedBuffer buf_;
};

using ring_test::RingNames;
using ring_test::RingTypes;
TYPED_TEST_SUITE(RingAttach, RingTypes, RingNames);

TYPED_TEST(RingAttach, SucceedsOnAFreshRingAndSharesItsCells) {
  auto a = TypeParam::attach(this->buf_.data(), this->buf_.size());
  ASSERT_TRUE(a.ok()) << a.error().what();
  EXPECT_EQ(a->capacity(), this->kCap);
  auto b = TypeParam::attach(this->buf_.data(), this->buf_.size());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(a->try_push(42));
  std::uint64_t out = 0;
  ASSERT_TRUE(b->try_pop(out));
  EXPECT_EQ(out, 42u);
}

TYPED_TEST(RingAttach, ZeroedBytesAreBadMagic) {
  AlignedBuffer zero(TypeParam::required_bytes(16));
  auto r = TypeParam::attach(zero.data(), zero.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kBadMagic);
}

TYPED_TEST(RingAttach, BadMagic) {
  this->header().magic.store(0x1234, std::memory_order_relaxed);
  EXPECT_EQ(this->attach_error(), Errc::kBadMagic);
}

TYPED_TEST(RingAttach, TheOtherRingKindIsBadMagic) {
  using Other = std::conditional_t<std::is_same_v<TypeParam, Spsc>, Mpmc, Spsc>;
  AlignedBuffer other(Other::required_bytes(16) + TypeParam::required_bytes(16));
  ASSERT_TRUE(Other::create(other.data(), other.size(), 16).ok());
  auto r = TypeParam::attach(other.data(), other.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kBadMagic);
}

TYPED_TEST(RingAttach, BadVersion) {
  this->header().version = kRingLayoutVersion + 1;
  EXPECT_EQ(this->attach_error(), Errc::kBadVersion);
}

TYPED_TEST(RingAttach, CapacityNotAPowerOfTwo) {
  for (std::uint32_t bad : {0u, 1u, 3u, 12u, 0xFFFFFFFFu}) {
    this->header().capacity = bad;
    EXPECT_EQ(this->attach_error(), Errc::kCorruptHeader) << bad;
  }
}

TYPED_TEST(RingAttach, ElementSizeMismatch) {
  auto narrow = std::conditional_t<std::is_same_v<TypeParam, Spsc>, SpscRing<std::uint32_t>,
                                   MpmcRing<std::uint32_t>>::attach(this->buf_.data(),
                                                                    this->buf_.size());
  ASSERT_FALSE(narrow.ok());
  EXPECT_EQ(narrow.error().code, Errc::kCorruptHeader);
  this->header().elem_size = 16;
  EXPECT_EQ(this->attach_error(), Errc::kCorruptHeader);
}

// A capacity whose cells overrun the bytes: with a consistent (hostile)
// recorded size it is "too small"; with an inconsistent one, "corrupt".
TYPED_TEST(RingAttach, CapacityOverflowingTheBytes) {
  this->header().capacity = 1u << 30;
  EXPECT_EQ(this->attach_error(), Errc::kCorruptHeader);
  this->header().total_bytes = TypeParam::required_bytes(1u << 30);
  EXPECT_EQ(this->attach_error(), Errc::kTooSmall);
  this->header().capacity = kRingMaxCapacity;
  this->header().total_bytes = TypeParam::required_bytes(kRingMaxCapacity);
  EXPECT_EQ(this->attach_error(), Errc::kTooSmall);
}

TYPED_TEST(RingAttach, RecordedSizesDisagree) {
  this->header().total_bytes += 64;
  EXPECT_EQ(this->attach_error(), Errc::kCorruptHeader);
  this->header().total_bytes -= 64;
  this->header().cells_offset = 64;
  EXPECT_EQ(this->attach_error(), Errc::kCorruptHeader);
}

TYPED_TEST(RingAttach, TruncatedBytes) {
  EXPECT_EQ(this->attach_error(this->buf_.size() - 1), Errc::kTooSmall);
  EXPECT_EQ(this->attach_error(191), Errc::kTooSmall);
  EXPECT_EQ(this->attach_error(0), Errc::kTooSmall);
}

TYPED_TEST(RingAttach, MisalignedAndNullMemory) {
  auto r = TypeParam::attach(this->buf_.data() + 8, this->buf_.size() - 8);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMisaligned);
  auto n = TypeParam::attach(nullptr, 4096);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, Errc::kInvalidArgument);
}

TYPED_TEST(RingAttach, WriterMoreThanCapacityAheadOfReader) {
  Traits<TypeParam>::writer_pos(this->header()).store(100, std::memory_order_relaxed);
  Traits<TypeParam>::reader_pos(this->header()).store(10, std::memory_order_relaxed);
  EXPECT_EQ(this->attach_error(), Errc::kCorruptHeader);
}

// Seeded sweep: keep magic and version valid so the later checks are reached,
// randomise the rest of the header; attach must fail cleanly or give a ring
// whose ops stay inside the buffer (ASan checks the latter).
TYPED_TEST(RingAttach, RandomHeadersNeverCrash) {
  std::mt19937_64 rng(12345);
  auto& h = this->header();
  const std::size_t header_bytes = sizeof(typename TestFixture::Header);
  int accepted = 0;
  const int rounds = static_cast<int>(scaled(20000, 5000));
  for (int i = 0; i < rounds; ++i) {
    ASSERT_TRUE(TypeParam::create(this->buf_.data(), this->buf_.size(), TestFixture::kCap).ok());
    // Flip 1-4 random bytes past magic+version, sometimes a whole word.
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const std::size_t at = 12 + rng() % (header_bytes - 12);
      this->buf_.data()[at] = static_cast<std::byte>(rng());
    }
    if (i % 7 == 0) h.capacity = static_cast<std::uint32_t>(rng());
    auto r = TypeParam::attach(this->buf_.data(), this->buf_.size());
    if (!r.ok()) continue;
    ++accepted;
    std::uint64_t out = 0;
    (void)r->try_push(1);
    (void)r->try_pop(out);
    std::array<std::uint64_t, 4> b{};
    (void)r->try_push_n(std::span<const std::uint64_t>(b));
    (void)r->try_pop_n(std::span<std::uint64_t>(b));
  }
  EXPECT_GT(accepted, 0);  // flips in padding and waiters keep the ring valid
  EXPECT_LT(accepted, rounds);
}

// The same pages at two virtual addresses, as another process would see them.
TYPED_TEST(RingAttach, WorksThroughASecondMappingOfTheSameBytes) {
  const int fd = memfd_create("triptych-ring-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::size_t bytes = align_up(TypeParam::required_bytes(64), kPageSize);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  void* a = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* b = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(a, MAP_FAILED);
  ASSERT_NE(b, MAP_FAILED);
  ASSERT_NE(a, b);
  auto created = TypeParam::create(static_cast<std::byte*>(a), bytes, 64);
  ASSERT_TRUE(created.ok());
  auto attached = TypeParam::attach(static_cast<std::byte*>(b), bytes);
  ASSERT_TRUE(attached.ok()) << attached.error().what();
  std::uint64_t errors = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    if (!created->try_push(i)) ++errors;
    std::uint64_t out = 0;
    if (!attached->try_pop(out) || out != i) ++errors;
  }
  EXPECT_EQ(errors, 0u);
  munmap(a, bytes);
  munmap(b, bytes);
  close(fd);
}

}  // namespace
}  // namespace triptych
