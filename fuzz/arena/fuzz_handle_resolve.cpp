// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for generational handles. Byte 0 picks a mode:
// even: the rest is raw slot-table memory; attach it and resolve handles read
// from its tail (a hostile table must be refused or resolve within bounds).
// odd: byte 1 sets a capacity; the rest is a program of allocate / release /
// resolve / forge operations checked against a shadow model: a live handle
// resolves to its value, a released or forged one is stale, an index past
// the capacity is out of range, and each rejection is counted exactly once.
// Any mismatch traps. Single-threaded. See docs/arena.md.
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "triptych/arena/handle.hpp"

#include "fuzz_input.hpp"

namespace {

using namespace triptych;

using fuzz::check;
using fuzz::Reader;

void raw_table(const std::uint8_t* data, std::size_t size) {
  const std::size_t room = static_cast<std::size_t>(align_up(size + 1, kCacheLine));
  auto* buf = static_cast<std::byte*>(std::aligned_alloc(kCacheLine, room));
  if (buf == nullptr) return;
  std::unique_ptr<std::byte, decltype(&std::free)> owner(buf, &std::free);
  std::memcpy(buf, data, size);
  ASAN_POISON_MEMORY_REGION(buf + size, room - size);
  auto t = SlotTable::attach(buf, size);
  if (t.ok()) {
    // Handles from the last bytes of the input; results must stay in bounds.
    Reader r{data + (size > 64 ? size - 64 : 0), size > 64 ? std::size_t{64} : size};
    while (!r.empty()) {
      const Handle h{r.u32() % (t->capacity() + 2), r.u32()};
      std::uint64_t v = 0;
      const ResolveStatus s = t->try_resolve(h, v);
      check(h.index < t->capacity() || s == ResolveStatus::kOutOfRange);
    }
  } else {
    check(!t.error().message.empty());
  }
  ASAN_UNPOISON_MEMORY_REGION(buf + size, room - size);
}

void program(Reader r) {
  const std::uint32_t capacity = 1 + r.u8() % 32;
  const std::size_t bytes = SlotTable::required_bytes(capacity);
  auto* buf = static_cast<std::byte*>(
      std::aligned_alloc(kCacheLine, static_cast<std::size_t>(align_up(bytes, kCacheLine))));
  if (buf == nullptr) return;
  std::unique_ptr<std::byte, decltype(&std::free)> owner(buf, &std::free);
  auto created = SlotTable::create(buf, bytes, capacity);
  check(created.ok());
  SlotTable t = created.value();
  auto peer = SlotTable::attach(buf, bytes);
  check(peer.ok());
  std::map<std::uint32_t, std::pair<Handle, std::uint64_t>> live;  // index -> handle, value
  std::vector<Handle> dead;
  std::uint64_t stale = 0, out_of_range = 0;
  auto expect_stale = [&](Handle h) {
    std::uint64_t v = 0;
    check(peer->try_resolve(h, v) == ResolveStatus::kStale);
    ++stale;
  };
  while (!r.empty()) {
    switch (r.u8() % 5) {
      case 0: {  // allocate
        const std::uint64_t value = r.u32();
        auto h = t.try_allocate(value);
        check(h.has_value() == (live.size() < capacity));
        if (h) {
          check(h->index < capacity && (h->generation & 1u) == 1u && live.count(h->index) == 0);
          live[h->index] = {*h, value};
        }
        break;
      }
      case 1: {  // release a live handle, or a dead one again
        if (!live.empty()) {
          auto it = live.begin();
          std::advance(it, static_cast<long>(r.u8() % live.size()));
          check(t.release(it->second.first));
          dead.push_back(it->second.first);
          live.erase(it);
        } else if (!dead.empty()) {
          check(!t.release(dead.back()));
        }
        break;
      }
      case 2: {  // resolve every live handle
        for (const auto& [i, hv] : live) {
          std::uint64_t v = 0;
          check(peer->try_resolve(hv.first, v) == ResolveStatus::kOk && v == hv.second);
        }
        break;
      }
      case 3: {  // resolve a released handle
        if (!dead.empty()) expect_stale(dead[r.u8() % dead.size()]);
        break;
      }
      case 4: {  // forge: an arbitrary handle
        const Handle h{r.u32(), r.u32()};
        std::uint64_t v = 0;
        const ResolveStatus s = peer->try_resolve(h, v);
        if (h.index >= capacity) {
          check(s == ResolveStatus::kOutOfRange);
          ++out_of_range;
        } else if (live.count(h.index) != 0 && live[h.index].first == h) {
          check(s == ResolveStatus::kOk && v == live[h.index].second);
        } else {
          check(s == ResolveStatus::kStale);
          ++stale;
        }
        break;
      }
    }
    check(t.live() == live.size());
    check(t.stale_rejections() == stale && t.out_of_range_rejections() == out_of_range);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1u) == 0) {
    raw_table(data + 1, size - 1);
  } else {
    program(Reader{data + 1, size - 1});
  }
  return 0;
}
