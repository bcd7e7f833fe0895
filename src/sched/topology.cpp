// SPDX-License-Identifier: Apache-2.0
// Topology loading through hwloc (include/triptych/sched/topology.hpp). Loading
// is blocking and single-threaded; the result is immutable. alloc_local may be
// called from any thread (hwloc's membind calls are thread-safe on a loaded
// topology). See docs/scheduler.md.
#include "triptych/sched/topology.hpp"

#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace triptych::sched {
namespace {

// hwloc bitmaps are C objects with manual lifetimes; this keeps them exception-safe.
struct Bitmap {
  hwloc_bitmap_t b = hwloc_bitmap_alloc();
  Bitmap() = default;
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
  ~Bitmap() { hwloc_bitmap_free(b); }
};

CpuSet from_bitmap(hwloc_const_bitmap_t b) {
  std::vector<std::uint32_t> out;
  if (hwloc_bitmap_weight(b) < 0) return CpuSet{};  // infinite sets never happen for cpusets we read
  for (int i = hwloc_bitmap_first(b); i >= 0; i = hwloc_bitmap_next(b, i)) {
    out.push_back(static_cast<std::uint32_t>(i));
  }
  return CpuSet(std::move(out));
}

void to_bitmap(const CpuSet& s, hwloc_bitmap_t b) {
  hwloc_bitmap_zero(b);
  for (std::uint32_t c : s) hwloc_bitmap_set(b, c);
}

std::uint32_t logical_of(hwloc_obj_t o) { return o == nullptr ? 0 : o->logical_index; }

hwloc_obj_t ancestor(hwloc_obj_t o, hwloc_obj_type_t type) {
  for (hwloc_obj_t a = o == nullptr ? nullptr : o->parent; a != nullptr; a = a->parent) {
    if (a->type == type) return a;
  }
  return nullptr;
}

// PCI base class of display controllers (VGA, 3D, other display).
constexpr unsigned kPciClassDisplay = 0x03;

std::string hex4(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", v & 0xFFFFu);
  return buf;
}

// Every PCI display controller with its locality (see Gpu in topology.hpp).
std::vector<Gpu> find_gpus(hwloc_topology_t topo) {
  std::vector<Gpu> out;
  const int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  for (hwloc_obj_t dev = hwloc_get_next_pcidev(topo, nullptr); dev != nullptr;
       dev = hwloc_get_next_pcidev(topo, dev)) {
    const auto& pci = dev->attr->pcidev;
    if ((pci.class_id >> 8) != kPciClassDisplay) continue;
    Gpu g;
    char busid[32];
    std::snprintf(busid, sizeof busid, "%04x:%02x:%02x.%01x", static_cast<unsigned>(pci.domain),
                  static_cast<unsigned>(pci.bus), static_cast<unsigned>(pci.dev), static_cast<unsigned>(pci.func));
    g.pci_bus_id = busid;
    g.name = hex4(pci.vendor_id) + ":" + hex4(pci.device_id);
    for (hwloc_obj_t c = dev->io_first_child; c != nullptr; c = c->next_sibling) {
      if (c->type == HWLOC_OBJ_OS_DEVICE && c->name != nullptr) {
        g.name = c->name;
        break;
      }
    }
    hwloc_obj_t near = hwloc_get_non_io_ancestor_obj(topo, dev);
    if (near != nullptr && near->cpuset != nullptr) g.local_cpus = from_bitmap(near->cpuset);
    for (int n = 0; n < nnuma; ++n) {
      hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(n));
      if (node == nullptr || node->cpuset == nullptr || hwloc_bitmap_iszero(node->cpuset)) continue;
      if (near != nullptr && hwloc_bitmap_isincluded(node->cpuset, near->cpuset)) {
        g.numa_nodes.push_back(node->logical_index);
      }
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

struct Topology::Handle {
  hwloc_topology_t topo = nullptr;
  ~Handle() {
    if (topo != nullptr) hwloc_topology_destroy(topo);
  }
};

Topology::Topology(Topology&&) noexcept = default;
Topology& Topology::operator=(Topology&&) noexcept = default;
Topology::~Topology() = default;

// load() in steps, each filling part of the Topology from hwloc's tree.
struct Topology::Loader {
  // hwloc's tree from the XML file, the synthetic description or this system.
  static Result<void> load_tree(const TopologyOptions& options, Topology& t) {
    t.handle_ = std::make_unique<Handle>();
    if (hwloc_topology_init(&t.handle_->topo) != 0) {
      return make_error(Errc::kSystem, std::string("hwloc_topology_init: ") + std::strerror(errno));
    }
    hwloc_topology_t topo = t.handle_->topo;
    // Keep disallowed PUs in the tree so the plan can show them; we filter ourselves.
    (void)hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    // Keep GPUs (and the bridges above them) for their NUMA locality; hwloc drops I/O objects by default.
    (void)hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (!options.xml_file.empty()) {
      std::ifstream probe(options.xml_file);
      if (!probe) {
        return make_error(Errc::kSystem, "cannot read topology file '" + options.xml_file + "': " +
                                             std::strerror(errno));
      }
      if (hwloc_topology_set_xml(topo, options.xml_file.c_str()) != 0 || hwloc_topology_load(topo) != 0) {
        return make_error(Errc::kSystem, "'" + options.xml_file + "' is not a valid hwloc topology XML file");
      }
      t.source_ = "xml:" + options.xml_file;
    } else if (!options.synthetic.empty()) {
      if (hwloc_topology_set_synthetic(topo, options.synthetic.c_str()) != 0 || hwloc_topology_load(topo) != 0) {
        return make_error(Errc::kInvalidArgument, "bad hwloc synthetic topology '" + options.synthetic + "'");
      }
      t.source_ = "synthetic:" + options.synthetic;
    } else {
      if (hwloc_topology_load(topo) != 0) {
        return make_error(Errc::kSystem, std::string("hwloc could not load this system's topology: ") +
                                             std::strerror(errno));
      }
      const char* env = std::getenv("HWLOC_XMLFILE");
      t.source_ = env != nullptr && *env != '\0' ? std::string("xml:") + env : "this system";
    }
    t.this_system_ = hwloc_topology_is_thissystem(topo) != 0;
    return {};
  }

  // CPU kinds a synthetic topology declares (real machines report their own).
  static Result<void> register_kinds(const TopologyOptions& options, hwloc_topology_t topo) {
    for (const CpuKindSpec& k : options.kinds) {
      if (k.cpus.empty()) return make_error(Errc::kInvalidArgument, "a CPU kind needs at least one CPU");
      Bitmap b;
      to_bitmap(k.cpus, b.b);
      std::string name_key = "CoreType";
      std::string value = k.name;
      hwloc_info_s info{name_key.data(), value.data()};
      if (hwloc_cpukinds_register(topo, b.b, k.efficiency, k.name.empty() ? 0u : 1u, &info, 0) != 0) {
        return make_error(Errc::kInvalidArgument, "hwloc refused CPU kind '" + k.name + "' on CPUs " +
                                                      k.cpus.to_string());
      }
    }
    return {};
  }

  // PUs, their cores, and the groups around them.
  static Result<void> read_cores(hwloc_topology_t topo, Topology& t) {
    const int npu = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    if (npu <= 0) return make_error(Errc::kCorruptHeader, "topology '" + t.source_ + "' has no PUs");
    std::vector<hwloc_obj_t> core_objs;
    const int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < npu; ++i) {
      hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, static_cast<unsigned>(i));
      if (pu == nullptr) return make_error(Errc::kCorruptHeader, "topology '" + t.source_ + "' lost a PU");
      hwloc_obj_t core = ancestor(pu, HWLOC_OBJ_CORE);
      if (core == nullptr) core = pu;  // no core level: each PU is its own core
      auto it = std::find(core_objs.begin(), core_objs.end(), core);
      const auto ci = static_cast<std::uint32_t>(it - core_objs.begin());
      if (it == core_objs.end()) {
        core_objs.push_back(core);
        t.cores_.push_back(core_of_pu(topo, pu, ci, nnuma));
      }
      Core& c = t.cores_[ci];
      Pu p;
      p.os_index = pu->os_index;
      p.core = ci;
      p.smt_rank = static_cast<std::uint32_t>(c.pus.size());
      c.pus.push_back(pu->os_index);
      t.pus_.push_back(p);
    }
    t.packages_ = static_cast<std::uint32_t>(std::max(1, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE)));
    t.numa_nodes_ = static_cast<std::uint32_t>(std::max(1, nnuma));
    t.l3_groups_ = static_cast<std::uint32_t>(std::max(1, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_L3CACHE)));
    return {};
  }

  // A new core's package, L3 group and NUMA node, from its first PU.
  static Core core_of_pu(hwloc_topology_t topo, hwloc_obj_t pu, std::uint32_t index, int nnuma) {
    Core c;
    c.index = index;
    hwloc_obj_t pkg = ancestor(pu, HWLOC_OBJ_PACKAGE);
    hwloc_obj_t l3 = ancestor(pu, HWLOC_OBJ_L3CACHE);
    c.package = logical_of(pkg);
    c.l3 = l3 != nullptr ? l3->logical_index : c.package;
    for (int n = 0; n < nnuma; ++n) {
      hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(n));
      if (node != nullptr && node->cpuset != nullptr && hwloc_bitmap_isset(node->cpuset, pu->os_index)) {
        c.numa = node->logical_index;
        break;
      }
    }
    return c;
  }

  // CPU kinds, least performant first (hwloc's order), and each core's kind.
  static void read_kinds(hwloc_topology_t topo, Topology& t) {
    const int nkinds = hwloc_cpukinds_get_nr(topo, 0);
    for (int k = 0; k < nkinds; ++k) {
      Bitmap b;
      int eff = -1;
      unsigned ninfo = 0;
      hwloc_info_s* infos = nullptr;
      if (hwloc_cpukinds_get_info(topo, static_cast<unsigned>(k), b.b, &eff, &ninfo, &infos, 0) != 0) continue;
      KindInfo ki;
      ki.efficiency = eff;
      ki.cpus = from_bitmap(b.b);
      for (unsigned j = 0; j < ninfo; ++j) {
        if (std::strcmp(infos[j].name, "CoreType") == 0) ki.name = infos[j].value;
      }
      t.kinds_.push_back(std::move(ki));
    }
    if (t.kinds_.empty()) t.kinds_.push_back(KindInfo{-1, "", CpuSet{}});
    if (t.kinds_.size() == 1) t.kinds_[0].cpus = t.all_;
    for (Core& c : t.cores_) {
      for (std::size_t k = 0; k < t.kinds_.size(); ++k) {
        if (t.kinds_[k].cpus.contains(c.pus.front())) c.kind = static_cast<std::uint32_t>(k);
      }
    }
  }

  // Allowed = hwloc's allowed set (cgroup), ∩ our affinity mask, ∩ the option.
  static Result<void> apply_allowed(const TopologyOptions& options, hwloc_topology_t topo, Topology& t) {
    CpuSet allowed = from_bitmap(hwloc_topology_get_allowed_cpuset(topo));
    if (t.this_system_ && options.use_process_affinity && options.xml_file.empty() && options.synthetic.empty()) {
      allowed = allowed.intersect(current_thread_affinity());
    }
    if (options.restrict_allowed) allowed = allowed.intersect(options.allowed);
    allowed = allowed.intersect(t.all_);
    if (allowed.empty()) {
      return make_error(Errc::kInvalidArgument, "no allowed CPU: the allowed cpuset of '" + t.source_ +
                                                    "' is empty after applying the affinity mask and restrictions");
    }
    t.allowed_ = allowed;
    std::sort(t.pus_.begin(), t.pus_.end(), [](const Pu& a, const Pu& b) { return a.os_index < b.os_index; });
    for (Pu& p : t.pus_) p.allowed = allowed.contains(p.os_index);
    for (Core& c : t.cores_) {
      for (std::uint32_t os : c.pus) {
        if (allowed.contains(os)) c.allowed_pus.push_back(os);
      }
    }
    return {};
  }
};

