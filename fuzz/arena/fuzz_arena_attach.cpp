// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: attaches an arena to arbitrary bytes. The input is copied
// to a page-aligned buffer (the engine's memory); a separate zeroed buffer
// plays the kernel's memory. The bytes past each are poisoned so that any
// read beyond what attach was told is available is an ASan report. A successful attach
// must survive a few operations on every view. Single-threaded. See
// docs/arena.md ("Failure behaviour").
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "triptych/arena/arena.hpp"

namespace {

using namespace triptych;

// The kernel's memory: room for a kernel zone and three compute slots.
constexpr std::size_t kKernelBytes = 16 * kPageSize;

void exercise(Arena& a) {
  ControlMessage m{};
  (void)a.control().try_pop(m);
  (void)a.control().try_push(m);
  HandoffMessage h{};
  if (a.handoffs().try_pop(h)) (void)a.resolve(h);
  (void)a.handoffs().try_push(h);
  for (std::uint32_t s = 0; s < 3; ++s) {
    TripleBuffer& tb = a.triple_buffer(static_cast<FrameStage>(s));
    auto f = tb.acquire_latest();
    if (!f.data.empty()) (void)f.data.front();
    auto w = tb.write_slot();
    if (!w.empty()) w.back() = std::byte{0};
    (void)tb.publish();
    (void)a.check(static_cast<FrameStage>(s), FrameRef{f.generation, s, 0});
  }
  std::uint64_t v = 0;
  for (std::uint32_t i = 0; i < 4; ++i) (void)a.handles().try_resolve(Handle{i, 1}, v);
  if (auto got = a.handles().try_allocate(7)) (void)a.handles().release(*got);
  (void)a.component(Component::kHost).heartbeat.load(std::memory_order_relaxed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::size_t room = static_cast<std::size_t>(align_up(size, kPageSize));
  auto* buf = static_cast<std::byte*>(std::aligned_alloc(kPageSize, room + kPageSize));
  auto* kernel = static_cast<std::byte*>(std::aligned_alloc(kPageSize, kKernelBytes + kPageSize));
  std::unique_ptr<std::byte, decltype(&std::free)> owner(buf, &std::free);
  std::unique_ptr<std::byte, decltype(&std::free)> kernel_owner(kernel, &std::free);
  if (buf == nullptr || kernel == nullptr) return 0;
  std::memset(kernel, 0, kKernelBytes);
  if (size != 0) std::memcpy(buf, data, size);
  ASAN_POISON_MEMORY_REGION(buf + size, room + kPageSize - size);
  ASAN_POISON_MEMORY_REGION(kernel + kKernelBytes, kPageSize);
  auto a = Arena::attach_external(HostMemories{kernel, kKernelBytes, buf, size, 0});
  if (a.ok()) {
    exercise(a.value());
  } else if (a.error().message.empty()) {
    __builtin_trap();  // every refusal must say why
  }
  ASAN_UNPOISON_MEMORY_REGION(buf + size, room + kPageSize - size);
  ASAN_UNPOISON_MEMORY_REGION(kernel + kKernelBytes, kPageSize);
  return 0;
}
