// SPDX-License-Identifier: Apache-2.0
// Tests for CpuSet, Topology and the core planner: XML fixtures in data/
// (the 16-core GPU machine, 2 sockets, hybrid P/E, 2 cores, 1 core, a
// restricted cpuset), hwloc synthetic topologies with and without CPU kinds,
// overrides, and every bad input. The NUMA / GPU / degraded matrix is
// plan_topologies_test.cpp. Single-threaded. See docs/scheduler.md.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "plan_fixtures.hpp"

namespace triptych::sched {
namespace {

using testing::data;
using testing::expect_sane;
using testing::from_xml;
using testing::plan;
using testing::synthetic;

TEST(CpuSet, ParsesAndFormatsLists) {
  auto s = CpuSet::parse("0-3, 8,10-11");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->to_string(), "0-3,8,10-11");
  EXPECT_EQ(s->size(), 7u);
  EXPECT_TRUE(s->contains(10));
  EXPECT_FALSE(s->contains(9));
  EXPECT_EQ(CpuSet({1, 2, 3}).minus(CpuSet{2}).to_string(), "1,3");
  EXPECT_TRUE(CpuSet::parse("")->empty());
}

TEST(CpuSet, RejectsBadLists) {
  for (const char* bad : {"-1", "3-1", "a", "1,,2", "0-", "99999999"}) {
    auto s = CpuSet::parse(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
    EXPECT_NE(s.error().message.find("bad CPU list"), std::string::npos);
  }
}

TEST(Topology, GpuMachineXmlHas16CoresOneNode) {
  const Topology t = from_xml("gpu-16core.xml");
  EXPECT_EQ(t.cores().size(), 16u);
  EXPECT_EQ(t.pus().size(), 16u);
  EXPECT_EQ(t.numa_nodes(), 1u);
  EXPECT_EQ(t.allowed().to_string(), "0-15");
  EXPECT_FALSE(t.is_this_system());
}

TEST(Topology, ThisSystemRespectsAffinityMask) {
  auto t = Topology::load();
  ASSERT_TRUE(t.ok()) << t.error().what();
  EXPECT_TRUE(t->allowed().is_subset_of(current_thread_affinity()));
  EXPECT_FALSE(t->allowed().empty());
}

TEST(Topology, MissingFileIsAClearError) {
  TopologyOptions o;
  o.xml_file = data("does-not-exist.xml");
  auto t = Topology::load(o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::kSystem);
  EXPECT_NE(t.error().message.find("does-not-exist.xml"), std::string::npos);
}

TEST(Topology, CorruptFileIsAClearError) {
  TopologyOptions o;
  o.xml_file = data("corrupt.xml");
  auto t = Topology::load(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("not a valid hwloc topology"), std::string::npos);
}

TEST(Topology, BadSyntheticIsAClearError) {
  TopologyOptions o;
  o.synthetic = "core:banana";
  auto t = Topology::load(o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::kInvalidArgument);
}

TEST(Topology, EmptyAllowedSetIsAnError) {
  TopologyOptions o;
  o.synthetic = "core:4 pu:1";
  o.restrict_allowed = true;
  o.allowed = CpuSet{};
  auto t = Topology::load(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("no allowed CPU"), std::string::npos);
}

TEST(Plan, GpuMachine16Cores_Reserves3_Render4_ComputeTheRest) {
  const Topology t = from_xml("gpu-16core.xml");
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.to_string(), "0-2");
  EXPECT_EQ(p.compute.cpus.to_string(), "3-11");
  EXPECT_EQ(p.render.cpus.to_string(), "12-15");
  EXPECT_EQ(p.render.threads.size(), kDefaultRenderThreads);
  EXPECT_TRUE(p.unused.empty());
  EXPECT_TRUE(p.warnings.empty());
}

TEST(Plan, TwoSocketXml_EachPoolInOneNumaNode_WholeCoresOnly) {
  const Topology t = from_xml("numa-2socket.xml");  // 2 x 8 cores x 2 PUs
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.to_string(), "0-5");  // cores 0-2 with their siblings
  EXPECT_EQ(p.compute.numa_nodes, std::vector<std::uint32_t>{1});
  EXPECT_EQ(p.compute.cpus.to_string(), "16,18,20,22,24,26,28,30");
  EXPECT_EQ(p.render.numa_nodes, std::vector<std::uint32_t>{0});
  EXPECT_EQ(p.render.cpus.to_string(), "8,10,12,14");
  for (std::uint32_t c : p.compute.cpus) EXPECT_EQ(c % 2, 0u) << "one PU per core, no SMT sibling";
}

TEST(Plan, SyntheticFourNumaNodes_EachPoolInItsOwnNode) {
  const Topology t = synthetic("package:2 numa:2 core:16 pu:2");
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.size(), 6u);
  EXPECT_EQ(p.render.numa_nodes, std::vector<std::uint32_t>{0});  // the smallest node that holds 4
  EXPECT_EQ(p.compute.numa_nodes, std::vector<std::uint32_t>{1});  // a whole node of 16 cores
  EXPECT_EQ(p.compute.threads.size(), 16u);
}

