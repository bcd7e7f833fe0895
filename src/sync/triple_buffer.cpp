// SPDX-License-Identifier: Apache-2.0
// The triple buffer's cold paths (include/triptych/sync/triple_buffer.hpp):
// checking a control block's place and slots, create(), and attach(), which
// copies the block once and builds the view from that copy. The hot paths
// (publish, acquire, wait) stay inline in the header. Called once per view,
// on the thread that makes it; create/attach's orderings are the header's.
#include "triptych/sync/triple_buffer.hpp"

#include <cstring>

namespace triptych {

Result<void> TripleBuffer::validate_control(const std::byte* arena_base,
                                                   std::size_t arena_bytes,
                                                   std::uint64_t control_offset) noexcept {
  if (arena_base == nullptr) return make_error(Errc::kInvalidArgument, "arena base is null");
  if (reinterpret_cast<std::uintptr_t>(arena_base) % kCacheLine != 0) {
    return make_error(Errc::kMisaligned, "arena base is not 64-byte aligned");
  }
  if (control_offset % kCacheLine != 0) {
    return make_error(Errc::kMisaligned, "control block offset " + std::to_string(control_offset) +
                                             " is not 64-byte aligned");
  }
  if (control_offset > arena_bytes || arena_bytes - control_offset < kControlBytes) {
    return make_error(Errc::kTooSmall, "control block at " + std::to_string(control_offset) +
                                           " needs " + std::to_string(kControlBytes) +
                                           " bytes; the arena has " + std::to_string(arena_bytes));
  }
  return {};
}

Result<void> TripleBuffer::validate_layout(const std::byte* arena_base,
                                                  std::size_t arena_bytes,
                                                  std::uint64_t control_offset, SlotMemory slots,
                                                  const std::array<std::uint64_t, 3>& slot_offsets,
                                                  std::uint64_t slot_bytes,
                                                  Errc bad_size) noexcept {
  if (auto ok = validate_control(arena_base, arena_bytes, control_offset); !ok) return ok;
  if (slots.base == nullptr) return make_error(Errc::kInvalidArgument, "slot memory is null");
  if (reinterpret_cast<std::uintptr_t>(slots.base) % kCacheLine != 0) {
    return make_error(Errc::kMisaligned, "slot memory is not 64-byte aligned");
  }
  const bool shared_memory = slots.base == arena_base;
  const std::size_t memory_bytes = slots.bytes;
  if (slot_bytes == 0 || slot_bytes > memory_bytes) {
    return make_error(bad_size, "slot size " + std::to_string(slot_bytes) +
                                    " is zero or larger than its memory (" +
                                    std::to_string(memory_bytes) + " bytes)");
  }
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    const std::uint64_t off = slot_offsets[i];
    if (off > memory_bytes || memory_bytes - off < slot_bytes) {
      return make_error(Errc::kOutOfRange,
                        "slot " + std::to_string(i) + " [" + std::to_string(off) + ", +" +
                            std::to_string(slot_bytes) + ") ends past its memory's " +
                            std::to_string(memory_bytes) + " bytes");
    }
    if (off % kCacheLine != 0) {
      return make_error(Errc::kMisaligned, "slot " + std::to_string(i) + " offset " +
                                               std::to_string(off) + " is not 64-byte aligned");
    }
    // Both ranges are known to lie inside the arena, so no sum overflows.
    if (shared_memory && off < control_offset + kControlBytes && control_offset < off + slot_bytes) {
      return make_error(Errc::kOverlap,
                        "slot " + std::to_string(i) + " overlaps the control block");
    }
    for (std::uint32_t j = 0; j < i; ++j) {
      const std::uint64_t other = slot_offsets[j];
      if (off < other + slot_bytes && other < off + slot_bytes) {
        return make_error(Errc::kOverlap,
                          "slots " + std::to_string(j) + " and " + std::to_string(i) + " overlap");
      }
    }
  }
  return {};
}

