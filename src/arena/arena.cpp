// SPDX-License-Identifier: Apache-2.0
// Arena backings (anonymous mmap, sealed memfd, adopted host memory), in-place
// construction, and header validation against the bytes actually mapped.
// Creating and attaching are blocking system calls on one thread; see
// include/triptych/arena/arena.hpp for who may call what and docs/arena.md
// for the lifecycle and failure behaviour.
#include "triptych/arena/arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace triptych {
namespace {

constexpr std::uint32_t kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

Error sys_error(const char* call) {
  return make_error(Errc::kSystem, std::string(call) + " failed: " + std::strerror(errno));
}

std::string zone_label(std::uint32_t i) {
  return "zone " + std::to_string(i) + " (" + std::string(zone_name(static_cast<ZoneId>(i))) + ")";
}

bool page_aligned(const std::byte* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % kPageSize == 0;
}

// The flags compute_layout() gives each zone; anything else is corrupt.
std::uint32_t expected_flags(std::uint32_t id) noexcept {
  if (id == static_cast<std::uint32_t>(ZoneId::kKernel)) return kZonePrecedesBase;
  if (id >= static_cast<std::uint32_t>(ZoneId::kComputeA) &&
      id <= static_cast<std::uint32_t>(ZoneId::kResultC))
    return kZoneGpuImport;
  return 0;
}

// Maps `pre` private bytes followed by `total` bytes of `fd` (or of shared
// anonymous memory when fd < 0) as one contiguous range. Returns the range
// start; the base is start + pre.
Result<std::byte*> map_region(std::uint64_t pre, std::uint64_t total, int fd) noexcept {
  const std::size_t len = static_cast<std::size_t>(pre + total);
  if (fd < 0) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return sys_error("mmap");
    return static_cast<std::byte*>(p);
  }
  // Reserve the whole range privately, then put the file over its tail.
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return sys_error("mmap");
  auto* start = static_cast<std::byte*>(p);
  void* q = mmap(start + pre, static_cast<std::size_t>(total), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED, fd, 0);
  if (q == MAP_FAILED) {
    Error e = sys_error("mmap(memfd)");
    munmap(start, len);
    return e;
  }
  return start;
}

}  // namespace

