// SPDX-License-Identifier: Apache-2.0
// Helpers for the ring tests: 64-byte-aligned zeroed buffers standing in for
// arena zones, iteration scaling under sanitizers, and a torn-read-detecting
// element. Single-threaded helpers; see docs/rings.md for the rings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "triptych/core/config.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych::ring_test {

// Sanitizers slow every atomic by 5-20x: scale stress iteration counts down
// there so the suites stay within their ctest timeouts.
inline constexpr std::uint64_t scaled(std::uint64_t full, std::uint64_t sanitized) {
  return TRIPTYCH_SANITIZED ? sanitized : full;
}

// Zeroed, 64-byte-aligned bytes; `data() + 8` gives a misaligned pointer.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(std::size_t bytes)
      : size_(bytes),
        mem_(static_cast<std::byte*>(std::aligned_alloc(kCacheLine, align_up(bytes + kCacheLine, kCacheLine)))) {
    std::memset(mem_.get(), 0, align_up(bytes + kCacheLine, kCacheLine));
  }
  [[nodiscard]] std::byte* data() const { return mem_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t size_;
  std::unique_ptr<std::byte, Free> mem_;
};

// Three words that must agree; a torn copy (half old, half new) breaks them.
struct Message {
  std::uint64_t seq;
  std::uint64_t producer;
  std::uint64_t check;  // seq * kMix ^ producer

  static constexpr std::uint64_t kMix = 0x9E3779B97F4A7C15ull;
  static Message make(std::uint64_t producer, std::uint64_t seq) {
    return Message{seq, producer, (seq * kMix) ^ producer};
  }
  [[nodiscard]] bool intact() const { return check == ((seq * kMix) ^ producer); }
};

// The two rings over 64-bit elements, for typed suites that run against both.
using Spsc = SpscRing<std::uint64_t>;
using Mpmc = MpmcRing<std::uint64_t>;
using RingTypes = ::testing::Types<Spsc, Mpmc>;
class RingNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, Spsc> ? "Spsc" : "Mpmc";
  }
};

}  // namespace triptych::ring_test