Result<Topology> Topology::load(const TopologyOptions& options) {
  if (!options.xml_file.empty() && !options.synthetic.empty()) {
    return make_error(Errc::kInvalidArgument, "give either a topology XML file or a synthetic description, not both");
  }
  if (!options.kinds.empty() && options.synthetic.empty()) {
    return make_error(Errc::kInvalidArgument, "CPU kinds can only be registered on a synthetic topology");
  }
  Topology t;
  if (auto ok = Loader::load_tree(options, t); !ok) return ok.error();
  hwloc_topology_t topo = t.handle_->topo;
  if (auto ok = Loader::register_kinds(options, topo); !ok) return ok.error();
  if (auto ok = Loader::read_cores(topo, t); !ok) return ok.error();
  std::vector<std::uint32_t> all;
  for (const Pu& p : t.pus_) all.push_back(p.os_index);
  t.all_ = CpuSet(all);
  Loader::read_kinds(topo, t);
  t.gpus_ = find_gpus(topo);
  if (auto ok = Loader::apply_allowed(options, topo, t); !ok) return ok.error();
  return t;
}

const Core* Topology::core_of(std::uint32_t os_index) const noexcept {
  auto it = std::lower_bound(pus_.begin(), pus_.end(), os_index,
                             [](const Pu& p, std::uint32_t v) { return p.os_index < v; });
  if (it == pus_.end() || it->os_index != os_index) return nullptr;
  return &cores_[it->core];
}

std::size_t Topology::allowed_core_count() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(cores_.begin(), cores_.end(), [](const Core& c) { return !c.allowed_pus.empty(); }));
}

void* Topology::alloc_local(std::size_t bytes, std::uint32_t cpu) const noexcept {
  hwloc_topology_t topo = handle_->topo;
  if (this_system_) {
    Bitmap set;
    hwloc_bitmap_only(set.b, cpu);
    void* p = hwloc_alloc_membind(topo, bytes, set.b, HWLOC_MEMBIND_BIND, 0);
    if (p != nullptr) return p;
  }
  return hwloc_alloc(topo, bytes);
}

void Topology::free_local(void* p, std::size_t bytes) const noexcept {
  if (p != nullptr) (void)hwloc_free(handle_->topo, p, bytes);
}

CpuSet current_thread_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return CpuSet{};
  std::vector<std::uint32_t> out;
  constexpr std::size_t kSetSize = CPU_SETSIZE;
  for (std::size_t i = 0; i < kSetSize; ++i) {
    if (CPU_ISSET(i, &set)) out.push_back(static_cast<std::uint32_t>(i));
  }
  return CpuSet(std::move(out));
}

}  // namespace triptych::sched