Result<ArenaLayout> Arena::validate(const std::byte* base, std::size_t available,
                                    std::uint64_t pre_available) noexcept {
  if (base == nullptr) return make_error(Errc::kInvalidArgument, "arena base is null");
  if (!page_aligned(base)) return make_error(Errc::kMisaligned, "arena base is not 4 KiB-aligned");
  if (available < sizeof(ArenaHeader))
    return make_error(Errc::kTooSmall,
                      std::to_string(available) + " bytes cannot hold the 640-byte arena header");
  const auto* h = std::launder(reinterpret_cast<const ArenaHeader*>(base));
  // SYNC(arena-init): acquires everything the creator built before `initialized`.
  const std::uint32_t initialized = h->initialized.load(std::memory_order_acquire);
  if (h->magic != kArenaMagic) return make_error(Errc::kBadMagic, "not a triptych arena (magic)");
  if (h->version != kArenaVersion)
    return make_error(Errc::kBadVersion, "arena layout version " + std::to_string(h->version) +
                                             ", this build speaks " +
                                             std::to_string(kArenaVersion));
  if (initialized != 1)
    return make_error(Errc::kCorruptHeader,
                      "arena not initialized (its creator is still building it, or died)");
  if (h->header_bytes != sizeof(ArenaHeader) || h->zone_count != kZoneCount ||
      h->zone_entry_bytes != sizeof(ZoneEntry) || h->component_count != kComponentCount)
    return make_error(Errc::kCorruptHeader,
                      "header geometry (header " + std::to_string(h->header_bytes) + " B, " +
                          std::to_string(h->zone_count) + " zones of " +
                          std::to_string(h->zone_entry_bytes) + " B, " +
                          std::to_string(h->component_count) +
                          " components) differs from version 1's (640, 15 x 24, 5)");
  if (h->flags != 0)
    return make_error(Errc::kCorruptHeader, "unknown header flags " + std::to_string(h->flags));
  bool reserved_clear = h->reserved0 == 0;
  for (std::uint8_t b : h->reserved1) reserved_clear = reserved_clear && b == 0;
  if (!reserved_clear)
    return make_error(Errc::kCorruptHeader, "reserved header bytes are not zero in version 1");
  const std::uint64_t total = h->total_bytes;
  const std::uint64_t pre = h->pre_bytes;
  if (total < sizeof(ArenaHeader) || total > kMaxArenaBytes || total % kPageSize != 0)
    return make_error(Errc::kCorruptHeader,
                      "total size " + std::to_string(total) +
                          " is not a whole number of pages in [4 KiB, 64 TiB]");
  if (pre > kMaxArenaBytes || pre % kPageSize != 0)
    return make_error(Errc::kCorruptHeader, "kernel zone size " + std::to_string(pre) +
                                                " is not a whole number of pages below 64 TiB");
  if (total > available)
    return make_error(Errc::kTooSmall, "header says the arena spans " + std::to_string(total) +
                                           " bytes; only " + std::to_string(available) +
                                           " are mapped");
  if (pre > pre_available)
    return make_error(Errc::kTooSmall, "kernel zone needs " + std::to_string(pre) +
                                           " bytes before the base; only " +
                                           std::to_string(pre_available) + " exist");

  // Every zone on its own: id, flags, bounds without overflow, alignment, and
  // order (each starts at or after the previous one's end: no overlap).
  std::uint64_t prev_end = 0;
  for (std::uint32_t i = 0; i < kMaxZones; ++i) {
    const ZoneEntry z = h->zones[i];
    if (i >= kZoneCount) {
      if (z != ZoneEntry{})
        return make_error(Errc::kCorruptHeader,
                          "unused zone table row " + std::to_string(i) + " is not zero");
      continue;
    }
    if (z.id != i)
      return make_error(Errc::kCorruptHeader, "zone table row " + std::to_string(i) + " holds id " +
                                                  std::to_string(z.id));
    if (z.flags != expected_flags(i))
      return make_error(Errc::kCorruptHeader, zone_label(i) + " has flags " +
                                                  std::to_string(z.flags) + ", expected " +
                                                  std::to_string(expected_flags(i)));
    if (i == static_cast<std::uint32_t>(ZoneId::kKernel)) {
      if (z.offset != 0 || z.size != pre)
        return make_error(Errc::kCorruptHeader,
                          "the kernel zone must be the pre_bytes before the base");
      continue;
    }
    if (z.offset > total || z.size > total - z.offset)
      return make_error(Errc::kCorruptHeader, zone_label(i) + " [" + std::to_string(z.offset) +
                                                  ", +" + std::to_string(z.size) +
                                                  ") ends past the arena's " +
                                                  std::to_string(total) + " bytes");
    const std::uint64_t align = (z.flags & kZoneGpuImport) != 0 ? kPageSize : kCacheLine;
    if (z.offset % align != 0 || ((z.flags & kZoneGpuImport) != 0 && z.size % kPageSize != 0))
      return make_error(Errc::kMisaligned, zone_label(i) + " at " + std::to_string(z.offset) +
                                               " (size " + std::to_string(z.size) +
                                               ") breaks its " + std::to_string(align) +
                                               "-byte alignment");
    if (z.offset < prev_end)
      return make_error(Errc::kOverlap, zone_label(i) + " starts at " + std::to_string(z.offset) +
                                            ", inside the previous zone (ends at " +
                                            std::to_string(prev_end) + ")");
    prev_end = z.offset + z.size;
  }
  const ZoneEntry& hz = h->zones[static_cast<std::uint32_t>(ZoneId::kHeader)];
  if (hz.offset != 0 || hz.size != sizeof(ArenaHeader))
    return make_error(Errc::kCorruptHeader, "the header zone must be the 640 bytes at the base");

  // The table must be exactly what the recorded spec lays out: this pins the
  // metadata directory and every block size the sub-headers will be checked
  // against.
  ArenaSpec spec;
  spec.compute_slot_bytes = h->compute_slot_bytes;
  spec.layout_slot_bytes = h->layout_slot_bytes;
  spec.result_slot_bytes = h->result_slot_bytes;
  spec.control_ring_capacity = h->control_ring_capacity;
  spec.handoff_ring_capacity = h->handoff_ring_capacity;
  spec.worker_stack_count = h->worker_stack_count;
  spec.worker_stack_bytes = h->worker_stack_bytes;
  spec.kernel_static_bytes = h->kernel_static_bytes;
  spec.trace_record_capacity = h->trace_record_capacity;
  spec.handle_capacity = h->handle_capacity;
  auto expect = compute_layout(spec);
  if (!expect)
    return make_error(Errc::kCorruptHeader, "recorded spec is invalid: " + expect.error().message);
  const ArenaLayout& l = expect.value();
  if (l.total_bytes != total || l.pre_bytes != pre)
    return make_error(Errc::kCorruptHeader, "sizes differ from what the recorded spec lays out");
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    if (h->zones[i] != l.zones[i])
      return make_error(Errc::kCorruptHeader,
                        zone_label(i) + " differs from what the recorded spec lays out");
  }
  for (std::uint32_t s = 0; s < 3; ++s) {
    if (h->tb_control[s] != l.tb_control[s])
      return make_error(Errc::kCorruptHeader, "triple buffer " + std::to_string(s) +
                                                  " control offset differs from the layout");
  }
  if (h->components != l.components || h->frame_rejects != l.frame_rejects ||
      h->slot_table != l.slot_table || h->slot_table_bytes != l.slot_table_bytes ||
      h->stacks_offset != l.stacks_offset || h->stack_stride != l.stack_stride)
    return make_error(Errc::kCorruptHeader, "metadata directory differs from the layout");
  return expect;
}

