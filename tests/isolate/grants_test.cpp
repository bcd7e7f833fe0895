// SPDX-License-Identifier: Apache-2.0
// Slot grants: a DONE is accepted only for an open grant of the current
// epoch with every field matching; stale, ungranted, altered, duplicate and
// malformed DONEs are refused, counted and change nothing; a death hands
// every open grant back and quarantines their result slots until the exit
// is confirmed; a randomised hostile child never gets anything ungranted
// accepted, and every grant ends exactly once (accepted or lost).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "triptych/isolate/grants.hpp"

namespace triptych::isolate {
namespace {

TEST(Grants, ADoneForAnOpenGrantIsAcceptedOnce) {
  GrantTable t;
  auto g = t.grant(10, 0, 1, 2);
  ASSERT_TRUE(g);
  EXPECT_EQ(t.open_grants(), 1U);
  auto a = t.accept(g.value());
  ASSERT_TRUE(a) << a.error().what();
  EXPECT_EQ(a.value(), g.value());
  EXPECT_EQ(t.open_grants(), 0U);
  auto again = t.accept(g.value());
  ASSERT_FALSE(again);
  EXPECT_EQ(t.violations(Violation::kNotGranted), 1U);
}

TEST(Grants, AlteredOrUngrantedDonesAreRefusedCountedAndChangeNothing) {
  GrantTable t;
  const RenderGrant g = t.grant(10, 0, 1, 2).value();
  RenderGrant other_slot = g;
  other_slot.result_slot = 0;
  EXPECT_FALSE(t.accept(other_slot));
  RenderGrant other_generation = g;
  other_generation.generation += 1;
  EXPECT_FALSE(t.accept(other_generation));
  EXPECT_EQ(t.violations(Violation::kFieldMismatch), 2U);
  RenderGrant never = g;
  never.frame = 11;
  EXPECT_FALSE(t.accept(never));
  EXPECT_EQ(t.violations(Violation::kNotGranted), 1U);
  EXPECT_EQ(t.open_grants(), 1U) << "the real grant is still open";
  EXPECT_TRUE(t.accept(g));
}

TEST(Grants, SlotsHeldByAnOpenGrantAreNotGrantedTwice) {
  GrantTable t;
  ASSERT_TRUE(t.grant(1, 0, 0, 0));
  EXPECT_FALSE(t.grant(2, 0, 1, 1)) << "compute slot 0 is held";
  EXPECT_FALSE(t.grant(2, 1, 0, 1)) << "layout slot 0 is held";
  EXPECT_FALSE(t.grant(2, 1, 1, 0)) << "result slot 0 is held";
  EXPECT_FALSE(t.grant(1, 1, 1, 1)) << "frame 1 is granted";
  EXPECT_FALSE(t.grant(2, 3, 1, 1)) << "slot out of range";
  ASSERT_TRUE(t.grant(2, 1, 1, 1));
  ASSERT_TRUE(t.grant(3, 2, 2, 2));
  EXPECT_FALSE(t.grant(4, 0, 0, 0)) << "every grant is open";
}

TEST(Grants, ADeathHandsBackEveryOpenGrantAndQuarantinesTheirResultSlots) {
  GrantTable t;
  const RenderGrant a = t.grant(5, 0, 0, 0).value();
  const RenderGrant b = t.grant(6, 1, 1, 1).value();
  ASSERT_TRUE(t.accept(a));
  const auto lost = t.peer_lost();
  ASSERT_EQ(lost.size(), 1U);
  EXPECT_EQ(lost[0], b);
  EXPECT_EQ(t.epoch(), b.epoch + 1);
  EXPECT_TRUE(t.quarantined(1));
  EXPECT_FALSE(t.quarantined(0));
  EXPECT_FALSE(t.grant(7, 1, 1, 1)) << "result slot 1 may still be written by the dead child's GPU work";
  // The dead child's late DONE is stale, even for a grant it really had.
  EXPECT_FALSE(t.accept(b));
  EXPECT_EQ(t.violations(Violation::kStaleEpoch), 1U);
  t.exit_confirmed();
  const RenderGrant c = t.grant(7, 1, 1, 1).value();
  EXPECT_EQ(c.epoch, t.epoch());
  EXPECT_NE(c.generation, b.generation);
  EXPECT_TRUE(t.accept(c));
}

TEST(Grants, MalformedDoneBytesAreRefused) {
  const GrantMessage good = done_message(RenderGrant{1, 2, 0, 1, 2, 9});
  std::array<std::byte, sizeof good> bytes{};
  std::memcpy(bytes.data(), &good, sizeof good);
  ASSERT_TRUE(decode_done(bytes));
  EXPECT_EQ(decode_done(bytes).value().generation, 9U);
  EXPECT_FALSE(decode_done(std::span(bytes).first(sizeof good - 1)));
  const GrantMessage render = render_message(good.grant);
  std::memcpy(bytes.data(), &render, sizeof render);
  auto wrong_kind = decode_done(bytes);
  ASSERT_FALSE(wrong_kind);
  EXPECT_NE(wrong_kind.error().message.find("not a DONE"), std::string::npos);
}

// A hostile child answers at random: real DONEs, replays, altered fields,
// other epochs, and dies now and then. Every accepted DONE was an open
// grant; every grant ends exactly once, accepted or lost.
TEST(Grants, ARandomHostileChildNeverGetsAnythingUngrantedAccepted) {
  GrantTable t;
  std::mt19937 engine(2026);
  auto random = [&engine] { return static_cast<std::uint32_t>(engine()); };
  std::vector<RenderGrant> sent;  // every grant ever made
  std::set<std::uint64_t> ended;  // frames accepted or lost
  std::uint64_t frame = 0;
  for (int step = 0; step < 20000; ++step) {
    const std::uint32_t action = random() % 10;
    if (action < 3 && t.open_grants() < kMaxOpenGrants) {
      const auto s = static_cast<std::uint32_t>(frame % kSlotsPerKind);
      auto g = t.grant(frame, s, s, s);
      if (g) {
        sent.push_back(g.value());
        ++frame;
      } else {
        t.exit_confirmed();  // only a quarantine or a held slot refuses here
      }
    } else if (action < 9 && !sent.empty()) {
      RenderGrant d = sent[random() % sent.size()];
      if (random() % 4 == 0) d.generation ^= 1U << (random() % 8);
      if (random() % 8 == 0) d.epoch += random() % 3;
      auto a = t.accept(d);
      if (a) {
        EXPECT_TRUE(ended.insert(a.value().frame).second) << "frame " << a.value().frame << " ended twice";
        bool was_sent = false;
        for (const auto& g : sent) was_sent = was_sent || g == a.value();
        EXPECT_TRUE(was_sent);
      }
    } else if (action == 9) {
      for (const auto& g : t.peer_lost()) {
        EXPECT_TRUE(ended.insert(g.frame).second) << "frame " << g.frame << " lost after it ended";
      }
    }
  }
  for (const auto& g : t.peer_lost()) EXPECT_TRUE(ended.insert(g.frame).second);
  EXPECT_EQ(ended.size(), sent.size()) << "every grant ended exactly once";
}

}  // namespace
}  // namespace triptych::isolate
