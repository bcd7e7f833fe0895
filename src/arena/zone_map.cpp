// SPDX-License-Identifier: Apache-2.0
// compute_zone_map(): ArenaSpec -> zone table, in DESIGN.md §3 order, with every
// sum and product overflow-checked. Pure function, callable from any thread.
// The rules it follows are listed in docs/PROTOCOL.md ("Zone table").
#include "triptych/arena/zone_map.hpp"

#include <string>

#include "triptych/arena/handle.hpp"
#include "triptych/arena/protocol.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"
#include "triptych/sync/triple_buffer.hpp"
#include "triptych/trace/frame_trace.hpp"

namespace triptych {
namespace {

// Accumulates offsets; the first overflow or limit breach sticks.
class Cursor {
 public:
  // Reserves `size` bytes at the next multiple of `align`; returns the start.
  std::uint64_t take(std::uint64_t size, std::uint64_t align) noexcept {
    const std::uint64_t start = up(at_, align);
    at_ = add(start, size);
    return start;
  }
  [[nodiscard]] std::uint64_t at() const noexcept { return at_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  std::uint64_t up(std::uint64_t x, std::uint64_t align) noexcept {
    if (x > kMaxArenaBytes) failed_ = true;
    return failed_ ? 0 : align_up(x, align);
  }
  std::uint64_t add(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t r = 0;
    if (__builtin_add_overflow(a, b, &r) || r > kMaxArenaBytes) failed_ = true;
    return failed_ ? 0 : r;
  }
  std::uint64_t mul(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r) || r > kMaxArenaBytes) failed_ = true;
    return failed_ ? 0 : r;
  }

 private:
  std::uint64_t at_ = 0;
  bool failed_ = false;
};

Error too_large() {
  return make_error(Errc::kInvalidArgument,
                    "arena spec needs more than 2^46 bytes (or a size overflows 64 bits)");
}

}  // namespace

std::string_view zone_name(ZoneId id) noexcept {
  switch (id) {
    case ZoneId::kKernel:
      return "kernel";
    case ZoneId::kHeader:
      return "header";
    case ZoneId::kMetadata:
      return "metadata";
    case ZoneId::kComputeA:
      return "compute A";
    case ZoneId::kComputeB:
      return "compute B";
    case ZoneId::kComputeC:
      return "compute C";
    case ZoneId::kLayoutA:
      return "layout A";
    case ZoneId::kLayoutB:
      return "layout B";
    case ZoneId::kLayoutC:
      return "layout C";
    case ZoneId::kResultA:
      return "result A";
    case ZoneId::kResultB:
      return "result B";
    case ZoneId::kResultC:
      return "result C";
    case ZoneId::kControlRing:
      return "control ring";
    case ZoneId::kHandoffRing:
      return "hand-off ring";
    case ZoneId::kTrace:
      return "trace";
  }
  return "unknown";
}

std::string zone_label(std::uint32_t row) {
  return "zone " + std::to_string(row) + " (" + std::string(zone_name(static_cast<ZoneId>(row))) + ")";
}

