// dmft train and dmft compare as a user meets them: the comparison workflow end to end (the CI
// regression run, widths up to 1024), the file layout, reproducibility, and bad input.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/cli_run.hpp"
#include "dmft/h5_util.hpp"

using namespace dmft;

namespace {
using dmft::test::run;
using dmft::test::Run;
using dmft::test::tmp;
const auto& read_bytes = dmft::test::read_file;

void check_bad(const std::string& args, const std::string& expected) {
  CAPTURE(args);
  const Run r = run(args);
  CAPTURE(r.out);
  CHECK(r.code == 2);
  CHECK(r.out.find("dmft: error: ") == 0);
  CHECK(r.out.find(expected) != std::string::npos);
}

/// The small deep-linear problem of the regression run (theory T18 at T = 20).
const std::string kProblem = "--model deep_linear --activation linear --depth 3 --P 10 --D 20 --T 20 --eta 0.1 "
                             "--gamma0 1 --target halves";
}  // namespace

TEST_CASE("regression: solve, train widths 64 to 1024 and compare: errors fall with the width") {
  const std::string dmft = tmp("reg_dmft.h5"), finite = tmp("reg_finite.h5"), cmp = tmp("reg_cmp.h5"),
                    csv = tmp("reg_cmp.csv");
  REQUIRE(run("solve --quiet " + kProblem + " --output " + dmft).code == 0);
  const Run t = run("train --quiet --like " + dmft + " --widths 64,256,1024 --seeds 6 --output " + finite);
  CAPTURE(t.out);
  REQUIRE(t.code == 0);
  const Run c = run("compare " + dmft + " " + finite + " --output " + cmp + " --csv " + csv);
  CAPTURE(c.out);
  REQUIRE(c.code == 0);
  CHECK(c.out.find("fitted rates") != std::string::npos);

  H5::H5File f(cmp, H5F_ACC_RDONLY);
  CHECK(h5::read_int_attr(f.openGroup("/"), "complete") == 1);
  std::vector<hsize_t> shape;
  const auto a = h5::read_array(f, "/fits/a", shape);
  const auto a_se = h5::read_array(f, "/fits/a_se", shape);
  const auto ok = h5::read_int_array(f, "/fits/ok");
  // Every fitted exponent is positive (errors fall with N); Φ's (the best measured) is N^-1/2
  // within 4 of its standard errors. The fits are ordered G (mean, 1..3), Phi (mean, 1..3), loss, ntk.
  REQUIRE(a.size() == 10);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(ok[i] == 1);
    CHECK(a[i] > 0.0);
  }
  CHECK(std::abs(a[4] - 0.5) <= 4 * a_se[4]);
  const std::string table = read_bytes(csv);
  CHECK(table.rfind("width,seed,layer,quantity,metric,value\n", 0) == 0);
  CHECK(table.find("1024,-1,0,Phi,alignment,") != std::string::npos);

  // The README's plot scripts run on these files (Debian's python3-h5py, python3-matplotlib).
  const std::string plots = std::string(DMFT_SOURCE_DIR) + "/scripts/plot/";
  for (const std::string& cmd : {plots + "plot_loss.py " + dmft + " " + finite + " -o " + tmp("reg_loss.png"),
                                 plots + "plot_convergence.py " + cmp + " -o " + tmp("reg_conv.png"),
                                 plots + "plot_kernels.py " + dmft + " " + finite + " -o " + tmp("reg_kernels.png")}) {
    CAPTURE(cmd);
    std::filesystem::remove(cmd.substr(cmd.rfind(' ') + 1));
    CHECK(std::system((cmd + " > /dev/null 2>&1").c_str()) == 0);
    CHECK(std::filesystem::file_size(cmd.substr(cmd.rfind(' ') + 1)) > 10000);
  }
}

