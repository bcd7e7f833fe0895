// SPDX-License-Identifier: Apache-2.0
// The core plan on every kind of machine it must hold on (issue 15, "plan
// fixes"): 2 sockets with many L3 groups, 4 NUMA nodes per socket, hybrid P/E,
// SMT on and off, offline CPUs, a cgroup-restricted allowed set, 1 CPU, and a
// GPU near one node. Each plan: every pool within one NUMA node where one node
// holds it, sets disjoint and inside the allowed set, nothing oversubscribed
// (but the declared 1-CPU degraded plan, which still runs: its pools are
// created and run work here). Topologies: hwloc synthetic strings and the XML
// files of topologies/ (make_topologies.py). Single-threaded but for the pools
// of the 1-CPU test. See docs/scheduler.md ("Core plan").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plan_fixtures.hpp"
#include "triptych/sched/pool.hpp"

namespace triptych::sched {
namespace {

using testing::data;
using testing::expect_sane;
using testing::from_xml;
using testing::load_or_fail;
using testing::plan;
using testing::synthetic;

using Nodes = std::vector<std::uint32_t>;

bool has_note(const CorePlan& p, const std::string& text) {
  for (const auto& n : p.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

// expect_sane, and each pool lies within one NUMA node.
void expect_confined(const Topology& t, const CorePlan& p) {
  expect_sane(t, p);
  EXPECT_EQ(p.compute.numa_nodes.size(), 1u) << p.to_table();
  EXPECT_EQ(p.render.numa_nodes.size(), 1u) << p.to_table();
}

struct Machine {
  const char* what;
  const char* xml;        // a file of topologies/ (or data/), or nullptr
  const char* synthetic;  // else an hwloc synthetic description
};

// Every machine of the matrix, with the default policy: confined, sane.
TEST(PlanTopologies, EveryMachine_PoolsConfinedDisjointInsideAllowedNeverOversubscribed) {
  const Machine machines[] = {
      {"2 sockets, 4 L3 groups each, SMT on", nullptr, "pack:2 numa:1 l3:4 core:4 pu:2"},
      {"2 sockets, 4 L3 groups each, SMT off", nullptr, "pack:2 numa:1 l3:4 core:4 pu:1"},
      {"2 sockets x 4 NUMA nodes, SMT on", nullptr, "pack:2 numa:4 core:4 pu:2"},
      {"2 sockets x 4 NUMA nodes, SMT off, GPU on package 1", "topologies/2socket-4numa-gpu-package1.xml", nullptr},
      {"2 sockets, GPU on node 1", "topologies/2socket-l3x4-smt-gpu-node1.xml", nullptr},
      {"2 sockets, GPU on node 0", "topologies/2socket-l3x4-smt-gpu-node0.xml", nullptr},
      {"2 sockets, a GPU on each", "topologies/2socket-two-gpus.xml", nullptr},
      {"2 sockets, GPU local to both", "topologies/2socket-gpu-machine-wide.xml", nullptr},
      {"2 sockets, offline CPUs", "topologies/2socket-offline-cpus.xml", nullptr},
      {"2 sockets, cgroup cpuset 6-13", "topologies/2socket-cgroup-6to13.xml", nullptr},
      {"2 sockets x 8 cores (data/)", "numa-2socket.xml", nullptr},
      {"hybrid 6P+6E (data/)", "hybrid-6p6e.xml", nullptr},
      {"16 cores, 1 node (data/)", "gpu-16core.xml", nullptr},
  };
  for (const Machine& m : machines) {
    SCOPED_TRACE(m.what);
    const Topology t = m.xml != nullptr ? from_xml(m.xml) : synthetic(m.synthetic);
    expect_confined(t, plan(t));
  }
}

TEST(PlanTopologies, TwoSocketsManyL3Groups_NoInterleaving_RenderSizedByTheRenderStage) {
  const Topology t = synthetic("pack:2 numa:1 l3:4 core:4 pu:2");  // 2 x 16 cores, PUs 0-31 | 32-63
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.reserved.to_string(), "0-5");
  EXPECT_EQ(p.render.threads.size(), kDefaultRenderThreads);
  EXPECT_EQ(p.render.numa_nodes, Nodes{0});   // the smallest node that holds it (13 free cores)
  EXPECT_EQ(p.compute.numa_nodes, Nodes{1});  // all 16 cores of the other node
  EXPECT_EQ(p.compute.threads.size(), 16u);
  EXPECT_TRUE(has_note(p, "render: 4 thread(s)")) << p.to_table();
  EXPECT_TRUE(has_note(p, "compute on NUMA node 1, render on NUMA node 0")) << p.to_table();
  EXPECT_TRUE(has_note(p, "are left unpinned")) << p.to_table();
}

TEST(Topology, GpuLocalityComesFromThePciObjectsOfTheXml) {
  const Topology t = from_xml("topologies/2socket-l3x4-smt-gpu-node1.xml");
  ASSERT_EQ(t.gpus().size(), 1u);
  EXPECT_EQ(t.gpus()[0].pci_bus_id, "0000:81:00.0");
  EXPECT_EQ(t.gpus()[0].name, "card1");
  EXPECT_EQ(t.gpus()[0].numa_nodes, Nodes{1});
  EXPECT_EQ(t.gpus()[0].local_cpus.to_string(), "32-63");
  const Topology one = from_xml("gpu-16core.xml");  // a 3D controller with no OS device under it
  ASSERT_EQ(one.gpus().size(), 1u);
  EXPECT_EQ(one.gpus()[0].name, "10de:2335");
  EXPECT_TRUE(synthetic("core:4 pu:1").gpus().empty());
}

TEST(PlanTopologies, GpuOnSecondNode_RenderGoesThere_ComputeTakesTheOtherNode) {
  const Topology t = from_xml("topologies/2socket-l3x4-smt-gpu-node1.xml");
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.render.numa_nodes, Nodes{1});
  EXPECT_EQ(p.render.cpus.to_string(), "32,34,36,38");  // one L3 group of node 1, one PU per core
  EXPECT_EQ(p.compute.numa_nodes, Nodes{0});
  EXPECT_TRUE(has_note(p, "GPU card1 (PCI 0000:81:00.0) is nearest NUMA node(s) 1: render is placed there"))
      << p.to_table();
  // The same machine with its GPU on node 0: render follows the GPU.
  const Topology t0 = from_xml("topologies/2socket-l3x4-smt-gpu-node0.xml");
  const CorePlan p0 = plan(t0);
  expect_confined(t0, p0);
  EXPECT_EQ(p0.render.numa_nodes, Nodes{0});
  EXPECT_EQ(p0.compute.numa_nodes, Nodes{1});
}

TEST(PlanTopologies, GpuLocalToAPackageOfFourNodes_RenderInOneOfThem) {
  const Topology t = from_xml("topologies/2socket-4numa-gpu-package1.xml");
  ASSERT_EQ(t.numa_nodes(), 8u);
  ASSERT_EQ(t.gpus().size(), 1u);
  EXPECT_EQ(t.gpus()[0].numa_nodes, (Nodes{4, 5, 6, 7}));
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.render.numa_nodes, Nodes{4});
  EXPECT_EQ(p.render.cpus.to_string(), "16-19");
  EXPECT_NE(p.compute.numa_nodes, p.render.numa_nodes);
}

TEST(PlanTopologies, GpusNearDifferentNodes_NoPreference_Said) {
  const Topology t = from_xml("topologies/2socket-two-gpus.xml");
  ASSERT_EQ(t.gpus().size(), 2u);
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.render.numa_nodes, Nodes{0});  // today's choice: the smallest node that holds it
  EXPECT_TRUE(has_note(p, "GPUs sit near different NUMA nodes")) << p.to_table();
}

