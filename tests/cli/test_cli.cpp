// The command line as a user meets it: errors (one line, option + value + rule, exit 2), a
// solve that does not converge (file written, exit 3), the output file, reproducibility, the
// dry-run memory estimate.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "dmft/h5_util.hpp"
#include "cli/cli_run.hpp"
#include "write_dataset.hpp"

using namespace dmft;
using dmft::test::write_xy;

namespace {
using dmft::test::read_file;
using dmft::test::run;
using dmft::test::Run;
using dmft::test::tmp;

void check_bad(const std::string& args, const std::string& expected) {
  CAPTURE(args);
  const bool has_output = args.find("--output") != std::string::npos;
  const Run r = run("solve --quiet " + args + (has_output ? "" : " --output " + tmp("bad.h5")));
  CAPTURE(r.out);
  CHECK(r.code == 2);
  CHECK(r.out.find("dmft: error: ") == 0);
  CHECK(r.out.find(expected) != std::string::npos);
  CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
}
}  // namespace

TEST_CASE("bad input: one line naming the option, the value and the rule, and exit code 2") {
  check_bad("--model resnet9000", "--model = 'resnet9000': unknown model; registered models: deep_linear, deep_mlp, resnet, resnet_linear, two_layer");
  check_bad("--activation sigmoid", "--activation = 'sigmoid': must be one of");
  check_bad("--eta -0.5", "--eta = -0.5: must be finite and > 0");
  check_bad("--eta abc", "--eta = abc: must be a number");
  check_bad("--seed -3", "--seed = -3: must be >= 0");
  check_bad("--dataset ds1 --P 12", "--P = 12: cannot be combined with --dataset ds1");
  check_bad("--output /no/such/dir/x.h5", "--output = /no/such/dir/x.h5: cannot be written");
  check_bad("--etta 0.5", "--etta");
  check_bad("--depth 2", "--depth = 2: model two_layer has exactly one hidden layer");
  check_bad("--model deep_mlp --depth 2", "--activation = 'relu': with --depth >= 2 the estimates of the responses A, B are biased for ReLU");
  check_bad("--model deep_linear --activation tanh", "--activation = 'tanh': model deep_linear is linear");
  check_bad("--model deep_mlp --activation tanh --depth 2 --strategy march",
            "--strategy = 'march': model deep_mlp has no marching strategy (use --strategy iterate)");
  check_bad("--P 20000 --T 5000", "--T = 5000: P·T = 100000000: one (P·T)² kernel alone needs");
  check_bad("--P 200 --T 50 --max-memory-gb 1", "--T = 50: P·T = 10000 needs an estimated");

  const std::string cfg = tmp("bad.toml");
  std::ofstream(cfg) << "eta = 0.2\nlearning_rate = 3\n";
  check_bad("--config " + cfg, "line 2: unknown key 'learning-rate'");
  std::ofstream(cfg) << "eta = 0.2\n[train]\nmc-samples = 3\n";
  check_bad("--config " + cfg, "line 3: unknown key 'mc-samples' for dmft train");
  std::ofstream(cfg) << "[sovle]\neta = 0.2\n";
  check_bad("--config " + cfg, "line 1: unknown section '[sovle]' (sections are [solve] and [train])");

  RowMatrix X = RowMatrix::Random(6, 3);
  Vector y = Vector::Random(6);
  X(1, 2) = std::numeric_limits<double>::infinity();
  write_xy(tmp("nonfinite.h5"), X, y);
  check_bad("--data " + tmp("nonfinite.h5"), "X contains a non-finite value at row 1");
  X(1, 2) = 0;
  write_xy(tmp("mismatch.h5"), X, Vector::Random(4));
  check_bad("--data " + tmp("mismatch.h5"), "X has 6 rows but y has 4 entries");
}

