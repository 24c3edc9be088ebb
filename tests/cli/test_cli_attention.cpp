// dmft solve / train / compare --model attention as a user meets them (theory attention.md): token
// sequences in and out of HDF5, the limits, the built-in M0 oracle, the memory guard, the
// comparison across head dimensions and head counts, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cli/cli_run.hpp"
#include "dmft/h5_util.hpp"

using namespace dmft;

namespace {
using dmft::test::run;
using dmft::test::Run;
using dmft::test::tmp;

using dmft::test::check_bad;

std::vector<hsize_t> shape_of(const std::string& file, const std::string& path) {
  H5::H5File f(file, H5F_ACC_RDONLY);
  std::vector<hsize_t> shape;
  h5::read_array(f, path, shape);
  return shape;
}

std::string axes_of(const std::string& file, const std::string& path) {
  H5::H5File f(file, H5F_ACC_RDONLY);
  return h5::read_string_attr(f.openDataSet(path), "axes");
}

/// A --data file of P = 2 sequences of S = 3 tokens in R^2 (X: P×S×D, y: P).
void write_sequence_file(const std::string& path) {
  const std::vector<double> X = {0.3, -1.2, 0.8, 0.1, -0.5, 0.9, 1.1, 0.4, -0.7, -0.2, 0.6, 1.3};
  const std::vector<double> y = {0.5, -1.0};
  H5::H5File d(path, H5F_ACC_TRUNC);
  H5::Group root = d.openGroup("/");
  h5::write_array(root, "X", X.data(), {2, 3, 2}, "mu,a,d");
  h5::write_array(root, "y", y.data(), {2}, "mu");
}

/// The value of the first row of a `dmft compare --csv` table that starts with `prefix`.
double csv_value(const std::string& path, const std::string& prefix) {
  const std::string csv = dmft::test::read_file(path);
  const auto at = csv.find(prefix);
  REQUIRE(at != std::string::npos);
  return std::stod(csv.substr(at + prefix.size()));
}

/// The small M0 problem: 4 sequences of 3 tokens in R^3.
const std::string kM0 = "--model attention --block m0 --dataset sequences --P 4 --S 3 --D 3 --T 12 --eta 0.5 --gamma0 1";
}  // namespace

TEST_CASE("dmft solve --model attention --limit a (m0): token arrays in the file, the built-in 3.4 oracle agrees to 1e-8") {
  const std::string out = tmp("att_m0_a.h5");
  const Run r = run("solve --quiet " + kM0 + " --output " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("built-in oracle") != std::string::npos);
  CHECK(shape_of(out, "/data/X") == std::vector<hsize_t>{4, 3, 3});
  CHECK(axes_of(out, "/data/X") == "mu,a,d");
  CHECK(shape_of(out, "/data/Kx") == std::vector<hsize_t>{4, 3, 4, 3});
  CHECK(shape_of(out, "/solution/Delta") == std::vector<hsize_t>{12, 4});
  CHECK(shape_of(out, "/solution/attention/logits") == std::vector<hsize_t>{12, 4, 3, 3});
  CHECK(axes_of(out, "/solution/attention/sigma") == "t,mu,a,b");
  CHECK(shape_of(out, "/solution/kernels/Phi_o") == std::vector<hsize_t>{12, 4, 3, 12, 4, 3});
  CHECK(axes_of(out, "/solution/kernels/Phi_o") == "t,mu,a,s,nu,b");
  H5::H5File f(out, H5F_ACC_RDONLY);
  const H5::Group gs = f.openGroup("/solution");
  const double oracle = std::stod(h5::read_attr_as_string(gs, "oracle_max_abs_Delta"));
  CHECK(oracle <= 1e-8);
  CHECK(std::stod(h5::read_attr_as_string(gs, "oracle_max_abs_logits")) <= 1e-8);
  CHECK(h5::read_attr_as_string(f.openGroup("/parameters"), "block") == "m0");
  // The data round trip: the file's /data/X (P×S×D) and /data/y as a --data file give the same residuals.
  const std::string data_file = tmp("att_m0_data.h5"), again = tmp("att_m0_a_again.h5");
  {
    std::vector<hsize_t> sx, sy;
    const std::vector<double> X = h5::read_array(f, "/data/X", sx), y = h5::read_array(f, "/data/y", sy);
    H5::H5File d(data_file, H5F_ACC_TRUNC);
    H5::Group root = d.openGroup("/");
    h5::write_array(root, "X", X.data(), sx, "mu,a,d");
    h5::write_array(root, "y", y.data(), sy, "mu");
  }
  const Run r2 = run("solve --quiet --model attention --data " + data_file + " --T 12 --eta 0.5 --gamma0 1 --output " + again);
  CAPTURE(r2.out);
  REQUIRE(r2.code == 0);
  std::vector<hsize_t> s1, s2;
  H5::H5File f2(again, H5F_ACC_RDONLY);
  CHECK(h5::read_array(f, "/solution/Delta", s1) == h5::read_array(f2, "/solution/Delta", s2));
}

