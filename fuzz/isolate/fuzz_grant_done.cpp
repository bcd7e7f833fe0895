// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the host's grant table and the DONE messages a
// hostile render process sends. The input is a program: each step's first
// byte picks grant / raw DONE bytes / a DONE built from an earlier grant
// with fields flipped / death / exit confirmed. A shadow model checks every
// answer: a DONE is accepted only for an open grant of the current epoch
// with every field equal, each grant ends exactly once (accepted or handed
// back on a death), a refused DONE changes nothing, and violations are
// counted one per refusal. Any mismatch traps. Single-threaded. See
// docs/isolation.md, "Grants".
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "triptych/isolate/grants.hpp"

#include "fuzz_input.hpp"

namespace {

using namespace triptych;
using namespace triptych::isolate;

using fuzz::check;
using fuzz::Reader;

std::uint64_t total_violations(const GrantTable& t) {
  std::uint64_t sum = 0;
  for (std::uint8_t v = 0; v < static_cast<std::uint8_t>(Violation::kCount); ++v) {
    sum += t.violations(static_cast<Violation>(v));
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  GrantTable table;
  std::map<std::uint64_t, RenderGrant> open;  // the shadow: open grants by frame
  std::vector<RenderGrant> made;
  std::map<std::uint64_t, int> ends;
  std::uint64_t violations = 0;
  std::uint64_t next_frame = 0;
  // The table's answer to a decoded DONE, against the shadow's.
  auto send_done = [&](const RenderGrant& d) {
    const auto it = open.find(d.frame);
    const bool should_accept = it != open.end() && it->second == d && d.epoch == table.epoch();
    auto a = table.accept(d);
    check(a.ok() == should_accept);
    if (a) {
      check(a.value() == d);
      check(++ends[d.frame] == 1);
      open.erase(it);
    } else {
      ++violations;
    }
    check(table.open_grants() == open.size());
  };
  while (!in.empty()) {
    switch (in.u8() % 5) {
      case 0: {  // grant, with slots from the input (possibly out of range or held)
        const std::uint32_t c = in.u8() % 4, l = in.u8() % 4, r = in.u8() % 4;
        auto g = table.grant(next_frame, c, l, r);
        if (g) {
          check(g.value().epoch == table.epoch() && g.value().frame == next_frame);
          for (const auto& [f, o] : open) {
            check(o.compute_slot != c && o.layout_slot != l && o.result_slot != r);
          }
          check(open.size() < kMaxOpenGrants && c < kSlotsPerKind && l < kSlotsPerKind && r < kSlotsPerKind);
          open[next_frame] = g.value();
          made.push_back(g.value());
          ++next_frame;
        }
        check(table.open_grants() == open.size());
        break;
      }
      case 1: {  // raw DONE bytes, as a hostile child might send them
        std::uint8_t raw[sizeof(GrantMessage)];
        const std::size_t k = in.u8() % (sizeof raw + 1);
        for (std::size_t i = 0; i < k; ++i) raw[i] = in.u8();
        auto done = decode_done(std::span(reinterpret_cast<const std::byte*>(raw), k));
        if (!done) {
          table.note_malformed();
          ++violations;
        } else {
          send_done(done.value());
        }
        break;
      }
      case 2: {  // a DONE from an earlier grant, perhaps altered
        if (made.empty()) break;
        RenderGrant d = made[in.u32() % made.size()];
        const std::uint8_t flip = in.u8();
        if (flip & 1U) d.generation ^= in.u8();
        if (flip & 2U) d.epoch += in.u8() % 3;
        if (flip & 4U) d.result_slot = in.u8() % 4;
        if (flip & 8U) d.frame += in.u8() % 3;
        send_done(d);
        break;
      }
      case 3: {  // the child dies
        const std::uint64_t before = table.epoch();
        const auto lost = table.peer_lost();
        check(table.epoch() == before + 1 && lost.size() == open.size());
        for (const auto& g : lost) {
          check(open.count(g.frame) == 1 && open[g.frame] == g);
          check(++ends[g.frame] == 1);
          check(table.quarantined(g.result_slot));
        }
        open.clear();
        check(table.open_grants() == 0);
        break;
      }
      default: table.exit_confirmed(); break;
    }
    check(total_violations(table) == violations);
  }
  return 0;
}