TEST(PlanTopologies, GpuLocalToTheWholeMachine_NoPreference) {
  const Topology t = from_xml("topologies/2socket-gpu-machine-wide.xml");
  ASSERT_EQ(t.gpus().size(), 1u);
  EXPECT_EQ(t.gpus()[0].numa_nodes, (Nodes{0, 1}));
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.render.numa_nodes, Nodes{0});  // the smallest node that holds it, as without a GPU
  EXPECT_TRUE(has_note(p, "no GPU locality known: render takes the smallest NUMA node")) << p.to_table();
}

TEST(PlanTopologies, FourNumaNodesPerSocket_EachPoolInOneNode) {
  for (const char* desc :
       {"pack:2 numa:4 core:4 pu:2", "pack:2 numa:4 core:4 pu:1", "pack:2 numa:4 l3:2 core:2 pu:2"}) {
    SCOPED_TRACE(desc);
    const Topology t = synthetic(desc);
    ASSERT_EQ(t.numa_nodes(), 8u);
    const CorePlan p = plan(t);
    expect_confined(t, p);
    EXPECT_NE(p.compute.numa_nodes, p.render.numa_nodes);
    EXPECT_EQ(p.compute.threads.size(), 4u);  // a whole node
  }
}

TEST(PlanTopologies, HybridTwoSockets_PoolsOnPCoresEachInOneNode) {
  // Per socket: P cores 0-3 / 8-11, E cores 4-7 / 12-15.
  const Topology t = synthetic("pack:2 numa:1 core:8 pu:1",
                               {{CpuSet::parse("0-3,8-11").value(), 1, "IntelCore"},
                                {CpuSet::parse("4-7,12-15").value(), 0, "IntelAtom"}});
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.reserved.to_string(), "4-6");  // E cores
  EXPECT_FALSE(p.compute.mixed_kinds);
  EXPECT_FALSE(p.render.mixed_kinds);
  EXPECT_TRUE(p.compute.cpus.unite(p.render.cpus).is_subset_of(CpuSet::parse("0-3,8-11").value()));
}