TEST(Plan, HybridXml_PoolsOnPCores_ReservedOnECores) {
  const Topology t = from_xml("hybrid-6p6e.xml");  // P = 0-5, E = 6-11
  ASSERT_EQ(t.kinds().size(), 2u);
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.to_string(), "6-8");
  EXPECT_EQ(p.compute.cpus.to_string(), "0-2");
  EXPECT_EQ(p.render.cpus.to_string(), "3-5");
  EXPECT_FALSE(p.compute.mixed_kinds);
  EXPECT_FALSE(p.render.mixed_kinds);
  EXPECT_EQ(p.unused.to_string(), "9-11");
}

TEST(Plan, HybridSyntheticRegisteredKinds_MixesOnlyWhenItMustAndSaysSo) {
  const Topology t = synthetic("core:8 pu:1", {{CpuSet{0, 1}, 1, "IntelCore"}, {CpuSet{2, 3, 4, 5, 6, 7}, 0, "IntelAtom"}});
  const CorePlan d = plan(t);
  expect_sane(t, d);
  EXPECT_EQ(d.compute.cpus.to_string(), "0");
  EXPECT_EQ(d.render.cpus.to_string(), "1");
  PlanPolicy pol;
  pol.compute_threads = 3;
  const CorePlan m = plan(t, pol);
  expect_sane(t, m);
  EXPECT_TRUE(m.compute.mixed_kinds);
  ASSERT_FALSE(m.warnings.empty());
  EXPECT_NE(m.warnings.front().find("mixes CPU kinds"), std::string::npos);
}

TEST(Plan, TwoCores_ComputeOwnsCore1_ReservedAndRenderShareCore0) {
  const Topology t = from_xml("2core.xml");
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_TRUE(p.shared_core);
  EXPECT_EQ(p.reserved.to_string(), "0");
  EXPECT_EQ(p.compute.cpus.to_string(), "1");
  EXPECT_EQ(p.render.cpus.to_string(), "0");
  ASSERT_FALSE(p.notes.empty());
  EXPECT_NE(p.notes.front().find("share core 0"), std::string::npos);
}

TEST(Plan, SyntheticTwoCoresWithSmt_RenderOnReservedCoresSibling) {
  const Topology t = synthetic("core:2 pu:2");
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.to_string(), "0");
  EXPECT_EQ(p.render.cpus.to_string(), "1");
  EXPECT_EQ(p.compute.cpus.to_string(), "2");
  EXPECT_TRUE(p.render.cpus.disjoint(p.reserved));
}

TEST(Plan, OneCpu_EveryPoolGetsTheCpu_DegradedAndSaysSo) {
  const Topology t = from_xml("1core.xml");
  const CorePlan p = plan(t);
  EXPECT_EQ(p.compute.threads, std::vector<std::uint32_t>{0});
  EXPECT_EQ(p.render.threads, std::vector<std::uint32_t>{0});
  EXPECT_TRUE(p.degraded);
  EXPECT_TRUE(p.oversubscribed);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("DEGRADED"), std::string::npos) << p.warnings[0];
  EXPECT_NE(p.to_table().find("(DEGRADED)"), std::string::npos);
}

TEST(Plan, SyntheticFourCoresSmt_ReservesOneCoreWithSiblings) {
  const Topology t = synthetic("core:4 pu:2");
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.to_string(), "0-1");
  EXPECT_EQ(p.compute.cpus.to_string(), "2,4");
  EXPECT_EQ(p.render.cpus.to_string(), "6");
  EXPECT_EQ(p.unused.to_string(), "3,5,7");
}

TEST(Plan, RestrictedCpusetXml_PlansOnlyInsideIt) {
  const Topology t = from_xml("restricted-8core-allow2to5.xml");
  EXPECT_EQ(t.allowed().to_string(), "2-5");
  const CorePlan p = plan(t);
  expect_sane(t, p);
  EXPECT_EQ(p.reserved.to_string(), "2");
  EXPECT_EQ(p.compute.cpus.to_string(), "3-4");
  EXPECT_EQ(p.render.cpus.to_string(), "5");
}

TEST(Plan, RestrictedSyntheticLikeACgroup) {
  TopologyOptions o;
  o.synthetic = "core:16 pu:1";
  o.restrict_allowed = true;
  o.allowed = CpuSet::parse("8-15").value();
  auto t = Topology::load(o);
  ASSERT_TRUE(t.ok());
  const CorePlan p = plan(t.value());
  expect_sane(t.value(), p);
  EXPECT_EQ(p.reserved.to_string(), "8-9");
  EXPECT_EQ(p.compute.cpus.to_string(), "10-12");
  EXPECT_EQ(p.render.cpus.to_string(), "13-15");
}

