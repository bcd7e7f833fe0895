// SPDX-License-Identifier: Apache-2.0
// Page-aligned memory standing in for memory a host owns (a shared
// WebAssembly.Memory): filled with 0xA5, since adopted memory is not zeroed.
// Single-threaded test helper.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "triptych/core/config.hpp"

namespace triptych::test {

struct HostMemory {
  explicit HostMemory(std::size_t n)
      : bytes(n), mem(static_cast<std::byte*>(std::aligned_alloc(kPageSize, align_up(n, kPageSize))), &std::free) {
    std::memset(mem.get(), 0xA5, n);
  }
  std::size_t bytes;
  std::unique_ptr<std::byte, decltype(&std::free)> mem;
};

}  // namespace triptych::test
