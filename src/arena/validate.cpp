// SPDX-License-Identifier: Apache-2.0
// Arena::validate(): an arena header someone else wrote, checked against the
// bytes actually mapped. The header is copied once into a snapshot and only
// the copy is checked and used (docs/arena.md, "Attach"), in three steps: the
// fixed fields, each zone-table row, and the whole table against what its
// recorded spec lays out. Pure reads; any thread.
#include <array>
#include <cstddef>
#include <cstring>
#include <new>

#include "triptych/arena/arena.hpp"

namespace triptych {
namespace {

// The header, read once. Every check below reads this copy, so a peer
// rewriting the header meanwhile can make a check refuse, never make it pass
// on one value and the view use another.
class HeaderSnapshot {
 public:
  explicit HeaderSnapshot(const std::byte* base) noexcept { std::memcpy(bytes_, base, sizeof(bytes_)); }

  template <typename T>
  [[nodiscard]] T at(std::size_t offset) const noexcept {
    T value;
    std::memcpy(&value, bytes_ + offset, sizeof(T));
    return value;
  }
  [[nodiscard]] unsigned char byte(std::size_t offset) const noexcept { return bytes_[offset]; }

 private:
  alignas(ArenaHeader) unsigned char bytes_[sizeof(ArenaHeader)];
};

#define TP_FIELD(snap, name) (snap).at<decltype(ArenaHeader::name)>(offsetof(ArenaHeader, name))

// The flags compute_zone_map() gives each zone; anything else is corrupt.
std::uint32_t expected_flags(std::uint32_t id) noexcept {
  std::uint32_t flags = 0;
  if (in_kernel_memory(static_cast<ZoneId>(id))) flags |= kZoneKernelMemory;
  if (id >= static_cast<std::uint32_t>(ZoneId::kComputeA) && id <= static_cast<std::uint32_t>(ZoneId::kResultC))
    flags |= kZoneGpuImport;
  return flags;
}

struct MemorySizes {
  std::uint64_t engine = 0;  // the header's total_bytes
  std::uint64_t kernel = 0;
};

// Magic, version, geometry, flags, reserved bytes and the two memory sizes.
Result<MemorySizes> check_fixed_fields(const HeaderSnapshot& snap, std::uint32_t initialized,
                                       std::size_t available, std::uint64_t kernel_available) {
  if (TP_FIELD(snap, magic) != kArenaMagic) return make_error(Errc::kBadMagic, "not a triptych arena (magic)");
  const std::uint32_t version = TP_FIELD(snap, version);
  if (version != kArenaVersion)
    return make_error(Errc::kBadVersion, "arena layout version " + std::to_string(version) +
                                             ", this build speaks " + std::to_string(kArenaVersion));
  if (initialized != 1)
    return make_error(Errc::kCorruptHeader, "arena not initialized (its creator is still building it, or died)");
  const std::uint32_t header_bytes = TP_FIELD(snap, header_bytes);
  const std::uint32_t zone_count = TP_FIELD(snap, zone_count);
  const std::uint32_t zone_entry_bytes = TP_FIELD(snap, zone_entry_bytes);
  const std::uint32_t component_count = TP_FIELD(snap, component_count);
  if (header_bytes != sizeof(ArenaHeader) || zone_count != kZoneCount || zone_entry_bytes != sizeof(ZoneEntry) ||
      component_count != kComponentCount)
    return make_error(Errc::kCorruptHeader, "header geometry (header " + std::to_string(header_bytes) + " B, " +
                                                std::to_string(zone_count) + " zones of " +
                                                std::to_string(zone_entry_bytes) + " B, " +
                                                std::to_string(component_count) +
                                                " components) differs from this version's (640, 15 x 24, 5)");
  if (const std::uint32_t flags = TP_FIELD(snap, flags); flags != 0)
    return make_error(Errc::kCorruptHeader, "unknown header flags " + std::to_string(flags));
  bool reserved_clear = TP_FIELD(snap, reserved0) == 0;
  for (std::size_t i = 0; i < sizeof(ArenaHeader::reserved1); ++i)
    reserved_clear = reserved_clear && snap.byte(offsetof(ArenaHeader, reserved1) + i) == 0;
  if (!reserved_clear) return make_error(Errc::kCorruptHeader, "reserved header bytes are not zero");
  const MemorySizes sizes{TP_FIELD(snap, total_bytes), TP_FIELD(snap, kernel_bytes)};
  if (sizes.engine < sizeof(ArenaHeader) || sizes.engine > kMaxArenaBytes || sizes.engine % kPageSize != 0)
    return make_error(Errc::kCorruptHeader, "engine memory size " + std::to_string(sizes.engine) +
                                                " is not a whole number of pages in [4 KiB, 64 TiB]");
  if (sizes.kernel == 0 || sizes.kernel > kMaxArenaBytes || sizes.kernel % kPageSize != 0)
    return make_error(Errc::kCorruptHeader, "kernel memory size " + std::to_string(sizes.kernel) +
                                                " is not a whole number of pages in [4 KiB, 64 TiB]");
  if (sizes.engine > available)
    return make_error(Errc::kTooSmall, "header says the engine's memory spans " + std::to_string(sizes.engine) +
                                           " bytes; only " + std::to_string(available) + " are mapped");
  if (sizes.kernel > kernel_available)
    return make_error(Errc::kTooSmall, "header says the kernel's memory spans " + std::to_string(sizes.kernel) +
                                           " bytes; only " + std::to_string(kernel_available) + " exist");
  return sizes;
}

// Every zone on its own: id, flags, bounds inside its memory without
// overflow, alignment, and order within its memory (each starts at or after
// the previous one's end: no overlap).
Result<std::array<ZoneEntry, kZoneCount>> check_zone_rows(const HeaderSnapshot& snap, MemorySizes sizes) {
  std::array<ZoneEntry, kZoneCount> zones{};
  std::uint64_t prev_end[2] = {0, 0};  // engine's memory, kernel's memory
  for (std::uint32_t i = 0; i < kMaxZones; ++i) {
    const auto z = snap.at<ZoneEntry>(offsetof(ArenaHeader, zones) + i * sizeof(ZoneEntry));
    if (i >= kZoneCount) {
      if (z != ZoneEntry{})
        return make_error(Errc::kCorruptHeader, "unused zone table row " + std::to_string(i) + " is not zero");
      continue;
    }
    zones[i] = z;
    if (z.id != i)
      return make_error(Errc::kCorruptHeader,
                        "zone table row " + std::to_string(i) + " holds id " + std::to_string(z.id));
    if (z.flags != expected_flags(i))
      return make_error(Errc::kCorruptHeader, zone_label(i) + " has flags " + std::to_string(z.flags) +
                                                  ", expected " + std::to_string(expected_flags(i)));
    const bool in_kernel = (z.flags & kZoneKernelMemory) != 0;
    const std::uint64_t limit = in_kernel ? sizes.kernel : sizes.engine;
    if (z.offset > limit || z.size > limit - z.offset)
      return make_error(Errc::kCorruptHeader, zone_label(i) + " [" + std::to_string(z.offset) + ", +" +
                                                  std::to_string(z.size) + ") ends past the " +
                                                  (in_kernel ? "kernel's" : "engine's") + " memory (" +
                                                  std::to_string(limit) + " bytes)");
    const std::uint64_t align = (z.flags & kZoneGpuImport) != 0 ? kPageSize : kCacheLine;
    if (z.offset % align != 0 || ((z.flags & kZoneGpuImport) != 0 && z.size % kPageSize != 0))
      return make_error(Errc::kMisaligned, zone_label(i) + " at " + std::to_string(z.offset) + " (size " +
                                               std::to_string(z.size) + ") breaks its " + std::to_string(align) +
                                               "-byte alignment");
    std::uint64_t& prev = prev_end[in_kernel ? 1 : 0];
    if (z.offset < prev)
      return make_error(Errc::kOverlap, zone_label(i) + " starts at " + std::to_string(z.offset) +
                                            ", inside the previous zone (ends at " + std::to_string(prev) + ")");
    prev = z.offset + z.size;
  }
  const ZoneEntry& hz = zones[static_cast<std::uint32_t>(ZoneId::kHeader)];
  if (hz.offset != 0 || hz.size != sizeof(ArenaHeader))
    return make_error(Errc::kCorruptHeader, "the header zone must be the 640 bytes at the base");
  if (zones[static_cast<std::uint32_t>(ZoneId::kKernel)].offset != 0)
    return make_error(Errc::kCorruptHeader, "the kernel zone must start at the kernel's memory's address 0");
  return zones;
}

// The table must be exactly what the recorded spec lays out: this pins the
// metadata directory and every block size the sub-headers will be checked
// against. The zone map returned is compute_zone_map()'s, built from the
// snapshot's spec, never from the live header.
Result<ZoneMap> check_against_spec(const HeaderSnapshot& snap, MemorySizes sizes,
                                   const std::array<ZoneEntry, kZoneCount>& zones) {
  ArenaSpec spec;
  spec.compute_slot_bytes = TP_FIELD(snap, compute_slot_bytes);
  spec.layout_slot_bytes = TP_FIELD(snap, layout_slot_bytes);
  spec.result_slot_bytes = TP_FIELD(snap, result_slot_bytes);
  spec.control_ring_capacity = TP_FIELD(snap, control_ring_capacity);
  spec.handoff_ring_capacity = TP_FIELD(snap, handoff_ring_capacity);
  spec.worker_stack_count = TP_FIELD(snap, worker_stack_count);
  spec.worker_stack_bytes = TP_FIELD(snap, worker_stack_bytes);
  spec.kernel_static_bytes = TP_FIELD(snap, kernel_static_bytes);
  spec.trace_record_capacity = TP_FIELD(snap, trace_record_capacity);
  spec.handle_capacity = TP_FIELD(snap, handle_capacity);
  auto expect = compute_zone_map(spec);
  if (!expect) return make_error(Errc::kCorruptHeader, "recorded spec is invalid: " + expect.error().message);
  const ZoneMap& l = expect.value();
  if (l.total_bytes != sizes.engine || l.kernel_bytes != sizes.kernel)
    return make_error(Errc::kCorruptHeader, "sizes differ from what the recorded spec lays out");
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    if (zones[i] != l.zones[i])
      return make_error(Errc::kCorruptHeader, zone_label(i) + " differs from what the recorded spec lays out");
  }
  for (std::uint32_t s = 0; s < 3; ++s) {
    if (snap.at<std::uint64_t>(offsetof(ArenaHeader, tb_control) + s * 8) != l.tb_control[s])
      return make_error(Errc::kCorruptHeader,
                        "triple buffer " + std::to_string(s) + " control offset differs from the zone map");
  }
  if (TP_FIELD(snap, components) != l.components || TP_FIELD(snap, frame_rejects) != l.frame_rejects ||
      TP_FIELD(snap, slot_table) != l.slot_table || TP_FIELD(snap, slot_table_bytes) != l.slot_table_bytes ||
      TP_FIELD(snap, stacks_offset) != l.stacks_offset || TP_FIELD(snap, stack_stride) != l.stack_stride)
    return make_error(Errc::kCorruptHeader, "metadata directory differs from the zone map");
  return expect;
}

#undef TP_FIELD

}  // namespace

Result<ZoneMap> Arena::validate(const std::byte* base, std::size_t available,
                                std::uint64_t kernel_available) noexcept {
  if (base == nullptr) return make_error(Errc::kInvalidArgument, "arena base is null");
  if (reinterpret_cast<std::uintptr_t>(base) % kPageSize != 0)
    return make_error(Errc::kMisaligned, "arena base is not 4 KiB-aligned");
  if (available < sizeof(ArenaHeader))
    return make_error(Errc::kTooSmall, std::to_string(available) + " bytes cannot hold the 640-byte arena header");
  const auto* live = std::launder(reinterpret_cast<const ArenaHeader*>(base));
  // SYNC(arena-init): acquires everything the creator built before `initialized`.
  const std::uint32_t initialized = live->initialized.load(std::memory_order_acquire);
  const HeaderSnapshot snap(base);
  auto sizes = check_fixed_fields(snap, initialized, available, kernel_available);
  if (!sizes) return sizes.error();
  auto zones = check_zone_rows(snap, sizes.value());
  if (!zones) return zones.error();
  return check_against_spec(snap, sizes.value(), zones.value());
}

}  // namespace triptych
