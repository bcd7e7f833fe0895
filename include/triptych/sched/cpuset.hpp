// SPDX-License-Identifier: Apache-2.0
// CpuSet: a sorted set of OS CPU (PU) numbers, with the Linux list syntax
// ("0-3,8,10-11") used by /proc, taskset and our env vars and CLI flags. A
// plain single-threaded value type; parsing returns a Result with a readable
// error. Used by the topology model and the core plan (docs/scheduler.md).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "triptych/core/result.hpp"

namespace triptych::sched {

class CpuSet {
 public:
  CpuSet() = default;
  CpuSet(std::initializer_list<std::uint32_t> cpus);
  explicit CpuSet(std::vector<std::uint32_t> cpus);

  // Parses "0-3,8". Empty text gives an empty set. Rejects anything else
  // (negative numbers, reversed ranges, junk) with Errc::kInvalidArgument.
  [[nodiscard]] static Result<CpuSet> parse(std::string_view text);

  // "0-3,8" ("" when empty).
  [[nodiscard]] std::string to_string() const;

  void insert(std::uint32_t cpu);
  [[nodiscard]] bool contains(std::uint32_t cpu) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return cpus_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return cpus_.size(); }
  [[nodiscard]] const std::vector<std::uint32_t>& cpus() const noexcept { return cpus_; }
  [[nodiscard]] std::uint32_t operator[](std::size_t i) const noexcept { return cpus_[i]; }
  [[nodiscard]] auto begin() const noexcept { return cpus_.begin(); }
  [[nodiscard]] auto end() const noexcept { return cpus_.end(); }

  [[nodiscard]] CpuSet intersect(const CpuSet& other) const;
  [[nodiscard]] CpuSet unite(const CpuSet& other) const;
  [[nodiscard]] CpuSet minus(const CpuSet& other) const;
  [[nodiscard]] bool is_subset_of(const CpuSet& other) const;
  [[nodiscard]] bool disjoint(const CpuSet& other) const;

  friend bool operator==(const CpuSet&, const CpuSet&) = default;

 private:
  std::vector<std::uint32_t> cpus_;  // sorted, unique
};

}  // namespace triptych::sched