Result<ZoneMap> compute_zone_map(const ArenaSpec& spec) noexcept {
  if (spec.compute_slot_bytes == 0 || spec.layout_slot_bytes == 0 || spec.result_slot_bytes == 0)
    return make_error(Errc::kInvalidArgument, "compute, layout and result slots need >= 1 byte");
  const std::size_t control_bytes =
      SpscRing<ControlMessage>::required_bytes(spec.control_ring_capacity);
  if (control_bytes == 0)
    return make_error(Errc::kInvalidArgument, "control ring capacity " +
                                                  std::to_string(spec.control_ring_capacity) +
                                                  " is not a power of two in [2, 2^31]");
  const std::size_t handoff_bytes =
      MpmcRing<HandoffMessage>::required_bytes(spec.handoff_ring_capacity);
  if (handoff_bytes == 0)
    return make_error(Errc::kInvalidArgument, "hand-off ring capacity " +
                                                  std::to_string(spec.handoff_ring_capacity) +
                                                  " is not a power of two in [2, 2^31]");
  const std::size_t table_bytes = SlotTable::required_bytes(spec.handle_capacity);
  if (table_bytes == 0)
    return make_error(
        Errc::kInvalidArgument,
        "handle capacity " + std::to_string(spec.handle_capacity) + " is not in [1, 2^24]");

  const std::uint64_t trace_cap = spec.trace_record_capacity;
  if (trace_cap != 0 && (trace_cap < 2 || trace_cap > (std::uint64_t{1} << 24) || !is_power_of_two(trace_cap)))
    return make_error(Errc::kInvalidArgument, "trace record capacity " + std::to_string(trace_cap) +
                                                  " is not 0 or a power of two in [2, 2^24]");

  ZoneMap l;
  l.spec = spec;
  auto set = [&l](ZoneId id, std::uint32_t flags, std::uint64_t offset, std::uint64_t size) {
    l.zones[static_cast<std::uint32_t>(id)] =
        ZoneEntry{static_cast<std::uint32_t>(id), flags, offset, size};
  };

  // The kernel's memory: static data from address 0, then one page-rounded
  // stack per worker, then the three compute slots, each on whole pages.
  Cursor k;
  l.stacks_offset = k.up(spec.kernel_static_bytes, kPageSize);
  l.stack_stride = k.up(spec.worker_stack_bytes, kPageSize);
  const std::uint64_t kernel_zone =
      k.up(k.add(l.stacks_offset, k.mul(l.stack_stride, spec.worker_stack_count)), kPageSize);
  set(ZoneId::kKernel, kZoneKernelMemory, 0, kernel_zone);
  k.take(kernel_zone, kPageSize);
  const std::uint64_t compute_size = k.up(spec.compute_slot_bytes, kPageSize);
  for (std::uint32_t s = 0; s < 3; ++s) {
    const auto id = static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kComputeA) + s);
    set(id, kZoneKernelMemory | kZoneGpuImport, k.take(compute_size, kPageSize), compute_size);
  }
  l.kernel_bytes = k.up(k.at(), kPageSize);
  if (k.failed()) return too_large();

  // The engine's memory.
  Cursor c;
  set(ZoneId::kHeader, 0, c.take(sizeof(ArenaHeader), kCacheLine), sizeof(ArenaHeader));

  // Metadata: three triple-buffer control blocks, the component lines, the
  // frame-reference reject counters, then the slot table. Each block starts
  // on its own line, so no two writers share one.
  const std::uint64_t meta_begin = c.up(c.at(), kCacheLine);
  for (auto& off : l.tb_control) off = c.take(TripleBuffer::kControlBytes, kCacheLine);
  l.components = c.take(std::uint64_t{kComponentCount} * sizeof(ComponentLine), kCacheLine);
  l.frame_rejects = c.take(sizeof(RejectCounters), kCacheLine);
  l.slot_table = c.take(table_bytes, kCacheLine);
  l.slot_table_bytes = table_bytes;
  set(ZoneId::kMetadata, 0, meta_begin, c.at() - meta_begin);

  // Layout and result zones: page-aligned and page-sized for
  // VK_EXT_external_memory_host.
  const std::uint64_t slot_bytes[2] = {spec.layout_slot_bytes, spec.result_slot_bytes};
  for (std::uint32_t group = 0; group < 2; ++group) {
    const std::uint64_t size = c.up(slot_bytes[group], kPageSize);
    for (std::uint32_t s = 0; s < 3; ++s) {
      const auto id =
          static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kLayoutA) + group * 3 + s);
      set(id, kZoneGpuImport, c.take(size, kPageSize), size);
    }
  }

  set(ZoneId::kControlRing, 0, c.take(control_bytes, kCacheLine), control_bytes);
  set(ZoneId::kHandoffRing, 0, c.take(handoff_bytes, kCacheLine), handoff_bytes);
  // A FrameTraceTable: two header lines, then one 64-byte record per frame.
  const std::uint64_t trace_bytes =
      trace_cap == 0 ? 0 : trace::FrameTraceTable::required_bytes(static_cast<std::uint32_t>(trace_cap));
  set(ZoneId::kTrace, 0, c.take(trace_bytes, kCacheLine), trace_bytes);
  l.total_bytes = c.up(c.at(), kPageSize);
  if (c.failed() || l.total_bytes + l.kernel_bytes > kMaxArenaBytes) return too_large();
  return l;
}

}  // namespace triptych
