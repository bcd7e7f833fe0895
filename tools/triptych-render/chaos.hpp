// SPDX-License-Identifier: Apache-2.0
// --hostile's chaos (tests only): what a compromised render process can do
// to C beyond forging messages. Called on the render process's one thread.
// Design: docs/isolation.md, "The render process".
#pragma once

#include <cstddef>
#include <span>

namespace triptych::render_process {

// Punches a hole (fallocate PUNCH_HOLE, size kept) through the whole pages
// of `range`, a part of `memory`, which maps `memfd` from offset 0: those
// pages then read as zeros. C's seals (shrink, grow, seal) allow it; H's
// (future write) refuse it. False when the kernel refused it.
bool punch_hole(int memfd, std::span<const std::byte> memory, std::span<const std::byte> range) noexcept;

// FUTEX_WAKE on each word, `rounds` times: wakes nobody the host did not
// already bound with a deadline.
void storm_futex_wakes(std::span<void* const> words, int rounds) noexcept;

}  // namespace triptych::render_process
