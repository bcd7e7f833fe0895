// SPDX-License-Identifier: Apache-2.0
// Tests for the run options table (pipeline/run_options.hpp): every default
// passes its own check, text parses strictly, each host takes only its
// options (--adaptive-plan, --raster and --clock among them), the rules between options hold, --help comes from the table with
// EngineConfig{}'s defaults, and Engine::prepare checks with the same ranges.
#include "triptych/pipeline/run_options.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace triptych::pipeline {
namespace {

const RunOption& row(std::string_view key) {
  const RunOption* o = option_by_key(key);
  EXPECT_NE(o, nullptr) << key;
  return *o;
}

TEST(RunOptions, KeysAndFlagsAreUniqueAndFindable) {
  std::set<std::string_view> keys, flags;
  for (const RunOption& o : run_options()) {
    EXPECT_TRUE(keys.insert(o.key).second) << o.key;
    EXPECT_TRUE(flags.insert(o.flag).second) << o.flag;
    EXPECT_EQ(option_by_key(o.key), &o);
    EXPECT_EQ(option_by_flag(o.flag), &o);
    EXPECT_FALSE(o.help.empty()) << o.key;
  }
  EXPECT_EQ(option_by_key("particle"), nullptr);
  EXPECT_EQ(option_by_flag("--particles"), nullptr);
}

TEST(RunOptions, EveryDefaultPassesItsOwnCheck) {
  const RunConfig defaults;
  for (const RunOption& o : run_options()) {
    const OptionValue v = o.get(defaults);
    if (std::holds_alternative<std::monostate>(v)) continue;
    EXPECT_TRUE(check_option(o, v).ok()) << o.key << ": " << check_option(o, v).error().what();
  }
}

TEST(RunOptions, DefaultsAreEngineConfigsOwn) {
  const EngineConfig engine;
  EXPECT_EQ(default_text(row("particles")), std::to_string(engine.particles));
  EXPECT_EQ(default_text(row("grain")), std::to_string(engine.grain));
  EXPECT_EQ(default_text(row("width")), std::to_string(engine.width));
  EXPECT_EQ(std::get<double>(row("seconds").get(RunConfig{})), engine.seconds);
  const std::string help = options_help(kCliHost);
  EXPECT_NE(help.find("--particles N"), std::string::npos) << help;
  EXPECT_NE(help.find("[default: " + std::to_string(engine.particles) + "]"), std::string::npos) << help;
}

TEST(RunOptions, HelpListsEveryPublicOptionOfTheHostAndNoOther) {
  for (RunHost host : {kCliHost, kNativeCliHost}) {
    const std::string help = options_help(host) + options_help(host, true);
    for (const RunOption& o : run_options()) {
      const bool listed = help.find("  --" + std::string(o.flag) + " ") != std::string::npos ||
                          help.find("  --" + std::string(o.flag) + "\n") != std::string::npos;
      EXPECT_EQ(listed, (o.hosts & host) != 0 && !o.internal) << o.flag << " for host " << int{host};
    }
  }
}

TEST(RunOptions, TextParsesStrictly) {
  EXPECT_EQ(std::get<double>(parse_option_text(row("particles"), "8000").value()), 8000.0);
  EXPECT_EQ(std::get<double>(parse_option_text(row("hz"), "59.94").value()), 59.94);
  for (const char* bad : {"", "12abc", "0x10", "-1", "1.5", "nan", "inf", "16777217"}) {
    auto r = parse_option_text(row("particles"), bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kBadOption);
    EXPECT_NE(r.error().message.find("--particles must be an integer in [1, 16777216]"), std::string::npos)
        << r.error().message;
  }
  EXPECT_FALSE(parse_option_text(row("renderer"), "metal").ok());
  EXPECT_NE(parse_option_text(row("renderer"), "metal").error().message.find("one of auto, vulkan, cpu"),
            std::string::npos);
  EXPECT_FALSE(parse_option_text(row("reservedCpus"), "3-1").ok());
  EXPECT_EQ(std::get<std::string>(parse_option_text(row("reservedCpus"), "0-1").value()), "0-1");
}

TEST(RunOptions, AdaptivePlanIsAnOnOffChoiceOffByDefault) {
  const RunOption* o = option_by_flag("adaptive-plan");
  ASSERT_NE(o, nullptr);
  RunConfig c;
  EXPECT_EQ(std::get<std::string>(o->get(c)), "off");
  ASSERT_TRUE(set_option(c, *o, parse_option_text(*o, "on").value(), kCliHost).ok());
  EXPECT_TRUE(c.engine.adaptive_plan);
  EXPECT_FALSE(parse_option_text(*o, "yes").ok());
}

TEST(RunOptions, ClockIsAPresenterFrameLoopChoiceFrameLoopByDefault) {
  const RunOption* o = option_by_flag("clock");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->hosts, kEveryHost);
  RunConfig c;
  EXPECT_EQ(std::get<std::string>(o->get(c)), "frame-loop");
  EXPECT_EQ(c.engine.clock, ClockOwner::kFrameLoop);
  ASSERT_TRUE(set_option(c, *o, parse_option_text(*o, "presenter").value(), kCliHost).ok());
  EXPECT_EQ(c.engine.clock, ClockOwner::kPresenter);
  EXPECT_EQ(std::get<std::string>(o->get(c)), "presenter");
  EXPECT_FALSE(parse_option_text(*o, "vsync").ok());
}