TEST_CASE("dmft solve --model attention --limit b (m0): Monte Carlo heads with a standard error") {
  const std::string out = tmp("att_m0_b.h5");
  const Run r = run("solve --quiet " + kM0 + " --limit b --alpha-a 0.5 --head-dim 2 --mc-samples 2000 --output " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(shape_of(out, "/solution/Delta_se") == std::vector<hsize_t>{12, 4});
  CHECK(shape_of(out, "/solution/ntk") == std::vector<hsize_t>{12, 4, 4});
  CHECK(r.out.find("Monte Carlo s.e.") != std::string::npos);
  const Run n = run("solve --quiet " + kM0 + " --limit b --alpha-a 0.5 --head-dim 2 --mc-samples 2000 --error-update ntk --output " +
                    tmp("att_m0_b_ntk.h5"));
  CAPTURE(n.out);
  CHECK(n.code == 0);
}

TEST_CASE("dmft solve --model attention --block m1 --limit b: frozen embedding, Monte Carlo heads with R^o") {
  const std::string out = tmp("att_m1_b.h5");
  const Run r = run("solve --quiet " + kM0 + " --T 6 --block m1 --activation linear --rho 0 --lr-e 0 --limit b --head-dim 2 "
                    "--mc-samples 500 --output " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(shape_of(out, "/solution/kernels/R_o") == std::vector<hsize_t>{6, 4, 3, 6, 4, 3});
  CHECK(shape_of(out, "/solution/Delta_se") == std::vector<hsize_t>{6, 4});
}

TEST_CASE("dmft solve --model attention --block m1 --limit a --activation tanh: sampled residual site, then compare") {
  const std::string out = tmp("att_m1_tanh.h5"), finite = tmp("att_m1_tanh_f.h5"), table = tmp("att_m1_tanh.csv");
  const std::string args = " --T 5 --block m1 --activation tanh --gamma0 2 --eta 0.5 --mc-samples 600 --seed 4";
  const Run d = run("solve " + kM0 + args + " --dry-run");
  CAPTURE(d.out);
  CHECK(d.out.find("600 Monte Carlo residual samples") != std::string::npos);
  CHECK(d.out.find("adjoint tangents") != std::string::npos);
  const Run r = run("solve " + kM0 + args + " --output " + out);
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("residual site by Monte Carlo over 600 samples") != std::string::npos);
  CHECK(r.out.find("Monte Carlo s.e.") != std::string::npos);
  CHECK(shape_of(out, "/solution/Delta_se") == std::vector<hsize_t>{5, 4});
  CHECK(shape_of(out, "/solution/kernels/R_u") == std::vector<hsize_t>{5, 4, 3, 5, 4, 3});
  const Run t = run("train --quiet --like " + out + " --widths 64,256 --heads 1 --seeds 2 --output " + finite);
  CAPTURE(t.out);
  REQUIRE(t.code == 0);
  const Run c = run("compare " + out + " " + finite + " --output " + table);
  CAPTURE(c.out);
  CHECK(c.code == 0);
}

TEST_CASE("dmft solve --model attention --dry-run shows the (T P S)^2 memory and refuses what does not fit") {
  const Run r = run("solve " + kM0 + " --block m1 --activation linear --dry-run");
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("n = T*P*S = 144") != std::string::npos);
  CHECK(r.out.find("peak memory") != std::string::npos);
  check_bad("solve --model attention --block m1 --activation linear --dataset sequences --P 16 --S 16 --D 4 --T 100 "
            "--max-memory-gb 1 --output " + tmp("big.h5"),
            "(T*P*S)^2 = 25600^2 doubles each");
}

