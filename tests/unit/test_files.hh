// Small helpers shared by the unit tests: files, and the message of an
// Error.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "error.hh"

namespace mult::test {

// The whole file ("" if missing).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` over `path`, failing the test if it cannot.
inline void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// The message of the mult::Error that `f` throws; "(no error)" if it throws
// none, so that a comparison with the expected message fails readably.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace mult::test