TEST(PlanTopologies, SmtOnAndOff_OneThreadPerCoreSamePlacement) {
  const Topology on = synthetic("pack:2 numa:1 core:8 pu:2");
  const Topology off = synthetic("pack:2 numa:1 core:8 pu:1");
  const CorePlan a = plan(on);
  const CorePlan b = plan(off);
  expect_confined(on, a);
  expect_confined(off, b);
  EXPECT_EQ(a.compute.threads.size(), b.compute.threads.size());
  EXPECT_EQ(a.render.threads.size(), b.render.threads.size());
  EXPECT_EQ(a.compute.numa_nodes, b.compute.numa_nodes);
  for (std::uint32_t c : a.compute.cpus.unite(a.render.cpus)) EXPECT_EQ(c % 2, 0u) << "no SMT sibling";
}

TEST(PlanTopologies, OfflineCpus_NeverPlannedOn) {
  const Topology t = from_xml("topologies/2socket-offline-cpus.xml");
  const CpuSet offline = CpuSet::parse("4-7,20-21").value();
  EXPECT_TRUE(t.all_cpus().disjoint(offline)) << t.all_cpus().to_string();
  EXPECT_EQ(t.allowed().size(), 26u);
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_TRUE(p.reserved.unite(p.compute.cpus).unite(p.render.cpus).disjoint(offline));
}

TEST(PlanTopologies, CgroupCpuset_PlansInsideItAndSaysSo) {
  const Topology t = from_xml("topologies/2socket-cgroup-6to13.xml");
  EXPECT_EQ(t.allowed().to_string(), "6-13");
  const CorePlan p = plan(t);
  expect_confined(t, p);
  EXPECT_EQ(p.reserved.to_string(), "6-7");  // node 0's two allowed cores
  EXPECT_EQ(p.compute.cpus.to_string(), "8-10");
  EXPECT_EQ(p.render.cpus.to_string(), "11-13");
  EXPECT_TRUE(has_note(p, "only 8 of the machine's 16 CPUs are allowed")) << p.to_table();
  // The same limit given as a restriction (as --allowed does).
  TopologyOptions o;
  o.synthetic = "pack:2 numa:1 core:8 pu:2";
  o.restrict_allowed = true;
  o.allowed = CpuSet::parse("0-3,16-31").value();
  const Topology r = load_or_fail(o);
  expect_confined(r, plan(r));
}

