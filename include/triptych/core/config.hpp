// SPDX-License-Identifier: Apache-2.0
// Project-wide constants for types that live in shared memory. Layouts that
// another process (or JS/WASM) reads must not depend on compiler flags, so the
// cache line is a fixed 64 bytes rather than
// std::hardware_destructive_interference_size. See docs/PROTOCOL.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace triptych {

// One cache line on every x86-64 and AArch64 target we build for. Hot atomics
// written by different components sit on different lines of this size.
inline constexpr std::size_t kCacheLine = 64;

// Page size and the alignment Vulkan needs for VK_EXT_external_memory_host
// imports (minImportedHostPointerAlignment is 4096 on lavapipe and NVIDIA).
inline constexpr std::size_t kPageSize = 4096;

[[nodiscard]] constexpr bool is_power_of_two(std::uint64_t x) noexcept {
  return x != 0 && (x & (x - 1)) == 0;
}

[[nodiscard]] constexpr std::uint64_t align_up(std::uint64_t x, std::uint64_t a) noexcept {
  return (x + a - 1) & ~(a - 1);
}

}  // namespace triptych
