// dmft sweep run: the points of a manifest, each in its own process (a crash or an out-of-memory
// kill loses one point, not the run), skipping complete ones. Under mpirun the pending points are
// shared among the ranks: rank 0 lists them and broadcasts the list, rank r runs entries r, r+R,
// ...; each point's file depends only on its own options, so the files equal a serial run's.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#ifdef DMFT_HAVE_MPI
#include <mpi.h>
#endif

#include "cli.hpp"
#include "dmft/errors.hpp"
#include "dmft/sweep.hpp"

extern char** environ;
namespace fs = std::filesystem;

namespace dmft::cli {
namespace {

long env_number(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atol(v) : 0;
}

/// Started by an MPI launcher (mpirun, or srun with PMI/PMIx)? They set a rank variable.
bool under_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

long launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"})
    if (env_number(name) > 0) return env_number(name);
  return 0;  // unknown
}

/// One MPI world, or a single process. MPI is initialised only when a launcher started us, so a
/// plain `dmft sweep run` (a Slurm array task) pays nothing for it.
class Ranks {
 public:
  Ranks() {
    if (!under_mpi_launcher() || launcher_size() == 1) return;
#ifdef DMFT_HAVE_MPI
    MPI_Init(nullptr, nullptr);
    mpi_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
    throw InputError("mpirun", launcher_size() ? std::to_string(launcher_size()) + " ranks" : "an MPI launcher",
                     "this dmft was built without MPI (configure with -DDMFT_WITH_MPI=ON and OpenMPI installed); "
                     "every rank would run every point");
#endif
  }
  ~Ranks() {
#ifdef DMFT_HAVE_MPI
    if (mpi_) MPI_Finalize();
#endif
  }
  /// A failure that only this rank met would leave the others waiting in a collective: end them all.
  [[noreturn]] void abort(const std::string& why) const {
    std::cerr << "dmft sweep run: [rank " << rank_ << "] failed: " << why << "\n";
#ifdef DMFT_HAVE_MPI
    if (mpi_) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    std::exit(1);
  }
  int rank() const { return rank_; }
  int size() const { return size_; }
  void broadcast(std::vector<long long>& v) const {
#ifdef DMFT_HAVE_MPI
    if (!mpi_) return;
    long long n = (long long)v.size();
    MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    v.resize(std::size_t(n));
    MPI_Bcast(v.data(), int(n), MPI_LONG_LONG, 0, MPI_COMM_WORLD);
#else
    (void)v;
#endif
  }
  /// Element-wise sums, gathered on every rank.
  std::vector<long long> all_reduce(std::vector<long long> v) const {
#ifdef DMFT_HAVE_MPI
    if (mpi_) MPI_Allreduce(MPI_IN_PLACE, v.data(), int(v.size()), MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
#endif
    return v;
  }

 private:
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
};

int threads_per_point(int requested) {
  if (requested > 0) return requested;
  if (env_number("SLURM_CPUS_PER_TASK") > 0) return int(env_number("SLURM_CPUS_PER_TASK"));
  const long local = std::max(1L, env_number("OMPI_COMM_WORLD_LOCAL_SIZE"));
  return int(std::max(1L, long(std::thread::hardware_concurrency()) / local));
}

std::string tail(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string l; std::getline(in, l);) {
    last.push_back(l);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

enum class Outcome { done, failed, interrupted, elsewhere };

/// An exclusive lock on DIR/locks/<stem>.lock while the point runs, so that two runners over the
/// same manifest (an overlapping resubmission, a launcher we did not recognise) never write the
/// same file. flock is released by the kernel when its holder dies: no stale locks after kill -9.
class PointLock {
 public:
  PointLock(const sweep::Manifest& m, const sweep::Point& p) {
    const fs::path path = fs::path(m.directory) / "locks" / (p.stem() + ".lock");
    fs::create_directories(path.parent_path());
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    held_ = fd_ >= 0 && flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }
  ~PointLock() {
    if (fd_ >= 0) close(fd_);
  }
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

/// Runs one point as a child `dmft solve|train` in the manifest's directory, its output to the log.
Outcome run_point(const sweep::Manifest& m, const sweep::Point& p, const std::string& exe, int threads, std::string& detail) {
  const PointLock lock(m, p);
  if (!lock.held() || sweep::output_state(m, p) == sweep::OutputState::complete) {
    detail = "skipped: another runner has it or finished it";
    return Outcome::elsewhere;
  }
  std::error_code ec;
  fs::remove(sweep::error_record(m, p), ec);  // this attempt supersedes an earlier failure
  fs::create_directories(fs::path(sweep::log_file(m, p)).parent_path());
  fs::create_directories(fs::path(sweep::absolute(m, p.output)).parent_path());
  std::vector<std::string> args = sweep::point_arguments(p);
  args.insert(args.begin(), "dmft");  // argv[0]: the recorded command line starts "dmft solve ..."
  args.push_back("--threads");
  args.push_back(std::to_string(threads));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, m.directory.c_str());
  posix_spawn_file_actions_addopen(&actions, 1, sweep::log_file(m, p).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    detail = std::string("could not start ") + exe + ": " + std::strerror(err);
    return Outcome::failed;
  }
  // Poll, so that a SIGINT/SIGTERM to the runner reaches the child even when only the runner got it.
  int status = 0;
  bool forwarded = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (stop_requested() && !forwarded) {
      kill(pid, SIGTERM);
      forwarded = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const auto state = sweep::output_state(m, p);
  if (state == sweep::OutputState::complete) {
    detail = code == 0 ? "done" : "done (exit " + std::to_string(code) + ": see the file's /convergence)";
    return Outcome::done;
  }
  if (stop_requested() || code == 130) {
    detail = "interrupted";
    return Outcome::interrupted;
  }
  // A failure: an error record beside the outputs; no partial output is left (nor an older
  // interrupted one).
  fs::remove(sweep::absolute(m, p.output) + ".tmp", ec);
  fs::remove(sweep::absolute(m, p.output), ec);
  fs::create_directories(fs::path(sweep::error_record(m, p)).parent_path());
  std::ofstream rec(sweep::error_record(m, p));
  std::string line;
  for (std::size_t i = 0; i < args.size(); ++i) line += (i ? " " : "") + args[i];
  const std::string what = WIFEXITED(status) ? "exit code " + std::to_string(code) : "killed by signal " + std::to_string(WTERMSIG(status));
  rec << "point " << p.index << " failed: " << what << "\n"
      << "command (in " << m.directory << "): " << line << "\n"
      << "log: " << sweep::log_file(m, p) << "\n"
      << "last lines of the log:\n" << tail(sweep::log_file(m, p), 20);
  detail = "FAILED (" + what + "; " + sweep::error_record(m, p) + ")";
  return Outcome::failed;
}

int run_on_ranks(const SweepCommand& cmd, const Ranks& ranks);

}  // namespace

int run_sweep_points(const SweepCommand& cmd) {
  const Ranks ranks;
  try {
    return run_on_ranks(cmd, ranks);
  } catch (const std::exception& e) {
    if (ranks.size() > 1) ranks.abort(e.what());
    throw;
  }
}

namespace {
int run_on_ranks(const SweepCommand& cmd, const Ranks& ranks) {
  const bool speaker = ranks.rank() == 0;
  sweep::Manifest m;
  try {
    m = sweep::read_manifest(cmd.manifest);
  } catch (const InputError& e) {
    return speaker ? report_errors(std::vector<std::string>{e.what()}) : kBadInput;
  }
  const long long n = (long long)m.points.size();
  std::vector<Violation> bad;
  if (cmd.index < 0 || cmd.index >= n)
    bad.push_back({"index", std::to_string(cmd.index), "must be in 0.." + std::to_string(n - 1) + " (the manifest has " + std::to_string(n) + " point(s))"});
  if (cmd.count < -1 || cmd.count == 0) bad.push_back({"count", std::to_string(cmd.count), "must be >= 1, or -1 for all from --index"});
  if (cmd.threads < 0) bad.push_back({"threads", std::to_string(cmd.threads), "must be >= 0"});
  if (!bad.empty()) return speaker ? report_errors(bad) : kBadInput;
  const long long last = cmd.count < 0 || cmd.count >= n - cmd.index ? n : cmd.index + cmd.count;  // the last array task may be short

  // Rank 0 decides what is pending, once, so that every rank sees the same list.
  std::vector<long long> pending;
  if (speaker)
    for (long long i = cmd.index; i < last; ++i)
      if (sweep::output_state(m, m.points[std::size_t(i)]) != sweep::OutputState::complete) pending.push_back(i);
  ranks.broadcast(pending);
  const long long skipped = (last - cmd.index) - (long long)pending.size();
  const int threads = threads_per_point(cmd.threads);
  install_stop_handlers();
  const auto start = std::chrono::steady_clock::now();
  const std::string exe = self_executable();
  std::vector<long long> counts(4 + std::size_t(ranks.size()), 0);  // done, failed, interrupted, elsewhere, per-rank runs
  const std::size_t mine = (pending.size() + std::size_t(ranks.size() - 1 - ranks.rank())) / std::size_t(ranks.size());
  for (std::size_t j = std::size_t(ranks.rank()); j < pending.size(); j += std::size_t(ranks.size())) {
    if (stop_requested()) break;
    const sweep::Point& p = m.points[std::size_t(pending[j])];
    const auto t0 = std::chrono::steady_clock::now();
    std::string detail;
    Outcome o = Outcome::failed;
    try {
      o = run_point(m, p, exe, threads, detail);
    } catch (const std::exception& e) {  // e.g. a directory that cannot be created: this point fails, the others go on
      detail = std::string("FAILED: ") + e.what();
      std::error_code ec;
      fs::create_directories(fs::path(sweep::error_record(m, p)).parent_path(), ec);
      std::ofstream(sweep::error_record(m, p)) << "point " << p.index << " failed: " << e.what() << "\n";  // best effort
    }
    ++counts[std::size_t(o)];
    ++counts[4 + std::size_t(ranks.rank())];
    if (!cmd.quiet || o == Outcome::failed) {
      char sec[32];
      std::snprintf(sec, sizeof sec, "%.2f s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      std::cerr << "dmft sweep: [rank " << ranks.rank() << "/" << ranks.size() << ", " << counts[4 + std::size_t(ranks.rank())]
                << "/" << mine << "] point " << p.index << " (" << sweep::label(m, p) << "): " << detail << " in " << sec << "\n";
    }
  }
  counts = ranks.all_reduce(counts);
  if (speaker) {
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "dmft sweep run: points " << cmd.index << ".." << last - 1 << ": " << skipped << " already complete, "
              << counts[0] << " done, " << counts[1] << " failed, " << counts[2] << " interrupted, " << counts[3]
              << " left to another runner, " << (long long)pending.size() - counts[0] - counts[1] - counts[2] - counts[3]
              << " not started; " << ranks.size() << " rank(s) (points run per rank:";
    for (int r = 0; r < ranks.size(); ++r) std::cout << " " << counts[4 + std::size_t(r)];
    std::cout << "), " << threads << " thread(s) per point, " << sec << " s\n";
  }
  if (counts[2] > 0 || stop_requested()) return 130;
  return counts[1] > 0 ? 1 : 0;
}
}  // namespace

}  // namespace dmft::cli