Result<Arena> Arena::build(std::byte* base, const ArenaLayout& l) noexcept {
  auto* h = new (base) ArenaHeader;
  h->initialized.store(0, std::memory_order_relaxed);
  h->magic = kArenaMagic;
  h->version = kArenaVersion;
  h->header_bytes = sizeof(ArenaHeader);
  h->flags = 0;
  h->total_bytes = l.total_bytes;
  h->pre_bytes = l.pre_bytes;
  h->zone_count = kZoneCount;
  h->zone_entry_bytes = sizeof(ZoneEntry);
  h->control_ring_capacity = l.spec.control_ring_capacity;
  h->handoff_ring_capacity = l.spec.handoff_ring_capacity;
  h->handle_capacity = l.spec.handle_capacity;
  h->worker_stack_count = l.spec.worker_stack_count;
  h->worker_stack_bytes = l.spec.worker_stack_bytes;
  h->kernel_static_bytes = l.spec.kernel_static_bytes;
  h->trace_record_capacity = l.spec.trace_record_capacity;
  h->compute_slot_bytes = l.spec.compute_slot_bytes;
  h->layout_slot_bytes = l.spec.layout_slot_bytes;
  h->result_slot_bytes = l.spec.result_slot_bytes;
  h->stacks_offset = l.stacks_offset;
  h->stack_stride = l.stack_stride;
  for (std::uint32_t s = 0; s < 3; ++s) h->tb_control[s] = l.tb_control[s];
  h->components = l.components;
  h->frame_rejects = l.frame_rejects;
  h->slot_table = l.slot_table;
  h->slot_table_bytes = l.slot_table_bytes;
  h->component_count = kComponentCount;
  h->reserved0 = 0;
  for (std::uint32_t i = 0; i < kMaxZones; ++i)
    h->zones[i] = i < kZoneCount ? l.zones[i] : ZoneEntry{};
  std::memset(h->reserved1, 0, sizeof(h->reserved1));

  for (std::uint32_t c = 0; c < kComponentCount; ++c) {
    auto* line = new (base + l.components + c * sizeof(ComponentLine)) ComponentLine{};
    line->heartbeat.store(0, std::memory_order_relaxed);
    line->frame.store(0, std::memory_order_relaxed);
    line->pid.store(0, std::memory_order_relaxed);
    line->state.store(static_cast<std::uint32_t>(ComponentState::kAbsent),
                      std::memory_order_relaxed);
  }
  auto* rejects = new (base + l.frame_rejects) RejectCounters{};
  rejects->stale.store(0, std::memory_order_relaxed);
  rejects->out_of_range.store(0, std::memory_order_relaxed);
  const ZoneEntry& trace = l.zone(ZoneId::kTrace);
  std::memset(base + trace.offset, 0, static_cast<std::size_t>(trace.size));
  std::optional<trace::FrameTraceTable> trace_table;
  if (l.spec.trace_record_capacity != 0) {
    auto t = trace::FrameTraceTable::create(base + trace.offset, static_cast<std::size_t>(trace.size),
                                            static_cast<std::uint32_t>(l.spec.trace_record_capacity));
    if (!t) return make_error(t.error().code, "trace table: " + t.error().message);
    trace_table.emplace(t.value());
  }

  Arena a;
  a.base_ = base;
  a.layout_ = l;
  for (std::uint32_t s = 0; s < 3; ++s) {
    if (auto ok = a.rebuild_frames(static_cast<FrameStage>(s)); !ok) return ok.error();
  }
  const ZoneEntry& cz = l.zone(ZoneId::kControlRing);
  auto control = ControlRing::create(base + cz.offset, static_cast<std::size_t>(cz.size),
                                     l.spec.control_ring_capacity);
  if (!control) return control.error();
  a.control_.emplace(control.value());
  const ZoneEntry& hz = l.zone(ZoneId::kHandoffRing);
  auto handoffs = HandoffRing::create(base + hz.offset, static_cast<std::size_t>(hz.size),
                                      l.spec.handoff_ring_capacity);
  if (!handoffs) return handoffs.error();
  a.handoffs_.emplace(handoffs.value());
  auto table = SlotTable::create(base + l.slot_table, static_cast<std::size_t>(l.slot_table_bytes),
                                 l.spec.handle_capacity);
  if (!table) return table.error();
  a.handles_.emplace(table.value());
  a.trace_ = std::move(trace_table);
  // SYNC(arena-init): publishes the header and every block above to validate().
  h->initialized.store(1, std::memory_order_release);
  return a;
}

