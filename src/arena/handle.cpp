// SPDX-License-Identifier: Apache-2.0
// SlotTable: building, attaching, allocating and resolving generational
// handles in shared memory (include/triptych/arena/handle.hpp). resolve is
// wait-free for any thread of any process; allocate/release are the owner's.
// The ordering argument is in docs/arena.md ("Generational handles").
#include "triptych/arena/handle.hpp"

#include <memory>
#include <new>
#include <string>

namespace triptych {

using slot_table_detail::Cell;
using slot_table_detail::Header;

namespace {

bool aligned_to(const std::byte* p, std::size_t a) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

}  // namespace

SlotTable::SlotTable(Header* header, std::uint32_t capacity) noexcept
    : header_(header),
      cells_(std::launder(
          reinterpret_cast<Cell*>(reinterpret_cast<std::byte*>(header) + sizeof(Header)))),
      capacity_(capacity) {}

Result<SlotTable> SlotTable::create(std::byte* mem, std::size_t bytes,
                                    std::uint32_t capacity) noexcept {
  const std::size_t need = required_bytes(capacity);
  if (need == 0)
    return make_error(Errc::kInvalidArgument,
                      "slot table capacity " + std::to_string(capacity) + " not in [1, 2^24]");
  if (mem == nullptr || !aligned_to(mem, kCacheLine))
    return make_error(Errc::kMisaligned, "slot table memory is not 64-byte aligned");
  if (bytes < need)
    return make_error(Errc::kTooSmall, "slot table needs " + std::to_string(need) + " bytes, got " +
                                           std::to_string(bytes));
  auto* h = new (mem) Header{};
  h->magic = slot_table_detail::kMagic;
  h->version = slot_table_detail::kVersion;
  h->capacity = capacity;
  h->cell_bytes = sizeof(Cell);
  h->live.store(0, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < capacity; ++i) {
    auto* c = new (mem + sizeof(Header) + std::size_t{i} * sizeof(Cell)) Cell{};
    c->generation.store(0, std::memory_order_relaxed);
    c->value.store(0, std::memory_order_relaxed);
  }
  // SYNC(slot-table-init): publishes the header fields and zeroed cells to attach().
  h->initialized.store(1, std::memory_order_release);
  return SlotTable(h, capacity);
}

Result<SlotTable> SlotTable::attach(std::byte* mem, std::size_t bytes) noexcept {
  if (mem == nullptr || !aligned_to(mem, kCacheLine))
    return make_error(Errc::kMisaligned, "slot table memory is not 64-byte aligned");
  if (bytes < sizeof(Header))
    return make_error(Errc::kTooSmall, "slot table region of " + std::to_string(bytes) +
                                           " bytes cannot hold its 128-byte header");
  auto* h = std::launder(reinterpret_cast<Header*>(mem));
  // SYNC(slot-table-init): acquires the creator's header fields and cells.
  if (h->initialized.load(std::memory_order_acquire) != 1)
    return make_error(Errc::kCorruptHeader, "slot table not initialized");
  if (h->magic != slot_table_detail::kMagic)
    return make_error(Errc::kBadMagic, "slot table magic mismatch");
  if (h->version != slot_table_detail::kVersion)
    return make_error(Errc::kBadVersion, "slot table version " + std::to_string(h->version) +
                                             ", this build speaks " +
                                             std::to_string(slot_table_detail::kVersion));
  if (h->cell_bytes != sizeof(Cell))
    return make_error(Errc::kCorruptHeader,
                      "slot table cell size " + std::to_string(h->cell_bytes) + ", expected 16");
  const std::uint32_t capacity = h->capacity;
  const std::size_t need = required_bytes(capacity);
  if (need == 0)
    return make_error(Errc::kCorruptHeader,
                      "slot table capacity " + std::to_string(capacity) + " not in [1, 2^24]");
  if (need > bytes)
    return make_error(Errc::kTooSmall, "slot table of capacity " + std::to_string(capacity) +
                                           " needs " + std::to_string(need) +
                                           " bytes, region has " + std::to_string(bytes));
  return SlotTable(h, capacity);
}

std::optional<Handle> SlotTable::try_allocate(std::uint64_t value) noexcept {
  for (std::uint32_t n = 0; n < capacity_; ++n) {
    const std::uint32_t i = cursor_;
    cursor_ = (cursor_ + 1 == capacity_) ? 0 : cursor_ + 1;
    Cell& c = cells_[i];
    const std::uint32_t g = c.generation.load(std::memory_order_relaxed);  // owner's own word
    if ((g & 1u) != 0) continue;
    // Value first, then the generation that makes it live. The value store is
    // release so that a reader which sees it also sees the retiring bump that
    // preceded it (the reader's second generation check then fails).
    // SYNC(slot-value): publishes the retire bump before the new value.
    c.value.store(value, std::memory_order_release);
    const std::uint32_t live_gen = g + 1;  // even + 1: odd, never 0
    // SYNC(slot-publish): publishes the value to resolvers of {i, live_gen}.
    c.generation.store(live_gen, std::memory_order_release);
    header_->live.fetch_add(1, std::memory_order_relaxed);
    return Handle{i, live_gen};
  }
  return std::nullopt;
}

bool SlotTable::release(Handle h) noexcept {
  if (h.index >= capacity_ || (h.generation & 1u) == 0) return false;
  std::uint32_t expected = h.generation;
  // acq_rel: the acquire half keeps the next owner writes (a later
  // try_allocate's value store) after this bump.
  if (!cells_[h.index].generation.compare_exchange_strong(
          expected, h.generation + 1, std::memory_order_acq_rel, std::memory_order_relaxed))
    return false;
  header_->live.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

ResolveStatus SlotTable::try_resolve(Handle h, std::uint64_t& out) const noexcept {
  if (h.index >= capacity_) {
    header_->rejects.count(ResolveStatus::kOutOfRange);
    return ResolveStatus::kOutOfRange;
  }
  const Cell& c = cells_[h.index];
  // SYNC(slot-publish): acquires the value stored before the generation.
  const std::uint32_t before = c.generation.load(std::memory_order_acquire);
  if (before != h.generation || (before & 1u) == 0) {
    header_->rejects.count(ResolveStatus::kStale);
    return ResolveStatus::kStale;
  }
  // SYNC(slot-value): if this reads a newer value, the retire bump is visible below.
  const std::uint64_t v = c.value.load(std::memory_order_acquire);
  if (c.generation.load(std::memory_order_relaxed) != before) {
    header_->rejects.count(ResolveStatus::kStale);
    return ResolveStatus::kStale;
  }
  out = v;
  return ResolveStatus::kOk;
}

Result<std::uint64_t> SlotTable::resolve(Handle h) const {
  std::uint64_t v = 0;
  switch (try_resolve(h, v)) {
    case ResolveStatus::kOk:
      return v;
    case ResolveStatus::kOutOfRange:
      return make_error(Errc::kOutOfRange, "handle index " + std::to_string(h.index) +
                                               " beyond slot table capacity " +
                                               std::to_string(capacity_));
    case ResolveStatus::kStale:
      break;
  }
  return make_error(Errc::kStale, "handle {" + std::to_string(h.index) + ", " +
                                      std::to_string(h.generation) +
                                      "} is stale: the slot was released or reused");
}

std::uint32_t SlotTable::live() const noexcept {
  return header_->live.load(std::memory_order_relaxed);
}

std::uint64_t SlotTable::stale_rejections() const noexcept {
  return header_->rejects.stale.load(std::memory_order_relaxed);
}

std::uint64_t SlotTable::out_of_range_rejections() const noexcept {
  return header_->rejects.out_of_range.load(std::memory_order_relaxed);
}

}  // namespace triptych
