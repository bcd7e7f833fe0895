// SPDX-License-Identifier: Apache-2.0
// Reads a whole file as text, for tests that check what an engine wrote
// (stats.json, trace.json). Blocking; any thread. "" if it cannot be read.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace triptych::test {

inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace triptych::test