Result<void> Arena::rebuild_frames(FrameStage stage) noexcept {
  const auto s = static_cast<std::uint32_t>(stage);
  if (s >= 3 || base_ == nullptr)
    return make_error(Errc::kInvalidArgument, "no such frame stage, or an empty arena");
  const ArenaLayout& l = layout_;
  const auto first = static_cast<std::uint32_t>(ZoneId::kComputeA) + 3 * s;
  const std::uint64_t slot_bytes = s == 0   ? l.spec.compute_slot_bytes
                                   : s == 1 ? l.spec.layout_slot_bytes
                                            : l.spec.result_slot_bytes;
  auto tb = TripleBuffer::create(
      base_, static_cast<std::size_t>(l.total_bytes), l.tb_control[s],
      {l.zones[first].offset, l.zones[first + 1].offset, l.zones[first + 2].offset}, slot_bytes);
  if (!tb) return tb.error();
  frames_[s].emplace(tb.value());
  return {};
}

Result<Arena> Arena::attach_views(std::byte* base, const ArenaLayout& l) noexcept {
  Arena a;
  a.base_ = base;
  a.layout_ = l;
  const auto total = static_cast<std::size_t>(l.total_bytes);
  for (std::uint32_t s = 0; s < 3; ++s) {
    auto tb = TripleBuffer::attach(base, total, l.tb_control[s]);
    if (!tb)
      return make_error(tb.error().code,
                        "triple buffer " + std::to_string(s) + ": " + tb.error().message);
    // The block must describe exactly this stage's three zones.
    const auto first = static_cast<std::uint32_t>(ZoneId::kComputeA) + 3 * s;
    const TripleBufferControl& ctl = tb->control();
    const std::uint64_t slot_bytes = s == 0   ? l.spec.compute_slot_bytes
                                     : s == 1 ? l.spec.layout_slot_bytes
                                              : l.spec.result_slot_bytes;
    if (ctl.slot_bytes != slot_bytes || ctl.slot_offsets[0] != l.zones[first].offset ||
        ctl.slot_offsets[1] != l.zones[first + 1].offset ||
        ctl.slot_offsets[2] != l.zones[first + 2].offset)
      return make_error(Errc::kCorruptHeader,
                        "triple buffer " + std::to_string(s) + " does not point at its own zones");
    a.frames_[s].emplace(tb.value());
  }
  const ZoneEntry& cz = l.zone(ZoneId::kControlRing);
  auto control = ControlRing::attach(base + cz.offset, static_cast<std::size_t>(cz.size));
  if (!control) return make_error(control.error().code, "control ring: " + control.error().message);
  if (control->capacity() != l.spec.control_ring_capacity)
    return make_error(Errc::kCorruptHeader, "control ring capacity differs from the header's");
  a.control_.emplace(control.value());
  const ZoneEntry& hz = l.zone(ZoneId::kHandoffRing);
  auto handoffs = HandoffRing::attach(base + hz.offset, static_cast<std::size_t>(hz.size));
  if (!handoffs)
    return make_error(handoffs.error().code, "hand-off ring: " + handoffs.error().message);
  if (handoffs->capacity() != l.spec.handoff_ring_capacity)
    return make_error(Errc::kCorruptHeader, "hand-off ring capacity differs from the header's");
  a.handoffs_.emplace(handoffs.value());
  auto table = SlotTable::attach(base + l.slot_table, static_cast<std::size_t>(l.slot_table_bytes));
  if (!table) return make_error(table.error().code, "slot table: " + table.error().message);
  if (table->capacity() != l.spec.handle_capacity)
    return make_error(Errc::kCorruptHeader, "slot table capacity differs from the header's");
  a.handles_.emplace(table.value());
  if (l.spec.trace_record_capacity != 0) {
    const ZoneEntry& tz = l.zone(ZoneId::kTrace);
    auto t = trace::FrameTraceTable::attach(base + tz.offset, static_cast<std::size_t>(tz.size));
    if (!t) return make_error(t.error().code, "trace table: " + t.error().message);
    if (t->capacity() != l.spec.trace_record_capacity)
      return make_error(Errc::kCorruptHeader, "trace table capacity differs from the header's");
    a.trace_.emplace(t.value());
  }
  return a;
}

