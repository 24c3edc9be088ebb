#include <doctest/doctest.h>

#include "dmft/errors.hpp"
#include "dmft/parameters.hpp"
#include "dmft/registry.hpp"

using namespace dmft;

TEST_CASE("defaults are valid") { CHECK(validate(SolveParameters{}).empty()); }

TEST_CASE("every violation is reported at once with option, value and rule") {
  SolveParameters p;
  p.eta = -1;
  p.T = 0;
  p.activation = "sigmoid";
  p.damping = 1.5;
  p.mc_samples = 10;
  const auto v = validate(p);
  REQUIRE(v.size() == 5);
  std::string all;
  for (const auto& x : v) all += x.message() + "\n";
  CHECK(all.find("--eta = -1: must be finite and > 0") != std::string::npos);
  CHECK(all.find("--T = 0: must be >= 1") != std::string::npos);
  CHECK(all.find("--activation = 'sigmoid': must be one of relu, tanh, erf, linear, softplus") != std::string::npos);
  CHECK(all.find("--damping = 1.5: must be in (0, 1]") != std::string::npos);
  CHECK(all.find("--mc-samples = 10: must be >= 64") != std::string::npos);
}

TEST_CASE("unknown models are refused with the list of registered ones") {
  CHECK_THROWS_WITH_AS(make_model("resnet9000"), doctest::Contains("registered models: deep_linear, deep_mlp, resnet, resnet_linear, two_layer"), InputError);
  SolveParameters p;
  p.depth = 3;
  CHECK(make_model("two_layer")->validate(p).size() == 1);
}
