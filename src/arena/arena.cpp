// SPDX-License-Identifier: Apache-2.0
// Arena backings (anonymous mmap, sealed memfd, adopted host memory) and
// in-place construction; header validation is validate.cpp's.
// Creating and attaching are blocking system calls on one thread; see
// include/triptych/arena/arena.hpp for who may call what and docs/arena.md
// for the lifecycle and failure behaviour.
#include "triptych/arena/arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <array>
#include <cstddef>
#include <cstring>
#include <new>
#include <utility>

namespace triptych {
namespace {

constexpr std::uint32_t kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

Error sys_error(const char* call) {
  return make_error(Errc::kSystem, std::string(call) + " failed: " + std::strerror(errno));
}

// Maps `bytes` of `fd` from `file_offset` (or shared anonymous memory when
// fd < 0) somewhere the kernel chooses.
Result<std::byte*> map_memory(std::uint64_t bytes, int fd, std::uint64_t file_offset) noexcept {
  if (bytes == 0) return static_cast<std::byte*>(nullptr);
  const int flags = fd < 0 ? MAP_SHARED | MAP_ANONYMOUS : MAP_SHARED;
  void* p = mmap(nullptr, static_cast<std::size_t>(bytes), PROT_READ | PROT_WRITE, flags, fd,
                 static_cast<off_t>(file_offset));
  if (p == MAP_FAILED) return sys_error(fd < 0 ? "mmap" : "mmap(memfd)");
  return static_cast<std::byte*>(p);
}

}  // namespace

Result<Arena> Arena::build(std::byte* base, std::byte* kernel_base, const ZoneMap& l) noexcept {
  auto* h = new (base) ArenaHeader;
  h->initialized.store(0, std::memory_order_relaxed);
  h->magic = kArenaMagic;
  h->version = kArenaVersion;
  h->header_bytes = sizeof(ArenaHeader);
  h->flags = 0;
  h->total_bytes = l.total_bytes;
  h->kernel_bytes = l.kernel_bytes;
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
  a.kernel_base_ = kernel_base;
  a.zone_map_ = l;
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
  const ZoneMap& l = zone_map_;
  const auto first = static_cast<std::uint32_t>(ZoneId::kComputeA) + 3 * s;
  const std::uint64_t slot_bytes = s == 0   ? l.spec.compute_slot_bytes
                                   : s == 1 ? l.spec.layout_slot_bytes
                                            : l.spec.result_slot_bytes;
  auto tb = TripleBuffer::create(
      base_, static_cast<std::size_t>(l.total_bytes), l.tb_control[s], slot_memory(stage),
      {l.zones[first].offset, l.zones[first + 1].offset, l.zones[first + 2].offset}, slot_bytes);
  if (!tb) return tb.error();
  triple_buffers_[s].emplace(tb.value());
  return {};
}

Result<Arena> Arena::attach_views(std::byte* base, std::byte* kernel_base,
                                  const ZoneMap& l) noexcept {
  Arena a;
  a.base_ = base;
  a.kernel_base_ = kernel_base;
  a.zone_map_ = l;
  const auto total = static_cast<std::size_t>(l.total_bytes);
  for (std::uint32_t s = 0; s < 3; ++s) {
    auto tb = TripleBuffer::attach(base, total, l.tb_control[s], a.slot_memory(static_cast<FrameStage>(s)));
    if (!tb)
      return make_error(tb.error().code,
                        "triple buffer " + std::to_string(s) + ": " + tb.error().message);
    // The view (built from attach's one snapshot, never the live block)
    // must address exactly this stage's three zones.
    const auto first = static_cast<std::uint32_t>(ZoneId::kComputeA) + 3 * s;
    const std::uint64_t slot_bytes = s == 0   ? l.spec.compute_slot_bytes
                                     : s == 1 ? l.spec.layout_slot_bytes
                                              : l.spec.result_slot_bytes;
    bool own_zones = tb->slot_bytes() == slot_bytes;
    for (std::uint32_t i = 0; i < 3; ++i)
      own_zones = own_zones && tb->slot(i).data() == a.zone(static_cast<ZoneId>(first + i)).data();
    if (!own_zones)
      return make_error(Errc::kCorruptHeader,
                        "triple buffer " + std::to_string(s) + " does not point at its own zones");
    a.triple_buffers_[s].emplace(tb.value());
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
  auto l = compute_zone_map(spec);
  if (!l) return l.error();
  return create_anonymous(l.value());
}

Result<Arena> Arena::create_anonymous(const ZoneMap& zone_map) noexcept {
  const ZoneMap* l = &zone_map;
  auto engine = map_memory(l->total_bytes, -1, 0);
  if (!engine) return engine.error();
  auto kernel = map_memory(l->kernel_bytes, -1, 0);
  if (!kernel) {
    munmap(engine.value(), static_cast<std::size_t>(l->total_bytes));
    return kernel.error();
  }
  Arena owner;  // unmaps both on any failure below
  owner.map_ = engine.value();
  owner.map_bytes_ = static_cast<std::size_t>(l->total_bytes);
  owner.kernel_map_ = kernel.value();
  owner.kernel_map_bytes_ = static_cast<std::size_t>(l->kernel_bytes);
  auto a = build(engine.value(), kernel.value(), zone_map);
  if (!a) return a;
  a->take_mappings(owner);
  a->backing_ = Backing::kAnonymous;
  return a;
}

Result<Arena> Arena::create_memfd(const ArenaSpec& spec, const char* name) noexcept {
  auto l = compute_zone_map(spec);
  if (!l) return l.error();
  const int fd =
      memfd_create(name != nullptr ? name : "triptych-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sys_error("memfd_create");
  Arena owner;  // closes the fd and unmaps on any failure below
  owner.fd_ = fd;
  // One file, two memories: the engine's at file offset 0, the kernel's
  // after it, each mapped on its own so neither lies next to the other.
  if (ftruncate(fd, static_cast<off_t>(l->total_bytes + l->kernel_bytes)) != 0) return sys_error("ftruncate");
  if (fcntl(fd, F_ADD_SEALS, kRequiredSeals) != 0) return sys_error("fcntl(F_ADD_SEALS)");
  auto engine = map_memory(l->total_bytes, fd, 0);
  if (!engine) return engine.error();
  owner.map_ = engine.value();
  owner.map_bytes_ = static_cast<std::size_t>(l->total_bytes);
  auto kernel = map_memory(l->kernel_bytes, fd, l->total_bytes);
  if (!kernel) return kernel.error();
  owner.kernel_map_ = kernel.value();
  owner.kernel_map_bytes_ = static_cast<std::size_t>(l->kernel_bytes);
  auto a = build(engine.value(), kernel.value(), l.value());
  if (!a) return a;
  a->take_mappings(owner);
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
  // Where the split lies decides what to map: read once, then validate()
  // checks its own snapshot against what was really mapped, so a peer
  // changing it meanwhile only makes the attach fail.
  std::uint64_t total = 0;
  if (pread(fd, &total, sizeof(total), offsetof(ArenaHeader, total_bytes)) !=
      static_cast<ssize_t>(sizeof(total)))
    return sys_error("pread");
  if (total < sizeof(ArenaHeader) || total >= size || total % kPageSize != 0)
    return make_error(Errc::kCorruptHeader, "memfd of " + std::to_string(size) +
                                                " bytes cannot hold an engine's memory of " +
                                                std::to_string(total) + " and a kernel's memory");
  Arena owner;  // unmaps on any failure below
  auto engine = map_memory(total, fd, 0);
  if (!engine) return engine.error();
  owner.map_ = engine.value();
  owner.map_bytes_ = static_cast<std::size_t>(total);
  auto kernel = map_memory(size - total, fd, total);
  if (!kernel) return kernel.error();
  owner.kernel_map_ = kernel.value();
  owner.kernel_map_bytes_ = static_cast<std::size_t>(size - total);
  auto l = validate(engine.value(), static_cast<std::size_t>(total), size - total);
  if (!l) return l.error();
  auto a = attach_views(engine.value(), kernel.value(), l.value());
  if (!a) return a;
  a->take_mappings(owner);
  a->backing_ = Backing::kMemfd;
  return a;
}

namespace {
Result<void> check_memories(const HostMemories& m) noexcept {
  if (m.engine == nullptr || m.kernel == nullptr)
    return make_error(Errc::kInvalidArgument, "host memory is null");
  if (m.engine_offset > m.engine_bytes)
    return make_error(Errc::kTooSmall, "offset " + std::to_string(m.engine_offset) + " is past the " +
                                           std::to_string(m.engine_bytes) + "-byte engine memory");
  if ((reinterpret_cast<std::uintptr_t>(m.engine) + m.engine_offset) % kPageSize != 0)
    return make_error(Errc::kMisaligned, "arena base (engine memory + " + std::to_string(m.engine_offset) +
                                             ") is not 4 KiB-aligned");
  if (reinterpret_cast<std::uintptr_t>(m.kernel) % kPageSize != 0)
    return make_error(Errc::kMisaligned, "the kernel's memory is not 4 KiB-aligned");
  const auto* e0 = m.engine + m.engine_offset;
  const auto* e1 = m.engine + m.engine_bytes;
  const auto* k1 = m.kernel + m.kernel_bytes;
  if (m.kernel < e1 && e0 < k1)
    return make_error(Errc::kOverlap, "the kernel's memory overlaps the engine's");
  return {};
}
}  // namespace

Result<Arena> Arena::adopt(const HostMemories& m, const ArenaSpec& spec) noexcept {
  auto l = compute_zone_map(spec);
  if (!l) return l.error();
  return adopt(m, l.value());
}

Result<Arena> Arena::adopt(const HostMemories& m, const ZoneMap& zone_map) noexcept {
  if (auto ok = check_memories(m); !ok) return ok.error();
  const ZoneMap* l = &zone_map;
  if (m.engine_bytes - m.engine_offset < l->total_bytes)
    return make_error(Errc::kTooSmall, "the engine's memory needs " + std::to_string(l->total_bytes) +
                                           " bytes; it has " +
                                           std::to_string(m.engine_bytes - m.engine_offset) +
                                           " after offset " + std::to_string(m.engine_offset));
  if (m.kernel_bytes < l->kernel_bytes)
    return make_error(Errc::kTooSmall, "the kernel's memory needs " + std::to_string(l->kernel_bytes) +
                                           " bytes; it has " + std::to_string(m.kernel_bytes));
  auto a = build(m.engine + m.engine_offset, m.kernel, zone_map);
  if (a) a->backing_ = Backing::kExternal;
  return a;
}

Result<Arena> Arena::attach_external(const HostMemories& m) noexcept {
  if (auto ok = check_memories(m); !ok) return ok.error();
  std::byte* base = m.engine + m.engine_offset;
  auto l = validate(base, m.engine_bytes - static_cast<std::size_t>(m.engine_offset), m.kernel_bytes);
  if (!l) return l.error();
  auto a = attach_views(base, m.kernel, l.value());
  if (a) a->backing_ = Backing::kExternal;
  return a;
}

Arena::Arena(Arena&& other) noexcept {
  *this = std::move(other);
}

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this == &other) return *this;
  release();
  zone_map_ = other.zone_map_;
  base_ = std::exchange(other.base_, nullptr);
  kernel_base_ = std::exchange(other.kernel_base_, nullptr);
  map_ = std::exchange(other.map_, nullptr);
  map_bytes_ = std::exchange(other.map_bytes_, 0);
  kernel_map_ = std::exchange(other.kernel_map_, nullptr);
  kernel_map_bytes_ = std::exchange(other.kernel_map_bytes_, 0);
  fd_ = std::exchange(other.fd_, -1);
  backing_ = other.backing_;
  for (std::uint32_t s = 0; s < 3; ++s) triple_buffers_[s] = std::exchange(other.triple_buffers_[s], std::nullopt);
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
  for (auto& f : triple_buffers_) f.reset();
  control_.reset();
  handoffs_.reset();
  handles_.reset();
  trace_.reset();
  if (map_ != nullptr) munmap(map_, map_bytes_);
  if (kernel_map_ != nullptr) munmap(kernel_map_, kernel_map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
  kernel_map_ = nullptr;
  kernel_map_bytes_ = 0;
  base_ = nullptr;
  kernel_base_ = nullptr;
  close_fd();
}

void Arena::close_fd() noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::span<std::byte> Arena::zone(ZoneId id) const noexcept {
  const ZoneEntry& z = zone_map_.zone(id);
  return {memory_of(id) + z.offset, static_cast<std::size_t>(z.size)};
}

std::span<std::byte> Arena::worker_stack(std::uint32_t i) const noexcept {
  if (i >= zone_map_.spec.worker_stack_count) return {};
  return {
      kernel_base_ + zone_map_.stacks_offset + std::uint64_t{i} * zone_map_.stack_stride,
      static_cast<std::size_t>(zone_map_.stack_stride)};
}

void Arena::take_mappings(Arena& owner) noexcept {
  map_ = std::exchange(owner.map_, nullptr);
  map_bytes_ = std::exchange(owner.map_bytes_, 0);
  kernel_map_ = std::exchange(owner.kernel_map_, nullptr);
  kernel_map_bytes_ = std::exchange(owner.kernel_map_bytes_, 0);
  fd_ = std::exchange(owner.fd_, -1);
}

std::byte* Arena::memory_of(ZoneId id) const noexcept {
  return in_kernel_memory(id) ? kernel_base_ : base_;
}

TripleBuffer::SlotMemory Arena::slot_memory(FrameStage stage) const noexcept {
  if (stage == FrameStage::kCompute)
    return {kernel_base_, static_cast<std::size_t>(zone_map_.kernel_bytes)};
  return {base_, static_cast<std::size_t>(zone_map_.total_bytes)};
}

TripleBuffer& Arena::triple_buffer(FrameStage stage) noexcept {
  return *triple_buffers_[static_cast<std::uint32_t>(stage) % 3];
}

ComponentLine& Arena::component(Component c) const noexcept {
  const std::uint32_t i = static_cast<std::uint32_t>(c) % kComponentCount;
  return *std::launder(
      reinterpret_cast<ComponentLine*>(base_ + zone_map_.components + i * sizeof(ComponentLine)));
}

RejectCounters& Arena::frame_rejects() const noexcept {
  return *std::launder(reinterpret_cast<RejectCounters*>(base_ + zone_map_.frame_rejects));
}

const ArenaHeader& Arena::header() const noexcept {
  return *std::launder(reinterpret_cast<const ArenaHeader*>(base_));
}

Result<std::span<std::byte>> Arena::resolve(ZoneId zone, std::uint64_t offset,
                                            std::uint64_t bytes) const {
  const auto id = static_cast<std::uint32_t>(zone);
  if (id >= kZoneCount || zone == ZoneId::kKernel)
    return make_error(Errc::kOutOfRange,
                      "zone " + std::to_string(id) + " is not addressable by offsets");
  const ZoneEntry& z = zone_map_.zones[id];
  if (offset < z.offset || offset - z.offset > z.size || bytes > z.size - (offset - z.offset))
    return make_error(Errc::kOutOfRange, "range [" + std::to_string(offset) + ", +" +
                                             std::to_string(bytes) + ") is not inside " +
                                             zone_label(id) + " [" + std::to_string(z.offset) +
                                             ", +" + std::to_string(z.size) + ")");
  return std::span<std::byte>(memory_of(zone) + offset, static_cast<std::size_t>(bytes));
}

Result<std::span<std::byte>> Arena::resolve(const HandoffMessage& m) const {
  if (m.zone < static_cast<std::uint32_t>(ZoneId::kComputeA) ||
      m.zone > static_cast<std::uint32_t>(ZoneId::kResultC))
    return make_error(Errc::kOutOfRange, "hand-off names zone " + std::to_string(m.zone) +
                                             ", not a compute, layout or result zone");
  return resolve(static_cast<ZoneId>(m.zone), m.offset, m.bytes);
}

ResolveStatus Arena::check(FrameStage stage, FrameRef ref) noexcept {
  return check_frame_ref(triple_buffer(stage), ref, &frame_rejects());
}

}  // namespace triptych