Result<Arena> Arena::create_anonymous(const ArenaSpec& spec) noexcept {
  auto l = compute_layout(spec);
  if (!l) return l.error();
  auto start = map_region(l->pre_bytes, l->total_bytes, -1);
  if (!start) return start.error();
  auto a = build(start.value() + l->pre_bytes, l.value());
  if (!a) {
    munmap(start.value(), static_cast<std::size_t>(l->pre_bytes + l->total_bytes));
    return a;
  }
  a->map_ = start.value();
  a->map_bytes_ = static_cast<std::size_t>(l->pre_bytes + l->total_bytes);
  a->backing_ = Backing::kAnonymous;
  return a;
}

Result<Arena> Arena::create_memfd(const ArenaSpec& spec, const char* name) noexcept {
  auto l = compute_layout(spec);
  if (!l) return l.error();
  const int fd =
      memfd_create(name != nullptr ? name : "triptych-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sys_error("memfd_create");
  auto fail = [fd](Error e) -> Result<Arena> {
    close(fd);
    return e;
  };
  if (ftruncate(fd, static_cast<off_t>(l->total_bytes)) != 0) return fail(sys_error("ftruncate"));
  if (fcntl(fd, F_ADD_SEALS, kRequiredSeals) != 0) return fail(sys_error("fcntl(F_ADD_SEALS)"));
  auto start = map_region(l->pre_bytes, l->total_bytes, fd);
  if (!start) return fail(start.error());
  auto a = build(start.value() + l->pre_bytes, l.value());
  if (!a) {
    munmap(start.value(), static_cast<std::size_t>(l->pre_bytes + l->total_bytes));
    return fail(a.error());
  }
  a->map_ = start.value();
  a->map_bytes_ = static_cast<std::size_t>(l->pre_bytes + l->total_bytes);
  a->fd_ = fd;
  a->backing_ = Backing::kMemfd;
  return a;
}

Result<Arena> Arena::attach_memfd(int fd) noexcept {
  const int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0)
    return make_error(Errc::kNotSealed, std::string("fd cannot report seals (not a memfd?): ") +
                                            std::strerror(errno));
  if ((static_cast<std::uint32_t>(seals) & kRequiredSeals) != kRequiredSeals)
    return make_error(Errc::kNotSealed,
                      "memfd lacks F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL (has " +
                          std::to_string(seals) + "): its size could change under us");
  struct stat st {};
  if (fstat(fd, &st) != 0) return sys_error("fstat");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < sizeof(ArenaHeader))
    return make_error(Errc::kTooSmall, "memfd of " + std::to_string(size) +
                                           " bytes cannot hold the 640-byte arena header");
  if (size > kMaxArenaBytes || size % kPageSize != 0)
    return make_error(Errc::kCorruptHeader,
                      "memfd size " + std::to_string(size) + " is not a whole number of pages");
  // The kernel zone size decides where to map; validate() re-checks it
  // against what was really reserved, so a peer changing it meanwhile only
  // makes the attach fail.
  std::uint64_t pre = 0;
  if (pread(fd, &pre, sizeof(pre), offsetof(ArenaHeader, pre_bytes)) !=
      static_cast<ssize_t>(sizeof(pre)))
    return sys_error("pread");
  if (pre > kMaxArenaBytes || pre % kPageSize != 0) pre = 0;
  auto start = map_region(pre, size, fd);
  if (!start) return start.error();
  const std::size_t len = static_cast<std::size_t>(pre + size);
  std::byte* base = start.value() + pre;
  auto l = validate(base, static_cast<std::size_t>(size), pre);
  if (!l) {
    munmap(start.value(), len);
    return l.error();
  }
  auto a = attach_views(base, l.value());
  if (!a) {
    munmap(start.value(), len);
    return a;
  }
  a->map_ = start.value();
  a->map_bytes_ = len;
  a->backing_ = Backing::kMemfd;
  return a;
}