TEST_CASE("dmft train writes the documented layout, and the same command gives the same bytes for any thread count") {
  const std::string a = tmp("fw_a.h5");  // the same path twice: the output path is in the recorded command line
  const std::string args = "train --quiet --model deep_mlp --activation tanh --depth 2 --dataset ds1 --T 4 --eta 0.2 "
                           "--widths 16,32 --seeds 3 --output " + a;
  REQUIRE(run(args + " --threads 1").code == 0);
  const std::string one_thread = read_bytes(a);
  REQUIRE(run(args + " --threads 2").code == 0);
  CHECK(read_bytes(a) == one_thread);
  H5::H5File f(a, H5F_ACC_RDONLY);
  H5::Group root = f.openGroup("/");
  CHECK(h5::read_string_attr(root, "format") == "dmft-finite-width");
  CHECK(h5::read_int_attr(root, "complete") == 1);
  CHECK(h5::read_int_array(f, "/finite_width/widths") == std::vector<long long>{16, 32});
  CHECK(h5::read_int_attr(f.openGroup("/parameters"), "P") == 8);  // DS1 fixes P and D
  std::vector<hsize_t> shape;
  h5::read_array(f, "/finite_width/N32/layers/2/Phi", shape);
  CHECK(shape == std::vector<hsize_t>{3, 4, 8, 4, 8});
  h5::read_array(f, "/finite_width/N32/layers/2/G_mean", shape);
  CHECK(shape == std::vector<hsize_t>{4, 8, 4, 8});
  h5::read_array(f, "/finite_width/N16/loss", shape);
  CHECK(shape == std::vector<hsize_t>{3, 4});
  h5::read_array(f, "/finite_width/N16/mean_abs_h_mean", shape);
  CHECK(shape == std::vector<hsize_t>{4, 2});
  H5::DataSet ds = f.openDataSet("/finite_width/N16/layers/1/Phi");
  CHECK(h5::read_string_attr(ds, "axes") == "seed,t,mu,s,nu");
  CHECK_FALSE(std::filesystem::exists(a + ".tmp"));
}

TEST_CASE("dmft train --coord-check prints the flatness per layer and stores no kernels") {
  const std::string out = tmp("cc.h5");
  const Run r = run("train --quiet --coord-check --model deep_mlp --activation tanh --depth 2 --dataset ds1 --T 3 "
                    "--widths 64,256 --seeds 2 --output " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("max/min over widths of mean|h^l|") != std::string::npos);
  H5::H5File f(out, H5F_ACC_RDONLY);
  CHECK(h5::read_int_attr(f.openGroup("/finite_width"), "kernels") == 0);
  CHECK_FALSE(h5::has_object(f, "/finite_width/N64/layers"));
}

TEST_CASE("train and compare: bad input gives one line naming the option, value and rule") {
  const std::string out = " --output " + tmp("bad_fw.h5");
  check_bad("train --widths 64,abc" + out, "--widths = '64,abc': 'abc' is not a positive integer");
  check_bad("train --widths 256,64" + out, "widths must be strictly increasing");
  check_bad("train --seeds 0" + out, "--seeds = 0: must be >= 1");
  check_bad("train --readout sp" + out, "--readout = 'sp': must be one of mean-field, ntk");
  check_bad("train --model deep_linear --activation tanh" + out, "model deep_linear is linear");
  check_bad("train --model two_layer --depth 2" + out, "model two_layer has exactly one hidden layer");
  check_bad("train --dataset ds1 --P 5" + out, "--P = 5: cannot be combined with --dataset ds1");
  check_bad("train --like " + tmp("does_not_exist.h5") + out, "no such file");
  check_bad("train --widths 100000 --max-memory-gb 1" + out, "--widths = 100000: needs an estimated");
  // compare: missing files, wrong formats, different problems
  const std::string dmft = tmp("bad_dmft.h5"), finite = tmp("bad_finite.h5");
  REQUIRE(run("solve --quiet " + kProblem + " --output " + dmft).code == 0);
  REQUIRE(run("train --quiet " + kProblem + " --eta 0.2 --widths 16 --seeds 2 --output " + finite).code == 0);
  check_bad("compare " + dmft + " " + tmp("nothing.h5") + " --output " + tmp("c.h5"), "no such file");
  check_bad("compare " + finite + " " + dmft + " --output " + tmp("c.h5"), "is not a dmft-solution file");
  check_bad("compare " + dmft + " " + finite + " --output " + tmp("c.h5"),
            "--eta differs: DMFT file has 0.10000000000000001, finite-width file has 0.20000000000000001");
}
