// SPDX-License-Identifier: Apache-2.0
// FrameTraceTable on one thread: the record layout, create/attach and every
// attach error, stamping rules (stale, duplicate, invalid), wrap-around with a
// tiny capacity, and the runtime switch of the macros.
#include "triptych/trace/frame_trace.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "triptych/trace/trace.hpp"

namespace triptych::trace {
namespace {

// 64-byte aligned scratch memory for a table.
struct Buffer {
  explicit Buffer(std::size_t n)
      : bytes(n), mem(static_cast<std::byte*>(std::aligned_alloc(64, (n + 63) / 64 * 64 + 64))) {
    std::memset(mem.get(), 0, (n + 63) / 64 * 64 + 64);
  }
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t bytes;
  std::unique_ptr<std::byte, Free> mem;
};

FrameTraceTable make(Buffer& b, std::uint32_t capacity) {
  auto t = FrameTraceTable::create(b.mem.get(), b.bytes, capacity);
  EXPECT_TRUE(t.ok()) << t.error().what();
  return t.value();
}

TEST(FrameTrace, Layout_RequiredBytesIsHeaderPlusOneLinePerFrame) {
  EXPECT_EQ(FrameTraceTable::required_bytes(4), 128u + 4 * 64);
  EXPECT_EQ(FrameTraceTable::required_bytes(1024), 128u + 1024 * 64);
}

TEST(FrameTrace, Table_StampsAndReadsOneFrame) {
  Buffer b(FrameTraceTable::required_bytes(8));
  FrameTraceTable t = make(b, 8);
  const std::uint64_t f = t.begin_frame(100);
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(t.issued(), 1u);
  EXPECT_EQ(t.stamp(f, Stage::kComputeStart, 110), StampStatus::kOk);
  EXPECT_EQ(t.stamp(f, Stage::kComputeEnd, 120), StampStatus::kOk);
  FrameSnapshot s;
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.frame, 0u);
  EXPECT_EQ(s.at(Stage::kQueued), 100u);
  EXPECT_EQ(s.at(Stage::kComputeEnd), 120u);
  EXPECT_EQ(s.at(Stage::kRenderStart), 0u);
  EXPECT_EQ(s.flags, 0u);
  // The bytes match the documented layout: frame word = id + 1, stamps at +8.
  const auto* rec = b.mem.get() + 128;
  std::uint64_t word = 0;
  std::memcpy(&word, rec, 8);
  EXPECT_EQ(word, 1u);
  std::memcpy(&word, rec + 8 + 8 * 2, 8);
  EXPECT_EQ(word, 120u);
}

TEST(FrameTrace, Table_SecondStampOfAStageIsRefusedAndCounted) {
  Buffer b(FrameTraceTable::required_bytes(4));
  FrameTraceTable t = make(b, 4);
  const std::uint64_t f = t.begin_frame(100);
  EXPECT_EQ(t.stamp(f, Stage::kRenderStart, 200), StampStatus::kOk);
  EXPECT_EQ(t.stamp(f, Stage::kRenderStart, 300), StampStatus::kDuplicate);
  EXPECT_EQ(t.stamp(f, Stage::kQueued, 300), StampStatus::kDuplicate);
  EXPECT_EQ(t.duplicate_stamps(), 2u);
  FrameSnapshot s;
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.at(Stage::kRenderStart), 200u);  // the first stamp wins
  EXPECT_NE(s.flags & kFlagDuplicate, 0u);
}

TEST(FrameTrace, Table_BadStampsAreRefusedAndCounted) {
  Buffer b(FrameTraceTable::required_bytes(4));
  FrameTraceTable t = make(b, 4);
  const std::uint64_t f = t.begin_frame(100);
  EXPECT_EQ(t.stamp(f, Stage::kComputeStart, 0), StampStatus::kInvalid);
  EXPECT_EQ(t.stamp(f, static_cast<Stage>(6), 5), StampStatus::kInvalid);
  EXPECT_EQ(t.invalid_stamps(), 2u);
  EXPECT_EQ(t.stamp(f + 1, Stage::kComputeStart, 5), StampStatus::kStale);  // not issued yet
  EXPECT_EQ(t.stamp(~std::uint64_t{0}, Stage::kComputeStart, 5), StampStatus::kStale);
  EXPECT_EQ(t.stamp(~std::uint64_t{0} - 1, Stage::kComputeStart, 5), StampStatus::kStale);
  EXPECT_EQ(t.stale_stamps(), 3u);
  FrameSnapshot s;
  EXPECT_EQ(t.try_read(f + 1, s), ReadStatus::kMissing);
  EXPECT_EQ(t.try_read(~std::uint64_t{0}, s), ReadStatus::kMissing);
  EXPECT_FALSE(t.mark_dropped(f + 4));
}

