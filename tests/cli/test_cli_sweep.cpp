// dmft sweep as a researcher runs it: expand, run serially and under mpirun (identical files),
// kill and re-run (only the missing points run), a failing point (an error record, the others
// finish), the Slurm array script (its range, throttle and body), status and collect.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "cli/cli_run.hpp"
#include "dmft/comparison.hpp"
#include "dmft/finite_width_file.hpp"
#include "dmft/h5_util.hpp"
#include "dmft/sweep.hpp"

namespace fs = std::filesystem;
using dmft::test::read_file;
using dmft::test::run;
using dmft::test::Run;
using dmft::test::shell;
using dmft::test::tmp;

namespace {

/// A fresh directory with base.toml and sweep.toml; returns its path.
std::string sweep_dir(const std::string& name, const std::string& base, const std::string& axes) {
  const std::string dir = tmp(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/base.toml") << base;
  std::ofstream(dir + "/sweep.toml") << axes;
  return dir;
}

std::string expand_into(const std::string& dir, const std::string& out) {
  const Run r = run("sweep expand --config " + dir + "/base.toml --sweep " + dir + "/sweep.toml --out " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  return out + "/manifest";
}

// 6 solve and 6 train points of a small two-layer problem: γ0 × η × command.
const std::string kBase =
    "model = two_layer\ndataset = ds1\nT = 10\n[solve]\nmc-samples = 256\n[train]\nwidths = \"64,256\"\nseeds = 2\n";
const std::string kAxes = "[product]\ncommand = [\"solve\", \"train\"]\ngamma0 = {log = [0.25, 4.0], points = 3}\neta = [0.1, 0.5]\n";
const std::string kMpiEnv = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1";

long long count_complete(const dmft::sweep::Manifest& m) {
  long long n = 0;
  for (const auto& p : m.points) n += dmft::sweep::output_state(m, p) == dmft::sweep::OutputState::complete;
  return n;
}

}  // namespace

TEST_CASE("sweep: 12 points run serially and with mpirun -n 2 give identical files point by point, and collect gathers them") {
  const std::string dir = sweep_dir("sweep_mpi", kBase, kAxes);
  const std::string serial = expand_into(dir, dir + "/serial"), ranks = expand_into(dir, dir + "/ranks");
  const Run a = run("sweep run --manifest " + serial + " --threads 1 --quiet");
  CAPTURE(a.out);
  REQUIRE(a.code == 0);
  CHECK(a.out.find("points 0..11: 0 already complete, 12 done, 0 failed") != std::string::npos);
#ifndef DMFT_HAVE_MPI
  WARN_MESSAGE(false, "built with -DDMFT_WITH_MPI=OFF: the mpirun half of this test is not run");
  return;
#endif
  const Run b = shell(kMpiEnv + " mpirun -n 2 --oversubscribe " + DMFT_BINARY + " sweep run --manifest " + ranks + " --threads 1 --quiet");
  CAPTURE(b.out);
  REQUIRE(b.code == 0);
  CHECK(b.out.find("12 done, 0 failed, 0 interrupted, 0 left to another runner, 0 not started; 2 rank(s) (points run per rank: 6 6)") != std::string::npos);

  const auto ms = dmft::sweep::read_manifest(serial), mr = dmft::sweep::read_manifest(ranks);
  REQUIRE(ms.points.size() == 12);
  for (std::size_t i = 0; i < 12; ++i) {
    CAPTURE(i);
    const std::string x = read_file(dmft::sweep::absolute(ms, ms.points[i].output));
    CHECK(x.size() > 1000);
    CHECK(x == read_file(dmft::sweep::absolute(mr, mr.points[i].output)));  // byte for byte
  }
  // A second run has nothing to do.
  const Run again = run("sweep run --manifest " + serial + " --quiet");
  CHECK(again.out.find("12 already complete, 0 done") != std::string::npos);
  CHECK(run("sweep status --manifest " + serial).out.find("12 point(s): 12 complete, 0 failed, 0 interrupted") != std::string::npos);

  // collect: one row per solve and per (train point, width); its comparison columns are dmft compare's.
  const Run c = run("sweep collect --manifest " + serial);
  CAPTURE(c.out);
  REQUIRE(c.code == 0);
  CHECK(c.out.find("12 of 12 point(s) complete, 18 row(s)") != std::string::npos);
  H5::H5File f(dir + "/serial/sweep.h5", H5F_ACC_RDONLY);
  CHECK(dmft::h5::read_int_attr(f.openGroup("/"), "complete") == 1);
  CHECK(dmft::h5::read_string_attr(f.openGroup("/"), "format") == "dmft-sweep");
  std::vector<hsize_t> shape;
  const auto index = dmft::h5::read_int_array(f, "/table/index"), width = dmft::h5::read_int_array(f, "/table/width");
  const auto loss = dmft::h5::read_array(f, "/table/loss_final", shape);
  const auto gamma0 = dmft::h5::read_array(f, "/table/gamma0", shape);
  const auto phi_err = dmft::h5::read_array(f, "/table/vs_dmft_Phi_rel_error", shape);
  const auto twin = dmft::h5::read_int_array(f, "/table/dmft_index");
  REQUIRE(index.size() == 18);
  for (std::size_t r = 0; r < 18; ++r) {
    CAPTURE(r);
    const auto& p = ms.points[std::size_t(index[r])];
    if (p.command == "solve") {
      const auto sol = dmft::read_solution(dmft::sweep::absolute(ms, p.output));
      CHECK(width[r] == 0);
      CHECK(loss[r] == sol.kernels.loss[sol.T - 1]);
      CHECK(twin[r] == -1);
    } else {
      // The solve twin is the point with the same γ0 and η: index − 6.
      REQUIRE(twin[r] == index[r] - 6);
      const auto sol = dmft::read_solution(dmft::sweep::absolute(ms, ms.points[std::size_t(twin[r])].output));
      const auto fin = dmft::read_finite_width(dmft::sweep::absolute(ms, p.output));
      const auto cmp = dmft::compare(sol, fin);
      bool found = false;
      for (const auto& row : cmp.rows)
        if (row.width == width[r] && row.seed == -1 && row.layer == 0 && row.quantity == "Phi" && row.metric == "rel_frobenius") {
          CHECK(phi_err[r] == row.value);
          found = true;
        }
      CHECK(found);
    }
    CHECK(gamma0[r] == doctest::Approx(std::vector<double>{0.25, 1, 4}[std::size_t(index[r] % 6) / 2]).epsilon(1e-12));
  }
  CHECK(fs::file_size(dir + "/serial/sweep.csv") > 1000);
  CHECK(read_file(dir + "/serial/sweep.csv").rfind("index,command,hash,problem_hash,output,width,status,", 0) == 0);

  // The README's heatmap script runs on the table (Debian's python3-h5py, python3-matplotlib).
  const std::string png = dir + "/heatmap.png";
  const Run plot = shell(std::string(DMFT_SOURCE_DIR) + "/scripts/plot/plot_sweep.py " + dir + "/serial/sweep.h5 -o " + png);
  CAPTURE(plot.out);
  CHECK(plot.code == 0);
  CHECK(fs::exists(png));
}

TEST_CASE("sweep: a run killed midway and run again finishes only the missing points, and collect skips and reports them") {
  const std::string dir = sweep_dir("sweep_kill", "model = two_layer\ndataset = ds1\nT = 40\nmc-samples = 4000\n",
                                    "[product]\ngamma0 = {linear = [0.5, 2], points = 4}\neta = [0.1, 0.2, 0.4]\n");
  const std::string manifest = expand_into(dir, dir + "/out");
  const auto m = dmft::sweep::read_manifest(manifest);
  // setsid: the runner leads its own process group, so kill -9 takes the point it is running too.
  const Run killed = shell("setsid " + std::string(DMFT_BINARY) + " sweep run --manifest " + manifest +
                           " --threads 1 > " + dir + "/run1.log 2>&1 & pid=$!; "
                           "for i in $(seq 6000); do [ $(ls " + dir + "/out/points/*.h5 2>/dev/null | wc -l) -ge 3 ] && break; sleep 0.01; done; "
                           "/bin/kill -s KILL -- -$pid; wait $pid; echo killed");
  CAPTURE(killed.out);
  REQUIRE(killed.out.find("killed") != std::string::npos);
  const long long before = count_complete(m);
  CAPTURE(before);
  REQUIRE(before >= 3);
  REQUIRE(before < 12);  // the kill came midway
  std::map<std::string, long long> stamps;  // the complete files must not be touched again
  for (const auto& p : m.points) {
    struct stat st{};
    if (dmft::sweep::output_state(m, p) == dmft::sweep::OutputState::complete && stat(dmft::sweep::absolute(m, p.output).c_str(), &st) == 0)
      stamps[p.output] = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  }

  // The last point gets a truncated file at its output path: incomplete, skipped, and re-run.
  const auto& last = m.points.back();
  REQUIRE(dmft::sweep::output_state(m, last) == dmft::sweep::OutputState::missing);
  std::ofstream(dmft::sweep::absolute(m, last.output)) << read_file(dmft::sweep::absolute(m, m.points[0].output)).substr(0, 4096);
  CHECK(dmft::sweep::output_state(m, last) == dmft::sweep::OutputState::incomplete);

  const Run partial = run("sweep collect --manifest " + manifest);
  CAPTURE(partial.out);
  CHECK(partial.code == 0);
  CHECK(partial.out.find(std::to_string(before) + " of 12 point(s) complete") != std::string::npos);
  CHECK(partial.out.find("skipped " + std::to_string(12 - before) + " point(s) whose output is not complete:") != std::string::npos);
  CHECK(partial.out.find("(missing)") != std::string::npos);
  CHECK(partial.out.find(" 11 (incomplete)") != std::string::npos);
  H5::H5File f(dir + "/out/sweep.h5", H5F_ACC_RDONLY);
  CHECK((long long)dmft::h5::read_int_array(f, "/skipped/index").size() == 12 - before);
  CHECK(run("sweep status --manifest " + manifest).out.find("12 point(s): " + std::to_string(before) + " complete") != std::string::npos);

  const Run rerun = run("sweep run --manifest " + manifest + " --threads 1 --quiet");
  CAPTURE(rerun.out);
  CHECK(rerun.code == 0);
  CHECK(rerun.out.find(std::to_string(before) + " already complete, " + std::to_string(12 - before) + " done, 0 failed") != std::string::npos);
  CHECK(count_complete(m) == 12);
  for (const auto& [output, stamp] : stamps) {
    struct stat st{};
    REQUIRE(stat(dmft::sweep::absolute(m, output).c_str(), &st) == 0);
    CHECK(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == stamp);
  }
  CHECK(run("sweep collect --manifest " + manifest).out.find("12 of 12 point(s) complete, 12 row(s)") != std::string::npos);
}

TEST_CASE("sweep: a point that fails leaves an error record and no file, and the other points finish") {
  const std::string dir = sweep_dir("sweep_fail", "model = two_layer\nT = 5\nmc-samples = 128\n", "");
  std::ofstream(dir + "/broken.h5") << "not an HDF5 file\n";
  std::ofstream(dir + "/sweep.toml") << "[product]\ndata = [\"\", \"" << dir << "/broken.h5\"]\ngamma0 = [1, 2]\n";
  const std::string manifest = expand_into(dir, dir + "/out");
  const Run r = run("sweep run --manifest " + manifest + " --threads 1");
  CAPTURE(r.out);
  CHECK(r.code == 1);
  CHECK(r.out.find("2 done, 2 failed") != std::string::npos);
  const auto m = dmft::sweep::read_manifest(manifest);
  for (const auto& p : m.points) {
    CAPTURE(p.index);
    const bool broken = p.index >= 2;
    CHECK((dmft::sweep::output_state(m, p) == dmft::sweep::OutputState::complete) == !broken);
    CHECK(fs::exists(dmft::sweep::error_record(m, p)) == broken);
    if (broken) {
      CHECK(!fs::exists(dmft::sweep::absolute(m, p.output)));
      const std::string record = read_file(dmft::sweep::error_record(m, p));
      CHECK(record.find("point " + std::to_string(p.index) + " failed: exit code 2") == 0);
      CHECK(record.find("broken.h5") != std::string::npos);  // the run's own error message names the file
    }
  }
  const Run st = run("sweep status --manifest " + manifest);
  CHECK(st.out.find("4 point(s): 2 complete, 2 failed") != std::string::npos);
  CHECK(st.out.find("\n  point 2 failed: exit code 2 (") != std::string::npos);
  CHECK(run("sweep collect --manifest " + manifest).out.find(" 2 (failed) 3 (failed)") != std::string::npos);
}

TEST_CASE("sweep slurm: the array range and throttle, and the body run with a faked SLURM_ARRAY_TASK_ID") {
  const std::string dir = sweep_dir("sweep_slurm", "model = two_layer\ndataset = ds1\nT = 5\nmc-samples = 128\n",
                                    "[product]\ngamma0 = {log = [0.5, 4], points = 4}\neta = [0.1, 0.2, 0.4]\n");
  const std::string manifest = expand_into(dir, dir + "/out");
  const auto m = dmft::sweep::read_manifest(manifest);
  const Run one = run("sweep slurm --manifest " + manifest + " --throttle 4 --script " + dir + "/one.sh");
  REQUIRE(one.code == 0);
  const std::string script = read_file(dir + "/one.sh");
  CAPTURE(script);
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
  CHECK(script.find("\n#SBATCH --array=0-11%4\n") != std::string::npos);
  CHECK(script.find("\n#SBATCH --cpus-per-task=4\n") != std::string::npos);
  CHECK(script.find("##SBATCH --partition=PARTITION") != std::string::npos);  // a placeholder, nothing site-specific
  CHECK(script.find("--index $(( task * 1 )) --count 1") != std::string::npos);
  CHECK(fs::is_directory(dir + "/out/logs"));  // Slurm does not create the --output directory itself

  const Run task5 = shell("SLURM_ARRAY_TASK_ID=5 SLURM_CPUS_PER_TASK=1 bash " + dir + "/one.sh");
  CAPTURE(task5.out);
  CHECK(task5.code == 0);
  for (const auto& p : m.points) CHECK((dmft::sweep::output_state(m, p) == dmft::sweep::OutputState::complete) == (p.index == 5));
  CHECK(task5.out.find("1 thread(s) per point") != std::string::npos);  // --threads from SLURM_CPUS_PER_TASK

  const Run five = run("sweep slurm --manifest " + manifest + " --points-per-task 5 --throttle 2 --time 00:10:00");
  CAPTURE(five.out);
  CHECK(five.out.find("\n#SBATCH --array=0-2%2\n") != std::string::npos);
  CHECK(five.out.find("\n#SBATCH --time=00:10:00\n") != std::string::npos);
  std::ofstream(dir + "/five.sh") << five.out;
  const Run last_task = shell("SLURM_ARRAY_TASK_ID=2 SLURM_CPUS_PER_TASK=1 bash " + dir + "/five.sh");
  CAPTURE(last_task.out);
  CHECK(last_task.code == 0);
  CHECK(last_task.out.find("points 10..11: 0 already complete, 2 done") != std::string::npos);  // the short last task
  for (const auto& p : m.points)
    CHECK((dmft::sweep::output_state(m, p) == dmft::sweep::OutputState::complete) == (p.index == 5 || p.index >= 10));
  const Run unset = shell("bash " + dir + "/five.sh");
  CHECK(unset.code != 0);
  CHECK(unset.out.find("this script runs as a Slurm array task") != std::string::npos);
}

TEST_CASE("sweep: bad input gives one line naming the option, the value and the rule") {
  const std::string dir = sweep_dir("sweep_bad", "model = two_layer\nT = 5\n", "[product]\ngamma0 = {log = [-1, 4], points = 3}\n");
  const Run log = run("sweep expand --config " + dir + "/base.toml --sweep " + dir + "/sweep.toml --out " + dir + "/out");
  CAPTURE(log.out);
  CHECK(log.code == 2);
  CHECK(log.out.find("dmft: error: --sweep = " + dir + "/sweep.toml line 2: axis 'gamma0': log = [-1, 4]: a log grid needs bounds > 0") == 0);
  CHECK(!fs::exists(dir + "/out/manifest"));
  std::ofstream(dir + "/sweep.toml") << "[product]\ngamma0 = [1, 2]\n";
  const std::string manifest = expand_into(dir, dir + "/out");
  CHECK(run("sweep run --manifest " + manifest + " --index 7").out.find("--index = 7: must be in 0..1 (the manifest has 2 point(s))") != std::string::npos);
  CHECK(run("sweep run --manifest " + dir + "/nothing").out.find("--manifest = " + dir + "/nothing: cannot be read") != std::string::npos);
  CHECK(run("sweep slurm --manifest " + manifest + " --throttle 0").out.find("--throttle = 0: must be >= 1") != std::string::npos);
  // Expanding a different sweep into the same directory is refused (its outputs would mix).
  std::ofstream(dir + "/sweep.toml") << "[product]\ngamma0 = [1, 3]\n";
  const Run other = run("sweep expand --config " + dir + "/base.toml --sweep " + dir + "/sweep.toml --out " + dir + "/out");
  CHECK(other.code == 2);
  CHECK(other.out.find("already holds a manifest of a different sweep") != std::string::npos);
}

TEST_CASE("sweep: SIGTERM stops the running point cleanly (interrupted, not failed), and a re-run completes it") {
  const std::string dir = sweep_dir("sweep_term", "model = two_layer\ndataset = ds1\nT = 40\nmc-samples = 4000\n",
                                    "[product]\ngamma0 = [0.5, 1, 2]\neta = [0.1, 0.2]\n");
  const std::string manifest = expand_into(dir, dir + "/out");
  const auto m = dmft::sweep::read_manifest(manifest);
  // SIGTERM (what Slurm sends at the time limit) to the runner alone, once the first point is done.
  const Run term = shell(std::string(DMFT_BINARY) + " sweep run --manifest " + manifest + " --threads 1 --quiet & pid=$!; "
                         "for i in $(seq 6000); do [ $(ls " + dir + "/out/points/*.h5 2>/dev/null | wc -l) -ge 1 ] && break; sleep 0.01; done; "
                         "sleep 0.1; kill -TERM $pid; wait $pid; echo \"exit $?\"");
  CAPTURE(term.out);
  CHECK(term.out.find("exit 130") != std::string::npos);
  CHECK(term.out.find("1 interrupted") != std::string::npos);
  const long long before = count_complete(m);
  CHECK(before >= 1);
  CHECK(before < 6);
  for (const auto& p : m.points) CHECK(!fs::exists(dmft::sweep::error_record(m, p)));  // not a failure
  const Run rerun = run("sweep run --manifest " + manifest + " --threads 1 --quiet");
  CAPTURE(rerun.out);
  CHECK(rerun.code == 0);
  CHECK(rerun.out.find(std::to_string(before) + " already complete, " + std::to_string(6 - before) + " done, 0 failed") != std::string::npos);
  CHECK(count_complete(m) == 6);
}

TEST_CASE("sweep: a train file holding fewer widths than the point asked for (an interrupted train) is not complete") {
  const std::string dir = sweep_dir("sweep_widths", "command = train\nmodel = two_layer\ndataset = ds1\nT = 5\nseeds = 1\n",
                                    "[product]\nwidths = [\"16,32\"]\n");
  const std::string manifest = expand_into(dir, dir + "/out");
  const auto m = dmft::sweep::read_manifest(manifest);
  const std::string output = dmft::sweep::absolute(m, m.points[0].output);
  fs::create_directories(fs::path(output).parent_path());
  REQUIRE(run("train --model two_layer --dataset ds1 --T 5 --seeds 1 --widths 16 --quiet --output " + output).code == 0);
  CHECK(dmft::sweep::output_state(m, m.points[0]) == dmft::sweep::OutputState::interrupted);
  CHECK(run("sweep status --manifest " + manifest).out.find("1 point(s): 0 complete, 0 failed, 1 interrupted") != std::string::npos);
  REQUIRE(run("sweep run --manifest " + manifest + " --quiet").code == 0);
  CHECK(dmft::sweep::output_state(m, m.points[0]) == dmft::sweep::OutputState::complete);
}

TEST_CASE("sweep: two runners started together on one manifest run every point exactly once") {
  const std::string dir = sweep_dir("sweep_two", kBase, kAxes);
  const std::string manifest = expand_into(dir, dir + "/out");
  const std::string runner = std::string(DMFT_BINARY) + " sweep run --threads 1 --quiet --manifest " + manifest;
  const Run both = shell(runner + " > " + dir + "/a.log 2>&1 & " + runner + " > " + dir + "/b.log 2>&1 & wait");
  const std::string a = read_file(dir + "/a.log"), b = read_file(dir + "/b.log");
  CAPTURE(a);
  CAPTURE(b);
  auto done = [](const std::string& out) {
    const auto at = out.find(" done, ");
    REQUIRE(at != std::string::npos);
    return std::stoll(out.substr(out.rfind(' ', at - 1) + 1));
  };
  CHECK(done(a) + done(b) == 12);  // each point run by one of them (a per-point lock)
  CHECK(a.find("0 failed") != std::string::npos);
  CHECK(b.find("0 failed") != std::string::npos);
  CHECK(count_complete(dmft::sweep::read_manifest(manifest)) == 12);
}
