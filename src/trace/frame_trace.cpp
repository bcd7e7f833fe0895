// SPDX-License-Identifier: Apache-2.0
// FrameTraceTable: create/attach validation and the seqlock-style protocol on
// the frame word (include/triptych/trace/frame_trace.hpp). begin_frame is
// wait-free for the single producer; stamp is lock-free for any thread;
// try_read never blocks a writer. The ordering argument is in docs/tracing.md.
#include "triptych/trace/frame_trace.hpp"

#include <new>
#include <string>

namespace triptych::trace {
namespace {

// A torn read means the producer lapped the reader on that record; retrying
// more than a few times only helps a reader that is itself being starved.
constexpr int kTornRetries = 4;

// Frame ids whose frame word would collide with 0 ("never used") or
// kFrameOpening can never have been issued.
constexpr bool impossible_id(std::uint64_t frame) noexcept {
  return frame >= kFrameOpening - 1;
}

}  // namespace

std::string_view stage_name(Stage s) noexcept {
  switch (s) {
    case Stage::kQueued:
      return "queued";
    case Stage::kComputeStart:
      return "compute_start";
    case Stage::kComputeEnd:
      return "compute_end";
    case Stage::kRenderStart:
      return "render_start";
    case Stage::kRenderEnd:
      return "render_end";
    case Stage::kPresented:
      return "presented";
  }
  return "unknown";
}

Result<FrameTraceTable> FrameTraceTable::create(void* mem, std::size_t bytes,
                                                std::uint32_t capacity) {
  if (mem == nullptr) return make_error(Errc::kInvalidArgument, "trace table memory is null");
  if (reinterpret_cast<std::uintptr_t>(mem) % kCacheLine != 0)
    return make_error(Errc::kMisaligned, "trace table memory must be 64-byte aligned");
  if (!is_power_of_two(capacity) || capacity < kFrameTraceMinCapacity ||
      capacity > kFrameTraceMaxCapacity)
    return make_error(Errc::kInvalidArgument, "trace table capacity " + std::to_string(capacity) +
                                                  " is not a power of two in [2, 2^24]");
  if (bytes < required_bytes(capacity))
    return make_error(Errc::kTooSmall, "trace table of " + std::to_string(capacity) +
                                           " records needs " +
                                           std::to_string(required_bytes(capacity)) +
                                           " bytes, got " + std::to_string(bytes));
  auto* header = new (mem) FrameTraceHeader{};
  auto* records =
      reinterpret_cast<FrameTraceRecord*>(static_cast<std::byte*>(mem) + sizeof(FrameTraceHeader));
  for (std::uint32_t i = 0; i < capacity; ++i) new (&records[i]) FrameTraceRecord{};
  header->magic = kFrameTraceMagic;
  header->version = kFrameTraceVersion;
  header->capacity = capacity;
  header->record_bytes = sizeof(FrameTraceRecord);
  header->records_offset = sizeof(FrameTraceHeader);
  // SYNC(trace-init): publishes the header fields and zeroed records to attach().
  header->initialized.store(1, std::memory_order_release);
  return FrameTraceTable(header, records, capacity);
}

Result<FrameTraceTable> FrameTraceTable::attach(void* mem, std::size_t bytes) {
  if (mem == nullptr) return make_error(Errc::kInvalidArgument, "trace table memory is null");
  if (reinterpret_cast<std::uintptr_t>(mem) % kCacheLine != 0)
    return make_error(Errc::kMisaligned, "trace table memory must be 64-byte aligned");
  if (bytes < sizeof(FrameTraceHeader))
    return make_error(Errc::kTooSmall, "trace table needs a " +
                                           std::to_string(sizeof(FrameTraceHeader)) +
                                           "-byte header, got " + std::to_string(bytes) + " bytes");
  auto* header = static_cast<FrameTraceHeader*>(mem);
  // SYNC(trace-init): acquire pairs with create()'s release of `initialized`.
  if (header->initialized.load(std::memory_order_acquire) != 1) {
    if (header->magic != kFrameTraceMagic)
      return make_error(Errc::kBadMagic,
                        "no trace table here (magic " + std::to_string(header->magic) + ")");
    return make_error(Errc::kCorruptHeader, "trace table is not initialized");
  }
  if (header->magic != kFrameTraceMagic)
    return make_error(Errc::kBadMagic,
                      "no trace table here (magic " + std::to_string(header->magic) + ")");
  if (header->version != kFrameTraceVersion)
    return make_error(Errc::kBadVersion, "trace table version " + std::to_string(header->version) +
                                             ", this build speaks " +
                                             std::to_string(kFrameTraceVersion));
  const std::uint32_t capacity = header->capacity;
  if (!is_power_of_two(capacity) || capacity < kFrameTraceMinCapacity ||
      capacity > kFrameTraceMaxCapacity)
    return make_error(Errc::kCorruptHeader, "trace table capacity " + std::to_string(capacity) +
                                                " is not a power of two in [2, 2^24]");
  if (header->record_bytes != sizeof(FrameTraceRecord))
    return make_error(Errc::kCorruptHeader,
                      "trace record size " + std::to_string(header->record_bytes) + ", expected " +
                          std::to_string(sizeof(FrameTraceRecord)));
  if (header->records_offset != sizeof(FrameTraceHeader))
    return make_error(Errc::kCorruptHeader,
                      "trace records offset " + std::to_string(header->records_offset) +
                          ", expected " + std::to_string(sizeof(FrameTraceHeader)));
  if (bytes < required_bytes(capacity))
    return make_error(Errc::kTooSmall, "trace table of " + std::to_string(capacity) +
                                           " records ends at byte " +
                                           std::to_string(required_bytes(capacity)) + " past the " +
                                           std::to_string(bytes) + " available");
  auto* records =
      reinterpret_cast<FrameTraceRecord*>(static_cast<std::byte*>(mem) + sizeof(FrameTraceHeader));
  return FrameTraceTable(header, records, capacity);
}

std::uint64_t FrameTraceTable::begin_frame(std::uint64_t queued_ns) noexcept {
  const std::uint64_t id = header_->issued.load(std::memory_order_relaxed);  // producer-owned
  FrameTraceRecord& rec = record(id);
  // Seqlock write side with atomics only (Boehm, "Can seqlocks get along with
  // programming language memory models?", MSPC'12): mark the record as being
  // reset, then release-store each field, so a reader whose acquire load sees
  // any reset field also sees kFrameOpening when it re-checks `frame`.
  rec.frame.store(kFrameOpening, std::memory_order_relaxed);
  for (auto& s : rec.stamps) s.store(0, std::memory_order_release);
  rec.flags.store(0, std::memory_order_release);
  rec.stamps[static_cast<std::size_t>(Stage::kQueued)].store(queued_ns, std::memory_order_release);
  // SYNC(trace-open): publishes the reset record to stamp() and try_read().
  rec.frame.store(id + 1, std::memory_order_release);
  // SYNC(trace-issued): publishes the open record to readers that bound their scan by issued().
  header_->issued.store(id + 1, std::memory_order_release);
  return id;
}

StampStatus FrameTraceTable::stamp(std::uint64_t frame, Stage stage, std::uint64_t ns) noexcept {
  const auto index = static_cast<std::size_t>(stage);
  if (index >= kStageCount || ns == 0) {
    header_->invalid_stamps.fetch_add(1, std::memory_order_relaxed);  // a statistic only
    return StampStatus::kInvalid;
  }
  FrameTraceRecord& rec = record(frame);
  // SYNC(trace-open): acquire pairs with begin_frame's release of `frame`.
  if (impossible_id(frame) || rec.frame.load(std::memory_order_acquire) != frame + 1) {
    header_->stale_stamps.fetch_add(1, std::memory_order_relaxed);  // a statistic only
    return StampStatus::kStale;
  }
  std::uint64_t expected = 0;
  // SYNC(trace-stamp): publishes the stamp to try_read(); the CAS keeps the first stamp of a stage.
  if (!rec.stamps[index].compare_exchange_strong(expected, ns, std::memory_order_release,
                                                 std::memory_order_relaxed)) {
    header_->duplicate_stamps.fetch_add(1, std::memory_order_relaxed);  // a statistic only
    rec.flags.fetch_or(kFlagDuplicate, std::memory_order_release);
    return StampStatus::kDuplicate;
  }
  return StampStatus::kOk;
}

bool FrameTraceTable::mark_dropped(std::uint64_t frame) noexcept { return set_flag(frame, kFlagDropped); }

bool FrameTraceTable::mark_failed(std::uint64_t frame) noexcept { return set_flag(frame, kFlagFailed); }

bool FrameTraceTable::set_flag(std::uint64_t frame, std::uint32_t flag) noexcept {
  FrameTraceRecord& rec = record(frame);
  // SYNC(trace-open): acquire pairs with begin_frame's release of `frame`.
  if (impossible_id(frame) || rec.frame.load(std::memory_order_acquire) != frame + 1) return false;
  // SYNC(trace-stamp): publishes the flag to try_read().
  rec.flags.fetch_or(flag, std::memory_order_release);
  return true;
}

ReadStatus FrameTraceTable::try_read(std::uint64_t frame, FrameSnapshot& out) const noexcept {
  if (impossible_id(frame)) return ReadStatus::kMissing;
  const FrameTraceRecord& rec = record(frame);
  // SYNC(trace-open): acquire pairs with begin_frame's release of `frame`.
  const std::uint64_t before = rec.frame.load(std::memory_order_acquire);
  if (before != frame + 1) return ReadStatus::kMissing;
  out.frame = frame;
  // SYNC(trace-stamp): acquire pairs with stamp()'s release CAS. Read from the
  // last stage back: a stage's writer ran after the earlier stages' writers, so
  // seeing stage k set guarantees seeing every stage before k that was set.
  for (std::size_t i = kStageCount; i-- > 0;)
    out.stamps[i] = rec.stamps[i].load(std::memory_order_acquire);
  out.flags = rec.flags.load(std::memory_order_acquire);
  // Ordered after the acquire loads above: if any of them saw a reset made for
  // a newer frame, this load sees kFrameOpening or the newer id.
  const std::uint64_t after = rec.frame.load(std::memory_order_relaxed);
  return after == before ? ReadStatus::kOk : ReadStatus::kTorn;
}

std::uint64_t FrameTraceTable::collect(std::uint64_t first, std::vector<FrameSnapshot>& out,
                                       CollectCounts& counts) const {
  const std::uint64_t end = issued();
  const std::uint64_t oldest = end > capacity_ ? end - capacity_ : 0;
  if (first < oldest) {
    counts.lost += oldest - first;
    first = oldest;
  }
  for (std::uint64_t f = first; f < end; ++f) {
    FrameSnapshot snap;
    ReadStatus st = ReadStatus::kTorn;
    for (int attempt = 0; attempt < kTornRetries && st == ReadStatus::kTorn; ++attempt)
      st = try_read(f, snap);
    if (st == ReadStatus::kOk) {
      out.push_back(snap);
    } else if (st == ReadStatus::kTorn) {
      ++counts.torn;
    } else {
      ++counts.lost;
    }
  }
  return end;
}

std::uint64_t FrameTraceTable::issued() const noexcept {
  // SYNC(trace-issued): acquire pairs with begin_frame's release of `issued`.
  return header_->issued.load(std::memory_order_acquire);
}

std::uint64_t FrameTraceTable::stale_stamps() const noexcept {
  return header_->stale_stamps.load(std::memory_order_relaxed);
}
std::uint64_t FrameTraceTable::duplicate_stamps() const noexcept {
  return header_->duplicate_stamps.load(std::memory_order_relaxed);
}
std::uint64_t FrameTraceTable::invalid_stamps() const noexcept {
  return header_->invalid_stamps.load(std::memory_order_relaxed);
}

}  // namespace triptych::trace
