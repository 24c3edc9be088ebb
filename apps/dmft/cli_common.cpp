#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <filesystem>

#include "cli.hpp"
#include "dmft/memory_estimate.hpp"

namespace dmft::cli {
namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }
}  // namespace

std::string human_bytes(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int k = 0;
  while (b >= 1024 && k < 4) {
    b /= 1024;
    ++k;
  }
  char s[32];
  std::snprintf(s, sizeof s, "%.3g %s", b, unit[k]);
  return s;
}

std::string self_executable() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "dmft" : p.string();
}

void install_stop_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

const std::atomic<bool>& stop_requested() { return g_stop; }

double memory_limit_bytes(double max_memory_gb) {
  return max_memory_gb > 0 ? max_memory_gb * 1024.0 * 1024.0 * 1024.0 : available_memory_bytes();
}

std::vector<Violation> check_writable(const std::string& option, const std::string& path) {
  const std::string probe = path + ".tmp";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) return {{option, path, std::string("cannot be written (") + std::strerror(errno) + ")"}};
  std::fclose(f);
  std::remove(probe.c_str());
  return {};
}

bool keep_finished_widths(const std::vector<WidthRuns>& results, bool interrupted, std::string& widths) {
  if (results.empty()) {
    std::cerr << "dmft train: interrupted before any width finished; nothing written\n";
    return false;
  }
  if (interrupted) {  // keep what is done: the finished widths
    std::string done;
    for (const auto& w : results) done += (done.empty() ? "" : ",") + std::to_string(w.width);
    std::cerr << "dmft train: interrupted; writing the finished widths " << done << "\n";
    widths = done;
  }
  return true;
}

}  // namespace dmft::cli