TEST(Plan, OverridesByCountAndList) {
  const Topology t = from_xml("gpu-16core.xml");
  PlanPolicy pol;
  pol.reserved_cores = 1;
  pol.compute_threads = 12;
  const CorePlan a = plan(t, pol);
  expect_sane(t, a);
  EXPECT_EQ(a.reserved.to_string(), "0");
  EXPECT_EQ(a.compute.cpus.to_string(), "1-12");
  EXPECT_EQ(a.render.cpus.to_string(), "13-15");
  PlanPolicy lists;
  lists.compute_cpus = CpuSet::parse("8-15").value();
  lists.render_cpus = CpuSet::parse("4-7").value();
  const CorePlan b = plan(t, lists);
  expect_sane(t, b);
  EXPECT_EQ(b.compute.cpus.to_string(), "8-15");
  EXPECT_EQ(b.render.cpus.to_string(), "4-7");
}

TEST(Plan, EnvOverridesAndBadEnvValues) {
  std::map<std::string, std::string> env{{"TRIPTYCH_COMPUTE_THREADS", "4"}, {"TRIPTYCH_RENDER_CPUS", "12-15"},
                                         {"TRIPTYCH_SMT", "0"}};
  auto get = [&](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  PlanPolicy pol;
  ASSERT_TRUE(apply_env(pol, get).ok());
  EXPECT_EQ(pol.compute_threads, 4);
  EXPECT_EQ(pol.render_cpus->to_string(), "12-15");
  const Topology t = from_xml("gpu-16core.xml");
  const CorePlan p = plan(t, pol);
  EXPECT_EQ(p.compute.cpus.to_string(), "3-6");
  EXPECT_EQ(p.render.cpus.to_string(), "12-15");

  for (const auto& [k, v] : std::map<std::string, std::string>{{"TRIPTYCH_COMPUTE_THREADS", "0"},
                                                               {"TRIPTYCH_RENDER_THREADS", "-2"},
                                                               {"TRIPTYCH_COMPUTE_CPUS", "x"},
                                                               {"TRIPTYCH_SMT", "yes"}}) {
    env = {{k, v}};
    PlanPolicy bad;
    auto r = apply_env(bad, get);
    ASSERT_FALSE(r.ok()) << k;
    EXPECT_NE(r.error().message.find(k), std::string::npos) << r.error().message;
  }
}

TEST(Plan, BadInput_ZeroOrNegativeCounts) {
  const Topology t = from_xml("gpu-16core.xml");
  for (int n : {0, -3}) {
    PlanPolicy pol;
    pol.compute_threads = n;
    auto r = plan_cores(t, pol);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("compute threads must be at least 1"), std::string::npos);
  }
  PlanPolicy neg;
  neg.reserved_cores = -1;
  EXPECT_FALSE(plan_cores(t, neg).ok());
  EXPECT_FALSE(parse_count("--render-threads", "0", 1).ok());
  EXPECT_FALSE(parse_count("--render-threads", "3x", 1).ok());
}

TEST(Plan, BadInput_CpusOutsideAllowedSet) {
  const Topology t = from_xml("restricted-8core-allow2to5.xml");
  PlanPolicy pol;
  pol.compute_cpus = CpuSet::parse("0-3").value();
  auto r = plan_cores(t, pol);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "compute CPUs 0-1 are not in the allowed set 2-5");
}

TEST(Plan, BadInput_OverlappingLists) {
  const Topology t = from_xml("gpu-16core.xml");
  PlanPolicy pol;
  pol.compute_cpus = CpuSet::parse("3-8").value();
  pol.render_cpus = CpuSet::parse("8-10").value();
  auto r = plan_cores(t, pol);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kOverlap);
}

TEST(Plan, NeverOversubscribesUnlessForcedThenWarns) {
  const Topology t = from_xml("gpu-16core.xml");
  PlanPolicy pol;
  pol.compute_threads = 20;
  auto r = plan_cores(t, pol);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("oversubscribe"), std::string::npos);
  pol.allow_oversubscribe = true;
  auto f = plan_cores(t, pol);
  ASSERT_TRUE(f.ok()) << f.error().what();
  EXPECT_TRUE(f->oversubscribed);
  ASSERT_FALSE(f->warnings.empty());
  EXPECT_NE(f->warnings.back().find("OVERSUBSCRIBED"), std::string::npos);
}

TEST(Plan, SmtPolicyUsesSiblings) {
  const Topology t = synthetic("core:4 pu:2");
  PlanPolicy pol;
  pol.use_smt = true;
  const CorePlan p = plan(t, pol);
  expect_sane(t, p);
  EXPECT_EQ(p.compute.cpus.to_string(), "2-4");
  EXPECT_EQ(p.render.cpus.to_string(), "5-7");
}

TEST(Plan, JsonAndTableNameEverySet) {
  const CorePlan p = plan(from_xml("gpu-16core.xml"));
  const std::string j = p.to_json();
  EXPECT_NE(j.find("\"reserved\":[0,1,2]"), std::string::npos) << j;
  EXPECT_NE(j.find("\"compute\":{\"threads\":[3,4,5,6,7,8,9,10,11]"), std::string::npos) << j;
  const std::string tab = p.to_table();
  EXPECT_NE(tab.find("compute    9"), std::string::npos) << tab;
}

}  // namespace
}  // namespace triptych::sched