TEST_CASE("dmft solve and train --model attention: bad input names the option, value and rule") {
  const std::string o = " --output " + tmp("att_bad.h5");
  check_bad("solve " + kM0 + " --alpha-a 0.7" + o, "--alpha-a = 0.7: must be 1 (muP) or 0.5");
  check_bad("solve " + kM0 + " --alpha-a 0.5" + o, "limit A (N -> inf) exists only for alpha_A = 1");
  check_bad("solve " + kM0 + " --block m2" + o, "--block = 'm2': must be one of m0, m1");
  check_bad("solve " + kM0 + " --block m1" + o, "--activation = 'relu': limit A of block m1 needs a smooth phi");
  check_bad("solve " + kM0 + " --block m1 --activation tanh --mc-samples 10" + o, "--mc-samples = 10: must be >= 64");
  check_bad("solve " + kM0 + " --block m1 --activation linear --mc-samples 1000" + o,
            "--mc-samples = 1000: limit A with phi = id (and block m0) is solved without sampling");
  check_bad("solve " + kM0 + " --block m1 --activation linear --limit b" + o, "--lr-e = 1: limit B of block m1 is implemented with a frozen embedding");
  check_bad("solve " + kM0 + " --block m1 --activation linear --lr-e 0 --limit b --error-update ntk" + o,
            "limit B of block m1 is implemented with the exact error update only");
  check_bad("solve " + kM0 + " --pool first" + o, "--pool = 'first': must be one of mean, last");
  check_bad("solve " + kM0 + " --lr-q -1" + o, "--lr-q = -1: a learning-rate multiplier must be finite and >= 0");
  check_bad("solve " + kM0 + " --rho 0" + o, "block m0 has no embedding");
  check_bad("solve " + kM0 + " --heads 4" + o, "--heads is for dmft train");
  check_bad("solve " + kM0 + " --damping 0.5" + o, "one causal sweep");
  check_bad("solve --model attention --T 4" + o, "--dataset = 'synthetic': the attention model needs token sequences");
  check_bad("solve --model two_layer --dataset sequences" + o, "token sequences are read only by the attention model");
  check_bad("solve --model two_layer --causal-mask" + o, "an option of the attention model");
  check_bad("train " + kM0 + " --coord-check" + o, "not available for the attention model");
  check_bad("solve " + kM0 + " --activation tanh" + o, "--activation = 'tanh': block m0 has no embedding");
  check_bad("solve " + kM0 + " --target linear" + o, "--dataset sequences draws its targets");
  check_bad("solve " + kM0 + " --seed 3" + o, "limit A with phi = id (and block m0) is solved without sampling");
  check_bad("solve " + kM0 + " --response-estimator stein" + o, "the attention solve does not use it");
  check_bad("solve --model two_layer --limit b" + o, "--limit = 'b': an option of the attention model");
  check_bad("train --model two_layer --width-axis heads" + o, "--width-axis = 'heads': an option of the attention model");
  check_bad("solve --model two_layer --S 8" + o, "--S = 8: tokens per sequence");
  check_bad("train " + kM0 + " --width-axis heads --heads 4" + o, "with --width-axis heads the head counts are --widths");
  const std::string seqs = tmp("att_seq_data.h5");
  write_sequence_file(seqs);
  const Run ok = run("solve --quiet --model attention --data " + seqs + " --T 3" + o);
  CAPTURE(ok.out);
  CHECK(ok.code == 0);
  check_bad("solve --model two_layer --data " + seqs + o, "holds token sequences (X of shape P x S x D), which only --model attention reads");
}

TEST_CASE("dmft train and compare --model attention: finite M0 networks approach limit A as N grows, limit B as H grows") {
  const std::string dmft = tmp("att_cmp_a.h5"), finite = tmp("att_cmp_fa.h5"), table = tmp("att_cmp.csv");
  REQUIRE(run("solve --quiet " + kM0 + " --output " + dmft).code == 0);
  const Run t = run("train --quiet --like " + dmft + " --widths 64,1024 --heads 1 --seeds 4 --output " + finite);
  CAPTURE(t.out);
  REQUIRE(t.code == 0);
  CHECK(shape_of(finite, "/finite_width/N64/logits") == std::vector<hsize_t>{4, 12, 4, 3, 3});
  CHECK(shape_of(finite, "/finite_width/N64/logits_heads") == std::vector<hsize_t>{4, 12, 4, 1, 3, 3});
  const Run c = run("compare " + dmft + " " + finite + " --output " + tmp("att_cmp.h5") + " --csv " + table);
  CAPTURE(c.out);
  REQUIRE(c.code == 0);
  CHECK(c.out.find("rms error at the last step") != std::string::npos);
  // The rms Delta error at t = T-1 of the seed-mean network falls from N = 64 to 1024 (x16 in N: about x4).
  const double e64 = csv_value(table, "64,-1,0,Delta,rms_final,"), e1024 = csv_value(table, "1024,-1,0,Delta,rms_final,");
  CAPTURE(e64);
  CAPTURE(e1024);
  CHECK(e1024 < e64 / 2);
  // Limit B at N = 2 against networks with H = 16 and 256 heads of dimension 2.
  const std::string dmft_b = tmp("att_cmp_b.h5"), finite_b = tmp("att_cmp_fb.h5"), table_b = tmp("att_cmp_b.csv");
  REQUIRE(run("solve --quiet " + kM0 + " --limit b --head-dim 2 --mc-samples 20000 --output " + dmft_b).code == 0);
  // --like a limit-B solution: the width axis is the head count by default.
  const Run tb = run("train --quiet --like " + dmft_b + " --widths 16,256 --seeds 4 --output " + finite_b);
  CAPTURE(tb.out);
  REQUIRE(tb.code == 0);
  CHECK(shape_of(finite_b, "/finite_width/N16/logits_heads") == std::vector<hsize_t>{4, 12, 4, 16, 3, 3});
  REQUIRE(run("compare --quiet " + dmft_b + " " + finite_b + " --output " + tmp("att_cmp_b_table.h5") + " --csv " + table_b).code == 0);
  const double b16 = csv_value(table_b, "16,-1,0,Delta,rms_final,"), b256 = csv_value(table_b, "256,-1,0,Delta,rms_final,");
  CAPTURE(b16);
  CAPTURE(b256);
  CHECK(b256 < b16 / 2);
  // A limit-A solution against networks of growing head count is refused (and the reverse).
  check_bad("compare " + dmft + " " + finite_b + " --output " + tmp("att_cmp_bad.h5"),
            "limit A (N -> inf) is approached by networks of growing head dimension");
}