TEST(FrameTrace, Table_WrapsWithCapacity4AndCountsLostRecords) {
  Buffer b(FrameTraceTable::required_bytes(4));
  FrameTraceTable t = make(b, 4);
  constexpr std::uint64_t kFrames = 1'000'003;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const std::uint64_t f = t.begin_frame(1000 + i);
    ASSERT_EQ(f, i);
    ASSERT_EQ(t.stamp(f, Stage::kPresented, 2000 + i), StampStatus::kOk);
    if (i >= 4) {
      ASSERT_EQ(t.stamp(f - 4, Stage::kComputeStart, 1), StampStatus::kStale);
    }
  }
  std::vector<FrameSnapshot> out;
  CollectCounts counts;
  EXPECT_EQ(t.collect(0, out, counts), kFrames);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(counts.lost, kFrames - 4);
  EXPECT_EQ(counts.torn, 0u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].frame, kFrames - 4 + i);
    EXPECT_EQ(out[i].at(Stage::kQueued), 1000 + out[i].frame);
    EXPECT_EQ(out[i].at(Stage::kComputeStart), 0u);  // reset on reuse
  }
  FrameSnapshot s;
  EXPECT_EQ(t.try_read(kFrames - 5, s), ReadStatus::kMissing);
}

TEST(FrameTrace, Table_MarkDroppedSetsTheFlag) {
  Buffer b(FrameTraceTable::required_bytes(4));
  FrameTraceTable t = make(b, 4);
  const std::uint64_t f = t.begin_frame(100);
  EXPECT_TRUE(t.mark_dropped(f));
  FrameSnapshot s;
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.flags, kFlagDropped);
}

TEST(FrameTrace, Table_MarkFailedSetsItsOwnFlag) {
  Buffer b(FrameTraceTable::required_bytes(4));
  FrameTraceTable t = make(b, 4);
  const std::uint64_t f = t.begin_frame(100);
  EXPECT_TRUE(t.mark_failed(f));
  EXPECT_FALSE(t.mark_failed(f + 1));  // not issued: refused
  FrameSnapshot s;
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.flags, kFlagFailed);
  EXPECT_EQ(s.flags & kFlagDropped, 0u) << "failed is not dropped";
}

TEST(FrameTrace, Attach_SeesTheCreatorsFrames) {
  Buffer b(FrameTraceTable::required_bytes(16));
  FrameTraceTable t = make(b, 16);
  const std::uint64_t f = t.begin_frame(100);
  auto other = FrameTraceTable::attach(b.mem.get(), b.bytes);
  ASSERT_TRUE(other.ok()) << other.error().what();
  EXPECT_EQ(other->capacity(), 16u);
  EXPECT_EQ(other->issued(), 1u);
  EXPECT_EQ(other->stamp(f, Stage::kComputeStart, 150), StampStatus::kOk);
  FrameSnapshot s;
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.at(Stage::kComputeStart), 150u);
}

