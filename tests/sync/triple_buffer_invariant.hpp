// SPDX-License-Identifier: Apache-2.0
// Test helpers for TripleBuffer: the ownership invariant (writer, back and
// reader indices are distinct and each in 0..2) and a 64-byte-aligned
// heap arena with the control block and three slots laid out back to back.
// Single-threaded: call the invariant check only while both sides are idle.
// Design: docs/sync.md ("Triple buffer").
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "triptych/core/config.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych::testing {

// Each slot is owned by exactly one of writer, back buffer, reader.
inline ::testing::AssertionResult IndicesAreDistinct(const TripleBuffer& tb) {
  const TripleBuffer::Indices i = tb.indices();
  if (i.writer < 3 && i.back < 3 && i.reader < 3 && i.writer != i.back && i.writer != i.reader &&
      i.back != i.reader) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "writer " << i.writer << ", back " << i.back << ", reader " << i.reader;
}

// A zeroed arena: control block at 0, slots at kControlBytes + k * stride.
class TestArena {
 public:
  explicit TestArena(std::size_t slot_bytes, std::size_t extra = 0)
      : slot_bytes_(slot_bytes),
        stride_(align_up(slot_bytes, kCacheLine)),
        bytes_(align_up(TripleBuffer::kControlBytes + 3 * stride_ + extra, kCacheLine)),
        mem_(static_cast<std::byte*>(std::aligned_alloc(kCacheLine, bytes_))) {
    std::memset(mem_.get(), 0, bytes_);
  }

  [[nodiscard]] std::byte* base() const { return mem_.get(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  [[nodiscard]] std::uint64_t slot_bytes() const { return slot_bytes_; }
  [[nodiscard]] std::array<std::uint64_t, 3> slot_offsets() const {
    return {TripleBuffer::kControlBytes, TripleBuffer::kControlBytes + stride_,
            TripleBuffer::kControlBytes + 2 * stride_};
  }
  [[nodiscard]] Result<TripleBuffer> create() const {
    return TripleBuffer::create(base(), bytes(), 0, slot_offsets(), slot_bytes_);
  }
  // create(), expected to succeed (a test failure otherwise).
  [[nodiscard]] TripleBuffer make() const {
    auto tb = create();
    EXPECT_TRUE(tb.ok()) << (tb.ok() ? "" : tb.error().what());
    return std::move(tb).value();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t slot_bytes_;
  std::size_t stride_;
  std::size_t bytes_;
  std::unique_ptr<std::byte, Free> mem_;
};

}  // namespace triptych::testing
