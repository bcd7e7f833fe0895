// SPDX-License-Identifier: Apache-2.0
// The core plan for the machine a test runs on (hwloc topology, default
// policy), for engine tests that need a real plan. Any thread.
#pragma once

#include <gtest/gtest.h>

#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/topology.hpp"

namespace triptych::test {

inline sched::CorePlan this_machine_plan() {
  auto topo = sched::Topology::load();
  EXPECT_TRUE(topo.ok());
  auto plan = sched::plan_cores(topo.value());
  EXPECT_TRUE(plan.ok());
  return plan.value();
}

}  // namespace triptych::test