Result<Arena> Arena::adopt(std::byte* host_base, std::size_t host_bytes, std::uint64_t offset,
                           const ArenaSpec& spec) noexcept {
  if (host_base == nullptr) return make_error(Errc::kInvalidArgument, "host memory is null");
  auto l = compute_layout(spec);
  if (!l) return l.error();
  if (offset > host_bytes)
    return make_error(Errc::kTooSmall, "offset " + std::to_string(offset) + " is past the " +
                                           std::to_string(host_bytes) + "-byte host memory");
  if ((reinterpret_cast<std::uintptr_t>(host_base) + offset) % kPageSize != 0)
    return make_error(Errc::kMisaligned, "arena base (host memory + " + std::to_string(offset) +
                                             ") is not 4 KiB-aligned");
  if (host_bytes - offset < l->total_bytes)
    return make_error(Errc::kTooSmall, "arena needs " + std::to_string(l->total_bytes) +
                                           " bytes; host memory has " +
                                           std::to_string(host_bytes - offset) + " after offset " +
                                           std::to_string(offset));
  if (offset < l->pre_bytes)
    return make_error(Errc::kTooSmall, "kernel zone needs " + std::to_string(l->pre_bytes) +
                                           " bytes before the arena; offset is " +
                                           std::to_string(offset));
  auto a = build(host_base + offset, l.value());
  if (a) a->backing_ = Backing::kExternal;
  return a;
}

Result<Arena> Arena::attach_external(std::byte* host_base, std::size_t host_bytes,
                                     std::uint64_t offset) noexcept {
  if (host_base == nullptr) return make_error(Errc::kInvalidArgument, "host memory is null");
  if (offset > host_bytes)
    return make_error(Errc::kTooSmall, "offset " + std::to_string(offset) + " is past the " +
                                           std::to_string(host_bytes) + "-byte host memory");
  std::byte* base = host_base + offset;
  auto l = validate(base, host_bytes - static_cast<std::size_t>(offset), offset);
  if (!l) return l.error();
  auto a = attach_views(base, l.value());
  if (a) a->backing_ = Backing::kExternal;
  return a;
}

