// SPDX-License-Identifier: Apache-2.0
// Test-only fault injection of the render process: named points where it
// SIGKILLs itself, so the kill tests hit the steps a random kill rarely
// lands in. Off unless TRIPTYCH_RENDER_DIE_AT is set (tests set it before
// creating an engine; the render process inherits it). The render
// process's main thread calls everything; `child_handshake` runs a relay
// thread of its own while the handshake lasts. Design: docs/isolation.md,
// "Named injection points".
//
// TRIPTYCH_RENDER_DIE_AT: a comma-separated plan, one entry per epoch
// (entry `epoch % size` applies to the process that serves that epoch):
//   `-`           nothing
//   `POINT[:N]`   SIGKILL at the Nth time POINT is reached (N from 1, default 1)
// Points: handshake (a standby's, once: ATTACH received, READY not sent),
// wait-render (each wait for RENDER begins), mid-result (half the result's
// lines stamped with the frame id; without test mode: pixels written, not
// hashed), before-seal (pixels whole, seal not written), before-done
// (seal written, DONE not sent). The render process writes no trace records
// and pushes into no ring, so there is no point for either.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/isolate/channel.hpp"
#include "triptych/isolate/protocol.hpp"

namespace triptych::render_process {

enum class InjectionPoint : std::uint8_t { kNone, kHandshake, kWaitRender, kMidResult, kBeforeSeal, kBeforeDone };

class Injection {
 public:
  // Reads TRIPTYCH_RENDER_DIE_AT; unset or empty: injects nothing.
  // kInvalidArgument names the entry it cannot parse.
  [[nodiscard]] static Result<Injection> from_environment();
  [[nodiscard]] static Result<Injection> parse(std::string_view plan);

  // The process now serves `epoch`: its entry of the plan applies.
  void arm(std::uint64_t epoch) noexcept;
  // SIGKILLs this process the Nth time it reaches the armed point. No
  // allocation, no syscall unless it kills.
  void reach(InjectionPoint point) noexcept;
  // The child handshake (isolate::child_handshake) on `channel`. When the
  // plan names the handshake, it runs through a relay thread that hands
  // HELLO on, reads the ATTACH's epoch, and SIGKILLs the process there when
  // that epoch's entry is the handshake: after HELLO, before READY, always
  // (a thread beside the handshake that only peeked lost the race to READY
  // about half the time). The relay ends with the handshake; `channel`
  // stays the host's.
  [[nodiscard]] Result<isolate::ChildSession> child_handshake(isolate::Channel& channel,
                                                              std::chrono::steady_clock::time_point deadline) const;

  struct Entry {
    InjectionPoint point = InjectionPoint::kNone;
    std::uint32_t nth = 1;
  };
  [[nodiscard]] Entry entry_for(std::uint64_t epoch) const noexcept;

 private:
  std::vector<Entry> plan_;
  Entry armed_;
  std::uint32_t reached_ = 0;
};

}  // namespace triptych::render_process
