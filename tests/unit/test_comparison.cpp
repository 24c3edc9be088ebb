// Metrics and the power-law fit of dmft compare.
#include <doctest/doctest.h>

#include <cmath>

#include "dmft/comparison.hpp"
#include "dmft/errors.hpp"
#include "dmft/parameters.hpp"
#include "dmft/rng.hpp"

using namespace dmft;

TEST_CASE("relative Frobenius error and alignment") {
  RowMatrix K(2, 2);
  K << 2, 1, 1, 3;
  CHECK(relative_frobenius(K, K) == 0.0);
  CHECK(alignment(3.0 * K, K) == doctest::Approx(1.0).epsilon(1e-15));
  RowMatrix E = K;
  E(0, 0) += 0.5;
  CHECK(relative_frobenius(E, K) == doctest::Approx(0.5 / std::sqrt(15.0)).epsilon(1e-14));
  RowMatrix Q(2, 2);
  Q << 1, 0, 0, -1;
  RowMatrix I = RowMatrix::Identity(2, 2);
  CHECK(std::abs(alignment(Q, I)) < 1e-15);  // orthogonal in the Frobenius inner product
}

TEST_CASE("the power-law fit recovers c N^-a exactly from exact data and within its error bar from noisy data") {
  const std::vector<double> N = {250, 500, 1000, 2000, 4000};
  std::vector<double> y, se;
  for (double n : N) {
    y.push_back(3.0 * std::pow(n, -0.5));
    se.push_back(0.05 * y.back());
  }
  PowerLawFit f = fit_power_law(N, y, se);
  REQUIRE(f.ok);
  CHECK(f.a == doctest::Approx(0.5).epsilon(1e-8));
  CHECK(f.c == doctest::Approx(3.0).epsilon(1e-8));
  CHECK(f.a_se > 0.01);
  CHECK(f.a_se < 0.05);  // five points at 5% each pin a to a few hundredths
  // 200 noisy replicas: the error bar covers the truth about 68% of the time.
  RandomStream rs(5, StreamPurpose::data, 0, 0);
  int covered = 0;
  const int replicas = 200;
  for (int r = 0; r < replicas; ++r) {
    std::vector<double> noisy;
    for (std::size_t i = 0; i < N.size(); ++i) noisy.push_back(y[i] + se[i] * rs.normal());
    const PowerLawFit g = fit_power_law(N, noisy, se);
    REQUIRE(g.ok);
    covered += std::abs(g.a - 0.5) <= g.a_se;
  }
  // Binomial(200, ≥0.68) stays above 0.55 (four standard deviations) for a correct error bar; the
  // χ² inflation can only widen it.
  CHECK(double(covered) / replicas > 0.55);
}

TEST_CASE("the power-law fit refuses fewer than two widths or non-positive errors") {
  CHECK_FALSE(fit_power_law({100}, {0.1}, {0.01}).ok);
  CHECK_FALSE(fit_power_law({100, 200}, {0.1, 0.0}, {0.01, 0.01}).ok);
}

TEST_CASE("widths must be positive and increasing") {
  CHECK(parse_widths("64,256,1024") == std::vector<long long>{64, 256, 1024});
  CHECK_THROWS_WITH_AS(parse_widths("64,x"), doctest::Contains("'x' is not a positive integer"), InputError);
  CHECK_THROWS_WITH_AS(parse_widths("256,64"), doctest::Contains("strictly increasing"), InputError);
  CHECK_THROWS_AS(parse_widths("0"), InputError);
  CHECK_THROWS_AS(parse_widths(""), InputError);
}

TEST_CASE("compare: a residual model's files must agree on beta0, branch-depth and train-input-layer and on having branches") {
  // As read back from the files: bools are stored as 0/1. Files of the other models may predate
  // the residual options, so they are compared only when the DMFT file is of a residual model.
  SolutionResults dmft;
  FiniteWidthResults finite;
  dmft.data = finite.data = make_synthetic(4, 3, 1, SyntheticTarget::teacher);
  dmft.parameters = {{"model", "resnet"}, {"activation", "tanh"}, {"beta", "1"},      {"depth", "4"},
                     {"sigma", "1"},      {"responses", "full"},  {"T", "5"},         {"eta", "0.5"},
                     {"gamma0", "1"},     {"beta0", "1"},         {"branch-depth", "0"}, {"train-input-layer", "1"}};
  dmft.model = "resnet";
  finite.parameters = dmft.parameters;
  CHECK(incompatibilities(dmft, finite).empty());
  finite.parameters["beta0"] = "2";
  finite.parameters["branch-depth"] = "8";
  finite.parameters["train-input-layer"] = "0";
  const std::vector<std::string> three = incompatibilities(dmft, finite);
  CHECK(three == std::vector<std::string>{"--beta0 differs: DMFT file has 1, finite-width file has 2",
                                          "--branch-depth differs: DMFT file has 0, finite-width file has 8",
                                          "--train-input-layer differs: DMFT file has 1, finite-width file has 0"});
  // An MLP of the same depth is a different network, in either direction.
  finite.parameters = dmft.parameters;
  finite.parameters["model"] = "deep_mlp";
  CHECK(incompatibilities(dmft, finite) ==
        std::vector<std::string>{"--model differs: DMFT file has resnet, finite-width file has deep_mlp (the DMFT's "
                                 "network has residual branches, the finite one none)"});
  std::swap(dmft.parameters, finite.parameters);
  dmft.model = "deep_mlp";
  CHECK(incompatibilities(dmft, finite) ==
        std::vector<std::string>{"--model differs: DMFT file has deep_mlp, finite-width file has resnet (the finite "
                                 "network has residual branches, the DMFT's none)"});
  // resnet_linear against resnet: both have branches (the activations are compared on their own).
  // An older deep_mlp file without the residual options against a new one is fine.
  dmft.parameters = finite.parameters;
  dmft.parameters["model"] = "resnet_linear";
  CHECK(incompatibilities(dmft, finite).empty());
  dmft.parameters["model"] = finite.parameters["model"] = "deep_mlp";
  for (const char* name : {"beta0", "branch-depth", "train-input-layer"}) dmft.parameters.erase(name);
  CHECK(incompatibilities(dmft, finite).empty());
}