TEST(FrameTrace, Create_RejectsBadArguments) {
  Buffer b(FrameTraceTable::required_bytes(8));
  EXPECT_EQ(FrameTraceTable::create(nullptr, b.bytes, 8).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(FrameTraceTable::create(b.mem.get(), b.bytes, 6).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(FrameTraceTable::create(b.mem.get(), b.bytes, 1).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(FrameTraceTable::create(b.mem.get(), b.bytes, 16).error().code, Errc::kTooSmall);
  EXPECT_EQ(FrameTraceTable::create(b.mem.get() + 8, b.bytes - 8, 4).error().code,
            Errc::kMisaligned);
}

class AttachErrors : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(FrameTraceTable::create(buf.mem.get(), buf.bytes, 8).ok()); }
  FrameTraceHeader& header() { return *reinterpret_cast<FrameTraceHeader*>(buf.mem.get()); }
  Errc attach_error(std::size_t bytes) {
    auto r = FrameTraceTable::attach(buf.mem.get(), bytes);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Errc::kInvalidArgument : r.error().code;
  }
  Buffer buf{FrameTraceTable::required_bytes(8)};
};

TEST_F(AttachErrors, Attach_NullAndMisaligned) {
  EXPECT_EQ(FrameTraceTable::attach(nullptr, 4096).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(FrameTraceTable::attach(buf.mem.get() + 4, buf.bytes).error().code, Errc::kMisaligned);
}
TEST_F(AttachErrors, Attach_TooSmallForHeader) {
  EXPECT_EQ(attach_error(100), Errc::kTooSmall);
}
TEST_F(AttachErrors, Attach_TooSmallForRecords) {
  EXPECT_EQ(attach_error(buf.bytes - 64), Errc::kTooSmall);
}
TEST_F(AttachErrors, Attach_BadMagic) {
  header().magic = 0xdeadbeef;
  EXPECT_EQ(attach_error(buf.bytes), Errc::kBadMagic);
}
TEST_F(AttachErrors, Attach_BadVersion) {
  header().version = 99;
  EXPECT_EQ(attach_error(buf.bytes), Errc::kBadVersion);
}
TEST_F(AttachErrors, Attach_CapacityNotPowerOfTwo) {
  header().capacity = 7;
  EXPECT_EQ(attach_error(buf.bytes), Errc::kCorruptHeader);
}
TEST_F(AttachErrors, Attach_HugeCapacity) {
  header().capacity = 1u << 31;
  EXPECT_EQ(attach_error(buf.bytes), Errc::kCorruptHeader);
}
TEST_F(AttachErrors, Attach_WrongRecordSize) {
  header().record_bytes = 32;
  EXPECT_EQ(attach_error(buf.bytes), Errc::kCorruptHeader);
}
TEST_F(AttachErrors, Attach_WrongRecordsOffset) {
  header().records_offset = 64;
  EXPECT_EQ(attach_error(buf.bytes), Errc::kCorruptHeader);
}
TEST_F(AttachErrors, Attach_NotInitialized) {
  header().initialized.store(0, std::memory_order_relaxed);
  EXPECT_EQ(attach_error(buf.bytes), Errc::kCorruptHeader);
}
TEST_F(AttachErrors, Attach_ZeroBytesAreNotATable) {
  std::memset(buf.mem.get(), 0, buf.bytes);
  EXPECT_EQ(attach_error(buf.bytes), Errc::kBadMagic);
}

TEST(FrameTrace, Attach_RandomBytesNeverCrash) {
  Buffer b(FrameTraceTable::required_bytes(8));
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    auto* words = reinterpret_cast<std::uint32_t*>(b.mem.get());
    for (std::size_t w = 0; w < 32; ++w) words[w] = static_cast<std::uint32_t>(rng());
    if (i % 2 == 0) words[0] = kFrameTraceMagic;  // get past the magic check half the time
    if (i % 4 == 0) words[1] = kFrameTraceVersion;
    if (i % 8 == 0) words[6] = 1;  // initialized
    auto r = FrameTraceTable::attach(b.mem.get(), b.bytes);
    if (r.ok()) {
      ++accepted;
    } else {
      EXPECT_FALSE(r.error().what().empty());
    }
  }
  EXPECT_EQ(accepted, 0);
}

TEST(FrameTrace, Macros_RuntimeSwitchGatesStampsAndSpans) {
  Buffer b(FrameTraceTable::required_bytes(4));
  FrameTraceTable t = make(b, 4);
  const std::uint64_t f = t.begin_frame(now_ns());
  (void)collect_threads();  // start from an empty ring
  set_enabled(false);
  TRIPTYCH_STAMP(t, f, Stage::kComputeStart);
  { TRIPTYCH_SPAN("switched off"); }
  set_enabled(true);
  FrameSnapshot s;
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.at(Stage::kComputeStart), 0u);
  TRIPTYCH_STAMP(t, f, Stage::kComputeStart);
  { TRIPTYCH_SPAN("switched on"); }
  ASSERT_EQ(t.try_read(f, s), ReadStatus::kOk);
  EXPECT_NE(s.at(Stage::kComputeStart), 0u);
  std::size_t on = 0;
  std::size_t off = 0;
  for (const auto& th : collect_threads())
    for (const auto& e : th.events) {
      on += std::string_view(e.loc->name) == "switched on";
      off += std::string_view(e.loc->name) == "switched off";
      EXPECT_LE(e.begin_ns, e.end_ns);
    }
  EXPECT_EQ(on, 1u);
  EXPECT_EQ(off, 0u);
}

}  // namespace
}  // namespace triptych::trace
