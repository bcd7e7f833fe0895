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

#include <chrono>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "support/hostile_peer.hpp"
#include "sync/triple_buffer_invariant.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using hostile_test::Field;
using hostile_test::HostilePeer;
using testing::TestArena;

constexpr auto kRun = TRIPTYCH_SANITIZED ? 700ms : 2s;

TEST(TripleBufferHostileAttach, AcceptedViewsStayInsideTheArena) {
  TestArena arena(4096);  // a 12 KiB arena, as in the report
  auto created = arena.create();
  ASSERT_TRUE(created.ok());
  TripleBufferControl& c = created->control();
  // Slot offsets are listed twice: the report's escape came through them.
  std::vector<Field> fields = {
      {&c.version, 4},         {&c.slot_bytes, 8},      {&c.slot_offsets[0], 8},
      {&c.slot_offsets[1], 8}, {&c.slot_offsets[2], 8}, {&c.slot_offsets[0], 8},
      {&c.slot_offsets[1], 8}, {&c.slot_offsets[2], 8}, {&c.control_offset, 8},
      {&c.writer_index, 4},    {&c.reader_index, 4},    {&c.state, 8}};
  const auto bad = [](std::mt19937_64& rng, const Field& f, std::uint64_t good) -> std::uint64_t {
    switch (rng() % 4) {
      case 0: return rng();
      case 1: return good ^ (std::uint64_t{1} << (rng() % (8 * f.bytes)));
      case 2: return std::uint64_t{1} << 40;
      default: return good + 64 * (1 + rng() % 4);
    }
  };
  HostilePeer peer(std::move(fields), /*seed=*/21, bad);

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
  peer.stop();
  EXPECT_EQ(escaped, 0u) << "views with a slot outside the arena";
  EXPECT_EQ(bad_index, 0u) << "indices() handed out an index >= 3";
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace triptych
