// SPDX-License-Identifier: Apache-2.0
// The machine as the scheduler sees it: packages, NUMA nodes, L3 groups, cores
// and PUs (hardware threads), each PU tagged with its CPU kind (P/E cores on
// hybrid CPUs) and whether this process may run on it (cgroup cpuset ∩ sched
// affinity mask), and the GPUs with the NUMA nodes nearest them. Loaded with
// hwloc from this system, from an hwloc XML file (--topology FILE or
// HWLOC_XMLFILE) or from an hwloc synthetic description.
// Loading is blocking and single-threaded; a loaded Topology is immutable and
// may be read from any thread. Design: docs/scheduler.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/sched/cpuset.hpp"

namespace triptych::sched {

// A CPU kind to register on a synthetic topology (hwloc_cpukinds_register),
// for testing hybrid plans. Higher efficiency = faster core (hwloc's meaning).
struct CpuKindSpec {
  CpuSet cpus;
  int efficiency = 0;
  std::string name;  // e.g. "IntelCore" or "IntelAtom" (hwloc's CoreType info)
};

struct TopologyOptions {
  std::string xml_file;    // load this hwloc XML file instead of the system
  std::string synthetic;   // or this hwloc synthetic description ("pack:2 core:8 pu:2")
  // Further restrict the allowed CPUs, as a cgroup would (intersected).
  bool restrict_allowed = false;
  CpuSet allowed;
  std::vector<CpuKindSpec> kinds;  // synthetic topologies only
  // For the real system only: also intersect with sched_getaffinity(), so a
  // process started under taskset never plans onto CPUs it may not use.
  bool use_process_affinity = true;
};

struct Pu {
  std::uint32_t os_index = 0;  // the number Linux uses (pthread_setaffinity_np)
  std::uint32_t core = 0;      // index into Topology::cores()
  std::uint32_t smt_rank = 0;  // 0 for the first PU of its core, 1 for its sibling...
  bool allowed = false;
};

struct Core {
  std::uint32_t index = 0;     // position in Topology::cores()
  std::uint32_t package = 0;   // logical index of its package
  std::uint32_t numa = 0;      // logical index of its NUMA node
  std::uint32_t l3 = 0;        // logical index of its L3 group (= package when none)
  std::uint32_t kind = 0;      // 0 = least performant kind (hwloc order)
  std::vector<std::uint32_t> pus;          // OS indices of all its PUs
  std::vector<std::uint32_t> allowed_pus;  // the subset we may use, same order
};

// A GPU: a PCI display controller (class 0x03xx) and its locality, the CPUs
// of its nearest non-I/O ancestor in hwloc's tree (a package, a NUMA node's
// parent or the whole machine). With an XML topology these come from the XML.
struct Gpu {
  std::string pci_bus_id;                 // "0000:81:00.0"
  std::string name;                       // its OS device ("card1"), else "vendor:device" in hex
  CpuSet local_cpus;                      // the CPUs nearest it
  std::vector<std::uint32_t> numa_nodes;  // logical indices of the nodes whose CPUs all lie in local_cpus
};

struct KindInfo {
  int efficiency = -1;  // hwloc's ranking value; higher = faster
  std::string name;     // CoreType info when known
  CpuSet cpus;
};

class Topology {
 public:
  // Loads per `options`; when neither xml_file nor synthetic is set this is the
  // running system (hwloc honours HWLOC_XMLFILE there). Errors: kSystem for an
  // unreadable or corrupt file, kInvalidArgument for a bad synthetic string or
  // kind spec, kInvalidArgument when no allowed CPU remains.
  [[nodiscard]] static Result<Topology> load(const TopologyOptions& options = {});

  Topology(Topology&&) noexcept;
  Topology& operator=(Topology&&) noexcept;
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;
  ~Topology();

  [[nodiscard]] const std::vector<Core>& cores() const noexcept { return cores_; }
  [[nodiscard]] const std::vector<Pu>& pus() const noexcept { return pus_; }
  [[nodiscard]] const std::vector<KindInfo>& kinds() const noexcept { return kinds_; }
  // GPUs in PCI order; empty when hwloc found none (synthetic topologies, an
  // XML file without I/O objects, or no PCI access).
  [[nodiscard]] const std::vector<Gpu>& gpus() const noexcept { return gpus_; }
  [[nodiscard]] const CpuSet& allowed() const noexcept { return allowed_; }
  [[nodiscard]] const CpuSet& all_cpus() const noexcept { return all_; }
  [[nodiscard]] std::uint32_t packages() const noexcept { return packages_; }
  [[nodiscard]] std::uint32_t numa_nodes() const noexcept { return numa_nodes_; }
  [[nodiscard]] std::uint32_t l3_groups() const noexcept { return l3_groups_; }
  [[nodiscard]] bool is_this_system() const noexcept { return this_system_; }
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  // The core holding PU `os_index`, or nullptr when there is none.
  [[nodiscard]] const Core* core_of(std::uint32_t os_index) const noexcept;
  // Number of allowed cores (cores with at least one allowed PU).
  [[nodiscard]] std::size_t allowed_core_count() const noexcept;

  // Memory bound to the NUMA node of `cpu` (hwloc_alloc_membind). Falls back
  // to plain page allocation when this is not the running system or binding
  // fails; free with free_local. Thread-safe. Returns nullptr when out of memory.
  [[nodiscard]] void* alloc_local(std::size_t bytes, std::uint32_t cpu) const noexcept;
  void free_local(void* p, std::size_t bytes) const noexcept;

 private:
  Topology() = default;
  struct Handle;
  struct Loader;  // load()'s steps (topology.cpp)
  std::unique_ptr<Handle> handle_;
  std::vector<Core> cores_;
  std::vector<Pu> pus_;  // sorted by os_index
  std::vector<KindInfo> kinds_;
  std::vector<Gpu> gpus_;
  CpuSet allowed_;
  CpuSet all_;
  std::uint32_t packages_ = 0;
  std::uint32_t numa_nodes_ = 0;
  std::uint32_t l3_groups_ = 0;
  bool this_system_ = false;
  std::string source_;
};

// The allowed CPUs of the calling thread (sched_getaffinity).
[[nodiscard]] CpuSet current_thread_affinity();

}  // namespace triptych::sched
