// SPDX-License-Identifier: Apache-2.0
// TripleBuffer::attach() under a hostile peer: one thread keeps rewriting
// the control block's header fields and slot indices (random values,
// single-bit flips, huge offsets, then the good value again) while another
// attaches in a loop for about two seconds. Every view attach() accepts must
// address three slots wholly inside the arena and clear of the control block,
// and hand out indices below 3: the read-once rule of docs/sync.md
// ("Attach"). The peer writes with relaxed atomic stores, as attach() reads,
// so the test is race-free by construction and runs under TSan (label
// `concurrency`).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "sync/triple_buffer_invariant.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using testing::TestArena;

constexpr auto kRun = TRIPTYCH_SANITIZED ? 700ms : 2s;

struct Field {
  void* at;
  unsigned bytes;  // 4 or 8
};

std::uint64_t load(const Field& f) {
  if (f.bytes == 4) {
    return std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(f.at))
        .load(std::memory_order_relaxed);
  }
  return std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(f.at))
      .load(std::memory_order_relaxed);
}
void store(const Field& f, std::uint64_t v) {
  if (f.bytes == 4) {
    std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(f.at))
        .store(static_cast<std::uint32_t>(v), std::memory_order_relaxed);
  } else {
    std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(f.at))
        .store(v, std::memory_order_relaxed);
  }
}

TEST(TripleBufferHostileAttach, AcceptedViewsStayInsideTheArena) {
  TestArena arena(4096);  // a 12 KiB arena, as in the report
  auto created = arena.create();
  ASSERT_TRUE(created.ok());
  TripleBufferControl& c = created->control();
  // Slot offsets are listed twice: the report's escape came through them.
  const std::vector<Field> fields = {
      {&c.version, 4},         {&c.slot_bytes, 8},      {&c.slot_offsets[0], 8},
      {&c.slot_offsets[1], 8}, {&c.slot_offsets[2], 8}, {&c.slot_offsets[0], 8},
      {&c.slot_offsets[1], 8}, {&c.slot_offsets[2], 8}, {&c.control_offset, 8},
      {&c.writer_index, 4},    {&c.reader_index, 4},    {&c.state, 8}};
  std::vector<std::uint64_t> good;
  for (const Field& f : fields) good.push_back(load(f));

  std::atomic<bool> stop{false};
  std::thread peer([&] {
    std::mt19937_64 rng(21);
    while (!stop.load(std::memory_order_relaxed)) {
      const std::size_t i = rng() % fields.size();
      const Field& f = fields[i];
      std::uint64_t bad = 0;
      switch (rng() % 4) {
        case 0: bad = rng(); break;
        case 1: bad = good[i] ^ (std::uint64_t{1} << (rng() % (8 * f.bytes))); break;
        case 2: bad = std::uint64_t{1} << 40; break;
        default: bad = good[i] + 64 * (1 + rng() % 4); break;
      }
      store(f, bad);
      for (int spin = static_cast<int>(rng() % 64); spin > 0; --spin) cpu_relax();
      store(f, good[i]);
    }
  });

  const auto base = reinterpret_cast<std::uintptr_t>(arena.base());
  const auto lo = base + TripleBuffer::kControlBytes;  // the slots come after the block
  const auto hi = base + arena.bytes();
  std::uint64_t accepted = 0, refused = 0, escaped = 0, bad_index = 0;
  const auto deadline = std::chrono::steady_clock::now() + kRun;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = TripleBuffer::attach(arena.base(), arena.bytes(), 0);
    if (!r.ok()) {
      ++refused;
      continue;
    }
    ++accepted;
    std::vector<std::span<const std::byte>> spans = {r->slot(0), r->slot(1), r->slot(2)};
    spans.push_back(r->write_slot());
    for (const auto& s : spans) {
      const auto at = reinterpret_cast<std::uintptr_t>(s.data());
      if (at < lo || at > hi || s.size() > hi - at || s.empty()) ++escaped;
    }
    const TripleBuffer::Indices ix = r->indices();
    if (ix.writer >= 3 || ix.back >= 3 || ix.reader >= 3) ++bad_index;
  }
  stop.store(true, std::memory_order_relaxed);
  peer.join();
  EXPECT_EQ(escaped, 0u) << "views with a slot outside the arena";
  EXPECT_EQ(bad_index, 0u) << "indices() handed out an index >= 3";
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace triptych
