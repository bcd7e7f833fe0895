// SPDX-License-Identifier: Apache-2.0
// Converting a GPU timestamp (ticks of the device's clock) to CLOCK_MONOTONIC
// nanoseconds through one calibration: a device read and a CLOCK_MONOTONIC
// read taken together (VK_EXT_calibrated_timestamps). Pure, wait-free, any
// thread; the Vulkan renderer uses it for FrameInfo::gpu_begin_ns /
// gpu_end_ns. docs/render-stage.md ("GPU times").
#pragma once

#include <cstdint>

namespace triptych::render {

struct GpuCalibration {
  std::uint64_t ticks = 0;         // the device clock at the calibration (within valid_bits)
  std::int64_t monotonic_ns = 0;   // CLOCK_MONOTONIC at the same instant
  double tick_ns = 1.0;            // nanoseconds per tick (timestampPeriod)
  std::uint32_t valid_bits = 64;   // timestampValidBits: the device clock wraps at 2^valid_bits (1..64)
};

// `ticks` on CLOCK_MONOTONIC: the calibration's time plus the ticks since
// it (or minus those before it: a stamp may precede the calibration), the
// difference taken modulo 2^valid_bits so a wrap between the two is a short
// step forward. Bits above valid_bits in `ticks` are ignored.
[[nodiscard]] std::int64_t gpu_ticks_to_monotonic_ns(const GpuCalibration& calibration, std::uint64_t ticks) noexcept;

}  // namespace triptych::render
