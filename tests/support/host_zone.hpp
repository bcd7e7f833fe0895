// SPDX-License-Identifier: Apache-2.0
// HostZone: test, benchmark and tool scaffolding (the triptych_test_support
// library): a page-aligned block of host memory standing in for an arena zone
// where the render stage runs without an arena. Anonymous private pages, or a
// memfd mapped shared (the isolation-mode case, which some drivers refuse to
// import). Owning, move-only, single-threaded to create and destroy; the bytes
// themselves are shared with whoever they are handed to. docs/render-stage.md.
#pragma once

#include <cstddef>
#include <span>

#include "triptych/core/result.hpp"

namespace triptych::test {

class HostZone {
 public:
  enum class Backing { kAnonymous, kMemfd };

  // Maps `bytes` rounded up to whole pages, zero-filled. kSystem on mmap/memfd failure.
  [[nodiscard]] static Result<HostZone> create(std::size_t bytes, Backing backing = Backing::kAnonymous);

  HostZone() = default;
  HostZone(HostZone&& o) noexcept;
  HostZone& operator=(HostZone&& o) noexcept;
  HostZone(const HostZone&) = delete;
  HostZone& operator=(const HostZone&) = delete;
  ~HostZone();

  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {base_, size_}; }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace triptych::test
