// SPDX-License-Identifier: Apache-2.0
// The isolated run's shared memory: two memfds split by writer and mapped
// back to back, so one set of offsets addresses both.
//   H: written by the host only. Sealed SHRINK|GROW|FUTURE_WRITE|SEAL once
//      the host has set it up: the child can then only map it read-only.
//   C: written by the child. Sealed SHRINK|GROW|SEAL: neither side can
//      change its size (no SIGBUS from a truncation). The host treats every
//      byte of C as hostile input.
// Not thread-safe to build; the mappings themselves are plain shared memory.
// Design: docs/isolation.md, "Two memories".
#pragma once

#include <cstddef>
#include <span>

#include "triptych/core/result.hpp"
#include "triptych/isolate/unique_fd.hpp"

namespace triptych::isolate {

class SplitMemory {
 public:
  // Host side: both memfds, created and mapped read-write at base and
  // base + host_bytes (each a multiple of the page size, non-zero).
  [[nodiscard]] static Result<SplitMemory> create(std::size_t host_bytes, std::size_t child_bytes);
  // Child side: H read-only and C read-write, back to back. Refuses fds
  // without the seals above (kNotSealed) or of a size other than given.
  [[nodiscard]] static Result<SplitMemory> attach(int host_fd, int child_fd, std::size_t host_bytes,
                                                 std::size_t child_bytes);

  SplitMemory(SplitMemory&& other) noexcept;
  SplitMemory& operator=(SplitMemory&& other) noexcept;
  SplitMemory(const SplitMemory&) = delete;
  SplitMemory& operator=(const SplitMemory&) = delete;
  ~SplitMemory();

  // Host side, after filling H: from now on no new writable mapping of H
  // can exist anywhere (this process's own, made before, stays writable).
  [[nodiscard]] Result<void> seal_host();

  [[nodiscard]] std::span<std::byte> host() const noexcept { return {base_, host_bytes_}; }
  [[nodiscard]] std::span<std::byte> child() const noexcept { return {base_ + host_bytes_, child_bytes_}; }
  [[nodiscard]] int host_fd() const noexcept { return host_fd_.get(); }
  [[nodiscard]] int child_fd() const noexcept { return child_fd_.get(); }

 private:
  SplitMemory() = default;
  void unmap() noexcept;
  std::byte* base_ = nullptr;
  std::size_t host_bytes_ = 0;
  std::size_t child_bytes_ = 0;
  UniqueFd host_fd_;
  UniqueFd child_fd_;
};

}  // namespace triptych::isolate