TEST(PlanTopologies, ExplicitCountNoNodeHolds_SpansFewestNodesAndSaysSo) {
  const Topology t = synthetic("pack:2 numa:1 core:8 pu:1");
  PlanPolicy pol;
  pol.compute_threads = 10;
  const CorePlan p = plan(t, pol);
  expect_sane(t, p);
  EXPECT_EQ(p.compute.numa_nodes, (Nodes{0, 1}));
  EXPECT_TRUE(has_note(p, "compute spans NUMA nodes 0-1")) << p.to_table();
  pol.compute_threads = 8;  // one node holds 8: confined again
  const CorePlan q = plan(t, pol);
  expect_sane(t, q);
  EXPECT_EQ(q.compute.numa_nodes, Nodes{1});
}

// A CorePlan's pools, created and run as the engine does; `work` chunks on each.
void expect_pools_run(const CorePlan& p) {
  auto compute = Pool::create(PoolConfig::from_plan(p.compute));
  ASSERT_TRUE(compute.ok()) << compute.error().what();
  auto render = Pool::create(PoolConfig::from_plan(p.render));
  ASSERT_TRUE(render.ok()) << render.error().what();
  constexpr std::size_t kChunks = 64;
  std::atomic<std::size_t> done{0};
  const auto start = std::chrono::steady_clock::now();
  for (Pool* pool : {compute->get(), render->get()}) {
    pool->parallel_for(0, kChunks, 1, [&](std::size_t b, std::size_t e) {
      done.fetch_add(e - b, std::memory_order_relaxed);
    });
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(done.load(std::memory_order_relaxed), 2 * kChunks);
  EXPECT_LT(took, std::chrono::seconds(2)) << "both pools on one CPU must still finish promptly";
}

TEST(PlanTopologies, OneCpu_DegradedPlanRuns) {
  for (const char* desc : {"core:1 pu:1", "pack:2 numa:1 core:8 pu:2"}) {
    SCOPED_TRACE(desc);
    TopologyOptions o;
    o.synthetic = desc;
    o.restrict_allowed = true;
    o.allowed = CpuSet{0};  // one CPU, as a cgroup of one CPU leaves
    const Topology t = load_or_fail(o);
    const CorePlan p = plan(t);
    EXPECT_EQ(p.compute.threads, std::vector<std::uint32_t>{0});
    EXPECT_EQ(p.render.threads, std::vector<std::uint32_t>{0});
    EXPECT_TRUE(p.degraded);
    ASSERT_FALSE(p.warnings.empty());
    EXPECT_NE(p.warnings.back().find("DEGRADED"), std::string::npos);
  }
  // On this machine's first allowed CPU alone: the pools are created, pinned and run.
  TopologyOptions mine;
  mine.restrict_allowed = true;
  mine.allowed = CpuSet{current_thread_affinity()[0]};
  const Topology t = load_or_fail(mine);
  const CorePlan p = plan(t);
  EXPECT_TRUE(p.degraded);
  expect_pools_run(p);
}

TEST(PlanTopologies, TooFewCpusForExplicitCompute_RenderStillGetsAThread) {
  // 2 cores, compute asked for both: render shares, degraded and said.
  const Topology t = synthetic("core:2 pu:1");
  PlanPolicy pol;
  pol.compute_threads = 2;
  const CorePlan p = plan(t, pol);
  EXPECT_EQ(p.render.threads.size(), 1u);
  EXPECT_TRUE(p.degraded);
  EXPECT_NE(p.warnings.back().find("fewer compute threads"), std::string::npos) << p.warnings.back();
  // 4 cores, 3 reserved: render takes the last reserved CPU, not compute's.
  const Topology four = synthetic("core:4 pu:1");
  PlanPolicy reserved3;
  reserved3.reserved_cores = 3;
  const CorePlan q = plan(four, reserved3);
  EXPECT_EQ(q.compute.cpus.to_string(), "3");
  EXPECT_EQ(q.render.cpus.to_string(), "2");
  EXPECT_TRUE(q.shared_core);
  EXPECT_FALSE(q.degraded);
  EXPECT_FALSE(q.oversubscribed);
}

}  // namespace
}  // namespace triptych::sched
