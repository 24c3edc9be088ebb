#pragma once
// Running the dmft binary from a test: exit code and merged stdout/stderr; scratch paths; bytes.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace dmft::test {

struct Run {
  int code;
  std::string out;
};

/// Runs a shell command line; stdout and stderr merged.
inline Run shell(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline Run run(const std::string& args, const std::string& env = "") {
  return shell(env + " " + DMFT_BINARY + " " + args);
}

inline std::string tmp(const std::string& name) { return std::string(DMFT_TEST_TMP) + "/" + name; }

/// Runs `args` and expects bad input: exit code 2 and "dmft: error: " with `expected` in it.
inline void check_bad(const std::string& args, const std::string& expected) {
  CAPTURE(args);
  const Run r = run(args);
  CAPTURE(r.out);
  CHECK(r.code == 2);
  CHECK(r.out.find("dmft: error: ") == 0);
  CHECK(r.out.find(expected) != std::string::npos);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace dmft::test