TEST(RunOptions, RasterIsAnAutoQuadsSplatChoiceAutoByDefault) {
  const RunOption* o = option_by_flag("raster");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->hosts, kEveryHost);
  RunConfig c;
  EXPECT_EQ(std::get<std::string>(o->get(c)), "auto");
  EXPECT_EQ(c.engine.raster, RasterPath::kAuto);
  ASSERT_TRUE(set_option(c, *o, parse_option_text(*o, "splat").value(), kCliHost).ok());
  EXPECT_EQ(c.engine.raster, RasterPath::kSplat);
  EXPECT_EQ(std::get<std::string>(o->get(c)), "splat");
  ASSERT_TRUE(set_option(c, *o, parse_option_text(*o, "quads").value(), kApiHost).ok());
  EXPECT_EQ(c.engine.raster, RasterPath::kQuads);
  EXPECT_FALSE(parse_option_text(*o, "points").ok());
}

TEST(RunOptions, ValuesOfTheWrongTypeAreRefusedNotCoerced) {
  EXPECT_FALSE(check_option(row("particles"), std::string("8000")).ok());
  EXPECT_FALSE(check_option(row("validation"), 1.0).ok());
  EXPECT_FALSE(check_option(row("renderer"), true).ok());
  EXPECT_FALSE(check_option(row("device"), 3.0).ok());
}

TEST(RunOptions, EachHostTakesOnlyItsOptions) {
  RunConfig c;
  auto r = set_option(c, row("kernel"), std::string("k.wasm"), kNativeCliHost, OptionNaming::kFlag);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--kernel is not an option of this host"), std::string::npos);
  EXPECT_FALSE(set_option(c, row("out"), std::string("o"), kApiHost).ok());
  EXPECT_TRUE(set_option(c, row("particles"), 5.0, kApiHost).ok());
  EXPECT_EQ(c.engine.particles, 5u);
  EXPECT_TRUE(was_given(c, row("particles")));
  EXPECT_FALSE(was_given(c, row("grain")));
  // A refused value leaves the config as it was.
  EXPECT_FALSE(set_option(c, row("particles"), 0.0, kApiHost).ok());
  EXPECT_EQ(c.engine.particles, 5u);
}

TEST(RunOptions, SecondsAndFramesEachEndARunButNotBoth) {
  RunConfig c;
  ASSERT_TRUE(finish_run_config(c).ok());
  EXPECT_EQ(c.engine.frames, 0u);
  EXPECT_EQ(c.engine.seconds, 10.0);
  RunConfig by_frames;
  ASSERT_TRUE(set_option(by_frames, row("frames"), 30.0, kApiHost).ok());
  ASSERT_TRUE(finish_run_config(by_frames).ok());
  EXPECT_EQ(by_frames.engine.seconds, 0.0) << "a frame count replaces the clock";
  RunConfig both;
  ASSERT_TRUE(set_option(both, row("frames"), 30.0, kApiHost).ok());
  ASSERT_TRUE(set_option(both, row("seconds"), 2.0, kApiHost).ok());
  auto r = finish_run_config(both);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not both"), std::string::npos);
  // A normalised config (frames 0, seconds 10) given back is the same run.
  RunConfig again;
  ASSERT_TRUE(set_option(again, row("frames"), 0.0, kApiHost).ok());
  ASSERT_TRUE(set_option(again, row("seconds"), 10.0, kApiHost).ok());
  ASSERT_TRUE(finish_run_config(again).ok());
  EXPECT_EQ(again.engine.seconds, 10.0);
}

TEST(RunOptions, KernelNeedsWasmComputeAndTheBaselineRunsWasm) {
  RunConfig c;
  ASSERT_TRUE(set_option(c, row("compute"), std::string("native"), kCliHost).ok());
  ASSERT_TRUE(set_option(c, row("kernel"), std::string("k.wasm"), kCliHost).ok());
  auto r = finish_run_config(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kBadOption);
  EXPECT_NE(r.error().message.find("k.wasm"), std::string::npos) << r.error().message;
  RunConfig b;
  ASSERT_TRUE(set_option(b, row("compute"), std::string("native"), kCliHost).ok());
  ASSERT_TRUE(set_option(b, row("baseline"), std::string("copy"), kCliHost).ok());
  EXPECT_FALSE(finish_run_config(b).ok());
}

TEST(RunOptions, OutputFilesFollowTheFolderUnlessNamedAlone) {
  RunOutputs none;
  EXPECT_EQ(output_files(none).stats, "out/stats.json");
  RunOutputs one;
  one.trace = "t.json";
  const RunOutputs f = output_files(one);
  EXPECT_EQ(f.trace, "t.json");
  EXPECT_EQ(f.report, "") << "a single-file option writes only what it names";
  one.dir = "d";
  EXPECT_EQ(output_files(one).report, "d/report.html");
  EXPECT_EQ(output_files(one).trace, "t.json");
}

TEST(RunOptions, EnginePrepareChecksWithTheTablesRanges) {
  EngineConfig c;
  c.particles = 0;
  auto r = Engine::prepare(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kBadOption);
  EXPECT_NE(r.error().message.find("particles must be an integer in [1, 16777216], got 0"), std::string::npos);
  c = EngineConfig{};
  c.grain = 0;
  EXPECT_EQ(Engine::prepare(c).error().code, Errc::kBadOption);
  c = EngineConfig{};
  c.seconds = 1e9;
  EXPECT_EQ(Engine::prepare(c).error().code, Errc::kBadOption);
}

}  // namespace
}  // namespace triptych::pipeline
