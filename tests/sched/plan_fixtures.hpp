// SPDX-License-Identifier: Apache-2.0
// Test helpers shared by the core planner's tests (plan_test.cpp,
// plan_topologies_test.cpp): topologies from the XML files in data/ and
// topologies/ or from hwloc synthetic descriptions, a plan that must succeed,
// and the invariants every plan keeps. Single-threaded. See docs/scheduler.md.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/cpuset.hpp"
#include "triptych/sched/topology.hpp"

namespace triptych::sched::testing {

// A file of tests/sched/data (the original fixtures) or, with "topologies/"
// in front, of tests/sched/topologies (make_topologies.py's).
inline std::string data(const std::string& name) {
  const std::string dir = TRIPTYCH_SCHED_DATA;
  if (name.starts_with("topologies/")) return dir.substr(0, dir.rfind('/')) + "/" + name;
  return dir + "/" + name;
}

inline Topology load_or_fail(const TopologyOptions& o) {
  auto t = Topology::load(o);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().what());
  return std::move(t).value();
}

inline Topology from_xml(const std::string& name) {
  TopologyOptions o;
  o.xml_file = data(name);
  return load_or_fail(o);
}

inline Topology synthetic(const std::string& desc, std::vector<CpuKindSpec> kinds = {}) {
  TopologyOptions o;
  o.synthetic = desc;
  o.kinds = std::move(kinds);
  return load_or_fail(o);
}

inline CorePlan plan(const Topology& t, const PlanPolicy& p = {}) {
  auto r = plan_cores(t, p);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
  return std::move(r).value();
}

// The invariants every plan keeps but the degraded one: sets inside the
// allowed set, pairwise disjoint (except the documented small-machine sharing
// with reserved), never oversubscribed, each pool at least one thread.
inline void expect_sane(const Topology& t, const CorePlan& p) {
  EXPECT_TRUE(p.reserved.is_subset_of(t.allowed()));
  EXPECT_TRUE(p.compute.cpus.is_subset_of(t.allowed()));
  EXPECT_TRUE(p.render.cpus.is_subset_of(t.allowed()));
  EXPECT_TRUE(p.compute.cpus.disjoint(p.render.cpus));
  EXPECT_TRUE(p.compute.cpus.disjoint(p.reserved));
  if (!p.shared_core) {
    EXPECT_TRUE(p.render.cpus.disjoint(p.reserved));
  }
  EXPECT_LE(p.pool_threads(), t.allowed().size());
  EXPECT_FALSE(p.oversubscribed);
  EXPECT_FALSE(p.degraded);
  EXPECT_EQ(p.compute.threads.size(), p.compute.cpus.size()) << "one thread per CPU";
  EXPECT_EQ(p.render.threads.size(), p.render.cpus.size()) << "one thread per CPU";
  EXPECT_GE(p.compute.threads.size(), 1u);
  EXPECT_GE(p.render.threads.size(), 1u);
}

}  // namespace triptych::sched::testing