Arena::Arena(Arena&& other) noexcept {
  *this = std::move(other);
}

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this == &other) return *this;
  release();
  layout_ = other.layout_;
  base_ = std::exchange(other.base_, nullptr);
  map_ = std::exchange(other.map_, nullptr);
  map_bytes_ = std::exchange(other.map_bytes_, 0);
  fd_ = std::exchange(other.fd_, -1);
  backing_ = other.backing_;
  for (std::uint32_t s = 0; s < 3; ++s) frames_[s] = std::exchange(other.frames_[s], std::nullopt);
  control_ = std::exchange(other.control_, std::nullopt);
  handoffs_ = std::exchange(other.handoffs_, std::nullopt);
  handles_ = std::exchange(other.handles_, std::nullopt);
  trace_ = std::exchange(other.trace_, std::nullopt);
  return *this;
}

Arena::~Arena() {
  release();
}

void Arena::release() noexcept {
  for (auto& f : frames_) f.reset();
  control_.reset();
  handoffs_.reset();
  handles_.reset();
  trace_.reset();
  if (map_ != nullptr) munmap(map_, map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
  base_ = nullptr;
  close_fd();
}

void Arena::close_fd() noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::span<std::byte> Arena::zone(ZoneId id) const noexcept {
  const ZoneEntry& z = layout_.zone(id);
  if (id == ZoneId::kKernel) return {base_ - layout_.pre_bytes, static_cast<std::size_t>(z.size)};
  return {base_ + z.offset, static_cast<std::size_t>(z.size)};
}

std::span<std::byte> Arena::worker_stack(std::uint32_t i) const noexcept {
  if (i >= layout_.spec.worker_stack_count) return {};
  return {
      base_ - layout_.pre_bytes + layout_.stacks_offset + std::uint64_t{i} * layout_.stack_stride,
      static_cast<std::size_t>(layout_.stack_stride)};
}

TripleBuffer& Arena::frames(FrameStage stage) noexcept {
  return *frames_[static_cast<std::uint32_t>(stage) % 3];
}

ComponentLine& Arena::component(Component c) const noexcept {
  const std::uint32_t i = static_cast<std::uint32_t>(c) % kComponentCount;
  return *std::launder(
      reinterpret_cast<ComponentLine*>(base_ + layout_.components + i * sizeof(ComponentLine)));
}

RejectCounters& Arena::frame_rejects() const noexcept {
  return *std::launder(reinterpret_cast<RejectCounters*>(base_ + layout_.frame_rejects));
}

const ArenaHeader& Arena::header() const noexcept {
  return *std::launder(reinterpret_cast<const ArenaHeader*>(base_));
}

Result<std::span<std::byte>> Arena::resolve(ZoneId zone, std::uint64_t offset,
                                            std::uint64_t bytes) const {
  const auto id = static_cast<std::uint32_t>(zone);
  if (id >= kZoneCount || zone == ZoneId::kKernel)
    return make_error(Errc::kOutOfRange,
                      "zone " + std::to_string(id) + " is not addressable by arena offsets");
  const ZoneEntry& z = layout_.zones[id];
  if (offset < z.offset || offset - z.offset > z.size || bytes > z.size - (offset - z.offset))
    return make_error(Errc::kOutOfRange, "range [" + std::to_string(offset) + ", +" +
                                             std::to_string(bytes) + ") is not inside " +
                                             zone_label(id) + " [" + std::to_string(z.offset) +
                                             ", +" + std::to_string(z.size) + ")");
  return std::span<std::byte>(base_ + offset, static_cast<std::size_t>(bytes));
}

Result<std::span<std::byte>> Arena::resolve(const HandoffMessage& m) const {
  if (m.zone < static_cast<std::uint32_t>(ZoneId::kComputeA) ||
      m.zone > static_cast<std::uint32_t>(ZoneId::kResultC))
    return make_error(Errc::kOutOfRange, "hand-off names zone " + std::to_string(m.zone) +
                                             ", not a compute, layout or result zone");
  return resolve(static_cast<ZoneId>(m.zone), m.offset, m.bytes);
}

ResolveStatus Arena::check(FrameStage stage, FrameRef ref) noexcept {
  return check_frame_ref(frames(stage), ref, &frame_rejects());
}

}  // namespace triptych
