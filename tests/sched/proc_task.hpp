// SPDX-License-Identifier: Apache-2.0
// Test helper for the sched tests: reads one thread's state back from
// /proc/self/task/<tid>/, so pinning and names are checked against what the
// kernel reports rather than what we asked for. Single-threaded, blocking
// file reads. See docs/scheduler.md ("Pinning").
#pragma once

#include <fstream>
#include <string>

namespace triptych::sched {

// The value of `key:` in /proc/self/task/<tid>/<file> (leading blanks
// trimmed), or the file's first line when `key` is empty; "" if absent.
inline std::string proc_field(int tid, const std::string& file, const std::string& key) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/" + file);
  std::string line;
  while (std::getline(f, line)) {
    if (key.empty()) return line;
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return {};
}

}  // namespace triptych::sched