TEST_CASE("a solve writes a complete, self-describing file") {
  const std::string out = tmp("small.h5");
  const Run r = run("solve --quiet --P 6 --D 5 --T 12 --mc-samples 256 --output " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("converged") != std::string::npos);
  H5::H5File f(out, H5F_ACC_RDONLY);
  H5::Group root = f.openGroup("/");
  CHECK(h5::read_int_attr(root, "complete") == 1);
  CHECK(h5::read_string_attr(root, "format") == "dmft-solution");
  std::vector<hsize_t> shape;
  CHECK(h5::read_array(f, "/solution/loss", shape).size() == 12);
  h5::read_array(f, "/solution/layers/1/Phi", shape);
  CHECK(shape == std::vector<hsize_t>{12, 6, 12, 6});
  CHECK(h5::read_string_attr(f.openDataSet("/solution/layers/1/G"), "axes") == "t,mu,s,nu");
  CHECK(h5::read_string_attr(f.openGroup("/convergence"), "status") == "converged");
  CHECK(!std::filesystem::exists(out + ".tmp"));
}

TEST_CASE("a solve that hits the iteration cap still writes its file, with status max_iter, and exits 3") {
  const std::string out = tmp("capped.h5");
  const Run r = run("solve --quiet --T 40 --mc-samples 128 --max-iter 2 --output " + out);
  CHECK(r.code == 3);
  H5::H5File f(out, H5F_ACC_RDONLY);
  CHECK(h5::read_string_attr(f.openGroup("/convergence"), "status") == "max_iter");
  CHECK(h5::read_int_attr(f.openGroup("/"), "complete") == 1);
}

TEST_CASE("options from a config file equal the same options on the command line") {
  const std::string cfg = tmp("good.toml");
  // Keys under [train] are for dmft train only (checked against its options, not applied here).
  std::ofstream(cfg) << "# a comment\neta = 0.25\nT = 9\nactivation = \"tanh\"\n[solve]\nmc-samples = 128\n"
                        "[train]\nwidths = \"64,128\"\neta = 0.5\n";
  const Run r = run("solve --quiet --config " + cfg + " --output " + tmp("cfg.h5"));
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  H5::H5File f(tmp("cfg.h5"), H5F_ACC_RDONLY);
  H5::Group par = f.openGroup("/parameters");
  CHECK(h5::read_string_attr(par, "activation") == "tanh");
  double eta = 0;
  par.openAttribute("eta").read(H5::PredType::NATIVE_DOUBLE, &eta);
  CHECK(eta == 0.25);
  std::vector<hsize_t> shape;
  CHECK(h5::read_array(f, "/solution/loss", shape).size() == 9);
}

TEST_CASE("the same seed gives the same file bit for bit, whatever the thread count") {
  namespace fs = std::filesystem;
  for (const char* dir : {"threads1", "threads2"}) fs::create_directories(tmp(dir));
  const std::string args = "solve --quiet --T 15 --mc-samples 300 --activation tanh --output out.h5";
  const Run a = run(args + " --threads 1", "cd " + tmp("threads1") + " &&");
  const Run b = run(args + " --threads 2", "cd " + tmp("threads2") + " &&");
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  const std::string fa = read_file(tmp("threads1/out.h5")), fb = read_file(tmp("threads2/out.h5"));
  CHECK(fa.size() > 10000);
  CHECK(fa == fb);
}

TEST_CASE("dry-run memory estimate is within 2x of the measured peak (P = 25, T = 200)") {
  const std::string shape = "--P 25 --T 200 --D 40 --mc-samples 1000 --quiet ";
  const Run dry = run("solve --dry-run " + shape);
  REQUIRE(dry.code == 0);
  const auto at = dry.out.find("peak memory ");
  REQUIRE(at != std::string::npos);
  double value = std::stod(dry.out.substr(at + 12));
  const std::string unit = dry.out.substr(dry.out.find(' ', at + 12) + 1, 3);
  const double estimate = value * (unit == "GiB" ? 1073741824.0 : unit == "MiB" ? 1048576.0 : 1024.0);

  const Run real = run("solve " + shape + "--eta 0.1 --gamma0 0.5 --continuation-window 0 --max-iter 2 --output " + tmp("peak.h5"));
  CHECK(real.code == 3);
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  const double peak = double(usage.ru_maxrss) * 1024.0;
  CAPTURE(estimate);
  CAPTURE(peak);
  CHECK(estimate <= 2 * peak);
  CHECK(peak <= 2 * estimate);
  std::filesystem::remove(tmp("peak.h5"));
}

TEST_CASE("info prints provenance and the registered models") {
  const Run r = run("info");
  CHECK(r.code == 0);
  CHECK(r.out.find("git ") != std::string::npos);
  CHECK(r.out.find("two_layer") != std::string::npos);
}
