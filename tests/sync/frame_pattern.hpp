// SPDX-License-Identifier: Apache-2.0
// Test helper: self-checking frames for the threaded TripleBuffer tests
// (triple_buffer_concurrency_test.cpp, triple_buffer_recovery_test.cpp).
// FramePattern<kFrameBytes>::write() fills a slot with word 0 the frame
// number, words 1..n-2 a splitmix64 pattern of it, and word n-1 a checksum of
// all the others; verify() returns the frame number, or 0 for a frame that
// mixes two writes (torn). The slot is accessed one word at a time, in place:
// a whole-frame memcpy may compile to `rep movs`, which TSan does not see.
// Plain functions of the bytes, no synchronisation: call write() only on a
// slot the caller owns as writer and verify() only on one it holds as reader.
// Design: docs/sync.md ("Triple buffer").
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace triptych::testing {

template <std::size_t kFrameBytes>
struct FramePattern {
  static_assert(kFrameBytes % sizeof(std::uint64_t) == 0 && kFrameBytes >= 3 * sizeof(std::uint64_t),
                "a frame is whole words: the number, at least one pattern word, the checksum");
  static constexpr std::size_t kWords = kFrameBytes / sizeof(std::uint64_t);

  static void write(std::span<std::byte> slot, std::uint64_t frame) {
    store_word(slot, 0, frame);
    std::uint64_t sum = frame;
    for (std::size_t i = 1; i + 1 < kWords; ++i) {
      const std::uint64_t w = mix(frame * kWords + i);
      store_word(slot, i, w);
      sum = sum * 31 + w;
    }
    store_word(slot, kWords - 1, sum);
  }

  // The frame number, or 0 if the frame is torn.
  static std::uint64_t verify(std::span<const std::byte> slot) {
    const std::uint64_t frame = load_word(slot, 0);
    std::uint64_t sum = frame;
    for (std::size_t i = 1; i + 1 < kWords; ++i) {
      const std::uint64_t w = load_word(slot, i);
      if (w != mix(frame * kWords + i)) return 0;
      sum = sum * 31 + w;
    }
    return sum == load_word(slot, kWords - 1) ? frame : 0;
  }

 private:
  static std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }
  static void store_word(std::span<std::byte> slot, std::size_t i, std::uint64_t v) {
    std::memcpy(slot.data() + i * sizeof v, &v, sizeof v);
  }
  static std::uint64_t load_word(std::span<const std::byte> slot, std::size_t i) {
    std::uint64_t v;
    std::memcpy(&v, slot.data() + i * sizeof v, sizeof v);
    return v;
  }
};

}  // namespace triptych::testing
