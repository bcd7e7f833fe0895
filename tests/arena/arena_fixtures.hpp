// SPDX-License-Identifier: Apache-2.0
// What the arena tests share: a small spec that gives every zone and block a
// few pages or less, so a whole arena is cheap to build and corrupt.
#pragma once

#include "triptych/arena/zone_map.hpp"

namespace triptych::testing_arena {

inline ArenaSpec small_spec() {
  ArenaSpec s;
  s.compute_slot_bytes = 3 * kPageSize + 10;
  s.layout_slot_bytes = 1000;
  s.result_slot_bytes = 64 * 64 * 4;
  s.control_ring_capacity = 8;
  s.handoff_ring_capacity = 16;
  s.worker_stack_count = 2;
  s.worker_stack_bytes = 8192;
  s.kernel_static_bytes = 5000;
  s.trace_record_capacity = 32;
  s.handle_capacity = 16;
  return s;
}

}  // namespace triptych::testing_arena
