// SPDX-License-Identifier: Apache-2.0
// RollingP99: the 99th percentile (nearest rank) of the newest kWindow
// durations recorded, after a warm-up whose samples it ignores. Used by the
// presenter's pacer (render) and the presenter's clock in the frame loop
// (pipeline). Fixed storage, no allocation, no atomics: one owner thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace triptych {

class RollingP99 {
 public:
  static constexpr std::size_t kWindow = 128;
  // The first `warmup` records are first use (a swapchain's first images,
  // page faults), not the steady cost: ignored. Until kWindow records a p99
  // is nearly the maximum, so one such outlier would set the lead for a
  // hundred frames and then, leaving the window, jump the phase.
  explicit RollingP99(std::uint32_t warmup = 0) noexcept : warmup_(warmup) {}
  void record(std::uint64_t ns) noexcept {
    if (warmup_ > 0) {
      --warmup_;
      return;
    }
    samples_[count_ % kWindow] = ns;
    ++count_;
  }
  // 0 before the first record.
  [[nodiscard]] std::uint64_t p99() const noexcept {
    const std::size_t n = std::min<std::uint64_t>(count_, kWindow);
    if (n == 0) return 0;
    std::array<std::uint64_t, kWindow> sorted{};
    std::copy_n(samples_.begin(), n, sorted.begin());
    const std::size_t rank = (n * 99 + 99) / 100 - 1;  // ceil(0.99 n) - 1
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank),
                     sorted.begin() + static_cast<std::ptrdiff_t>(n));
    return sorted[rank];
  }

 private:
  std::array<std::uint64_t, kWindow> samples_{};
  std::uint64_t count_ = 0;
  std::uint32_t warmup_;
};

}  // namespace triptych
