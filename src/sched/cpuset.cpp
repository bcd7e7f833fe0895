// SPDX-License-Identifier: Apache-2.0
// CpuSet parsing, formatting and set algebra (include/triptych/sched/cpuset.hpp).
// Single-threaded value code. See docs/scheduler.md.
#include "triptych/sched/cpuset.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

namespace triptych::sched {
namespace {

// Largest CPU number we accept; hwloc and Linux stay far below (CONFIG_NR_CPUS
// tops out at 8192), and the bound keeps a typo from allocating gigabytes.
constexpr std::uint32_t kMaxCpu = 1u << 16;

bool parse_number(std::string_view s, std::uint32_t& out) {
  if (s.empty()) return false;
  const char* first = s.data();
  const char* last = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && ptr == last && out <= kMaxCpu;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

CpuSet::CpuSet(std::initializer_list<std::uint32_t> cpus) : CpuSet(std::vector<std::uint32_t>(cpus)) {}

CpuSet::CpuSet(std::vector<std::uint32_t> cpus) : cpus_(std::move(cpus)) {
  std::sort(cpus_.begin(), cpus_.end());
  cpus_.erase(std::unique(cpus_.begin(), cpus_.end()), cpus_.end());
}

Result<CpuSet> CpuSet::parse(std::string_view text) {
  std::vector<std::uint32_t> out;
  text = trim(text);
  if (text.empty()) return CpuSet{};
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t dash = item.find('-');
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    const bool ok = dash == std::string_view::npos
                        ? parse_number(item, lo) && parse_number(item, hi)
                        : parse_number(trim(item.substr(0, dash)), lo) &&
                              parse_number(trim(item.substr(dash + 1)), hi);
    if (!ok || lo > hi) {
      return make_error(Errc::kInvalidArgument,
                        "bad CPU list item '" + std::string(item) +
                            "': expected N or N-M with 0 <= N <= M <= " + std::to_string(kMaxCpu));
    }
    for (std::uint32_t c = lo; c <= hi; ++c) out.push_back(c);
  }
  return CpuSet(std::move(out));
}

std::string CpuSet::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < cpus_.size();) {
    std::size_t j = i;
    while (j + 1 < cpus_.size() && cpus_[j + 1] == cpus_[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(cpus_[i]);
    if (j > i) s += '-' + std::to_string(cpus_[j]);
    i = j + 1;
  }
  return s;
}

void CpuSet::insert(std::uint32_t cpu) {
  auto it = std::lower_bound(cpus_.begin(), cpus_.end(), cpu);
  if (it == cpus_.end() || *it != cpu) cpus_.insert(it, cpu);
}

bool CpuSet::contains(std::uint32_t cpu) const noexcept {
  return std::binary_search(cpus_.begin(), cpus_.end(), cpu);
}

CpuSet CpuSet::intersect(const CpuSet& other) const {
  std::vector<std::uint32_t> out;
  std::set_intersection(cpus_.begin(), cpus_.end(), other.cpus_.begin(), other.cpus_.end(),
                        std::back_inserter(out));
  return CpuSet(std::move(out));
}

CpuSet CpuSet::unite(const CpuSet& other) const {
  std::vector<std::uint32_t> out;
  std::set_union(cpus_.begin(), cpus_.end(), other.cpus_.begin(), other.cpus_.end(),
                 std::back_inserter(out));
  return CpuSet(std::move(out));
}

CpuSet CpuSet::minus(const CpuSet& other) const {
  std::vector<std::uint32_t> out;
  std::set_difference(cpus_.begin(), cpus_.end(), other.cpus_.begin(), other.cpus_.end(),
                      std::back_inserter(out));
  return CpuSet(std::move(out));
}

bool CpuSet::is_subset_of(const CpuSet& other) const {
  return std::includes(other.cpus_.begin(), other.cpus_.end(), cpus_.begin(), cpus_.end());
}

bool CpuSet::disjoint(const CpuSet& other) const { return intersect(other).empty(); }

}  // namespace triptych::sched