Result<TripleBuffer> TripleBuffer::create(std::byte* arena_base, std::size_t arena_bytes,
                                                 std::uint64_t control_offset, SlotMemory slots,
                                                 std::array<std::uint64_t, 3> slot_offsets,
                                                 std::uint64_t slot_bytes) noexcept {
  if (auto ok = validate_layout(arena_base, arena_bytes, control_offset, slots, slot_offsets, slot_bytes,
                                Errc::kInvalidArgument);
      !ok) {
    return ok.error();
  }
  auto* ctl = new (arena_base + control_offset) TripleBufferControl();  // zeroed
  ctl->version = kVersion;
  ctl->slot_bytes = slot_bytes;
  for (std::uint32_t i = 0; i < kSlots; ++i) ctl->slot_offsets[i] = slot_offsets[i];
  ctl->control_offset = control_offset;
  // Writer fills 0, slot 1 is the (clean) back buffer, the reader holds 2;
  // every counter, generation and epoch (so both tags) starts at 0 from the
  // value-initialisation.
  ctl->state.store(tb_state::pack(1, false, 0), std::memory_order_relaxed);
  ctl->reader_index.store(2, std::memory_order_relaxed);
  // SYNC(tb-init): publishes every field above to attach()'s acquire load.
  ctl->magic.store(kMagic, std::memory_order_release);
  return TripleBuffer(ctl, slots.base, slot_offsets, slot_bytes, 0, 0);
}

Result<TripleBuffer> TripleBuffer::attach(std::byte* arena_base, std::size_t arena_bytes,
                                                 std::uint64_t control_offset,
                                                 SlotMemory slot_memory) noexcept {
  if (auto ok = validate_control(arena_base, arena_bytes, control_offset); !ok) {
    return ok.error();
  }
  auto* ctl = std::launder(reinterpret_cast<TripleBufferControl*>(arena_base + control_offset));
  // SYNC(tb-init): acquire pairs with create()'s release store of magic.
  const std::uint32_t magic = ctl->magic.load(std::memory_order_acquire);
  if (magic != kMagic) {
    return make_error(Errc::kBadMagic, "triple buffer magic is " + std::to_string(magic) +
                                           ", expected " + std::to_string(kMagic));
  }
  // Read once: every check below and the view itself use this snapshot only.
  Snapshot snap{};
  snap.version = read_once(ctl->version);
  snap.control_offset = read_once(ctl->control_offset);
  snap.slot_bytes = read_once(ctl->slot_bytes);
  for (std::uint32_t i = 0; i < kSlots; ++i) snap.slot_offsets[i] = read_once(ctl->slot_offsets[i]);
  // SYNC(tb-epoch): acquire pairs with a recovery's epoch CAS.
  snap.writer_epoch = ctl->writer_epoch.load(std::memory_order_acquire);
  snap.reader_epoch = ctl->reader_epoch.load(std::memory_order_acquire);
  snap.writer_index = ctl->writer_index.load(std::memory_order_relaxed);
  snap.state = ctl->state.load(std::memory_order_relaxed);
  snap.reader_index = ctl->reader_index.load(std::memory_order_relaxed);

  if (snap.version != kVersion) {
    return make_error(Errc::kBadVersion, "triple buffer layout version " +
                                             std::to_string(snap.version) +
                                             ", this build speaks " + std::to_string(kVersion));
  }
  if (snap.control_offset != control_offset) {
    return make_error(Errc::kCorruptHeader,
                      "control block records offset " + std::to_string(snap.control_offset) +
                          " but was attached at " + std::to_string(control_offset));
  }
  if (auto ok = validate_layout(arena_base, arena_bytes, control_offset, slot_memory,
                                snap.slot_offsets, snap.slot_bytes, Errc::kCorruptHeader);
      !ok) {
    return ok.error();
  }
  // Each index alone must be in range. Whether the three are distinct is not
  // checked: while the writer publishes, its index and the back index are
  // briefly equal between its CAS and its index store. Indices are read
  // again (and checked again) at every use, since they move after attach.
  const std::uint32_t w = snap.writer_index;
  const std::uint32_t b = tb_state::index(snap.state);
  const std::uint32_t r = snap.reader_index;
  if (w >= kSlots || b >= kSlots || r >= kSlots) {
    return make_error(Errc::kCorruptHeader, "slot index out of range (writer " + std::to_string(w) +
                                                ", back " + std::to_string(b) + ", reader " +
                                                std::to_string(r) + ")");
  }
  return TripleBuffer(ctl, slot_memory.base, snap.slot_offsets, snap.slot_bytes, snap.writer_epoch,
                      snap.reader_epoch);
}

}  // namespace triptych
