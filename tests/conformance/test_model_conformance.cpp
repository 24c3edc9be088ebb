// Conformance checks every registered model must pass (the contract in include/dmft/model.hpp):
// symmetric PSD kernels, t = 0 blocks equal to the static kernels, causality, the lazy limit.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>

#include "helpers.hpp"

using namespace dmft;
using namespace dmft::test;

namespace {
double min_eigenvalue(const TwoTime& k) {
  Eigen::SelfAdjointEigenSolver<Matrix> es(Matrix(k), Eigen::EigenvaluesOnly);
  return es.eigenvalues().minCoeff();
}
}  // namespace

TEST_CASE("every model: kernels symmetric and PSD, t = 0 blocks static, causal, lazy limit") {
  const Dataset d = make_ds1();
  for (const std::string& name : registered_models()) {
    const auto model = make_model(name);
    // deep_mlp at depth 2 (responses on; ReLU is refused there), the others at their own depth
    const std::vector<std::string> acts = name == "deep_linear" || name == "resnet_linear" ? std::vector<std::string>{"linear"}
                                          : name == "deep_mlp" || name == "resnet"    ? std::vector<std::string>{"tanh", "softplus"}
                                                                                       : std::vector<std::string>{"relu", "tanh"};
    // deep_mlp at depth 2, deep_linear and the ResNets at depth 3, two_layer at 1
    const int depth = name == "deep_mlp" ? 2 : name == "two_layer" ? 1 : 3;
    for (const std::string& act : acts)
      for (ErrorUpdate mode : {ErrorUpdate::exact, ErrorUpdate::ntk}) {
        CAPTURE(name);
        CAPTURE(act);
        CAPTURE(int(mode));
        const Index T = 10, P = d.P();
        Problem p = make_problem(d, act, T, 0.5, 1.5, 2048, 17, mode);
        p.depth = depth;
        const Solution s = solve(*model, p, tight_options());
        REQUIRE(s.summary.reason == Termination::converged);
        const auto statics = model->static_kernels(p);
        REQUIRE(s.state.layers.size() == statics.size());
        for (std::size_t l = 0; l < statics.size(); ++l) {
          const LayerKernels& k = s.state.layers[l];
          for (const TwoTime* K : {&k.Phi, &k.G}) {
            CHECK((*K - K->transpose()).cwiseAbs().maxCoeff() == 0.0);
            CHECK(min_eigenvalue(*K) >= -1e-12 * K->norm());
          }
          // t = s = 0 block: the static kernels, within 5 standard errors per entry (Monte
          // Carlo models) or to round-off (deterministic models, which carry no errors).
          const Matrix dphi = (k.Phi.topLeftCorner(P, P) - statics[l].Phi).cwiseAbs();
          const Matrix dg = (k.G.topLeftCorner(P, P) - statics[l].G).cwiseAbs();
          const Matrix zero = Matrix::Zero(P, P);
          const Matrix se_phi = k.Phi_se.size() ? Matrix(k.Phi_se.topLeftCorner(P, P)) : zero;
          const Matrix se_g = k.G_se.size() ? Matrix(k.G_se.topLeftCorner(P, P)) : zero;
          CHECK((dphi.array() <= 5 * se_phi.array() + 1e-12).all());
          CHECK((dg.array() <= 5 * se_g.array() + 1e-12).all());
          // Responses: A strictly causal, B causal (zero above the respective diagonals).
          for (const Response* r : {&k.A, &k.B}) {
            if (r->empty()) continue;
            const Index rp = r->values.rows() / T, cp = r->values.cols() / T;
            for (Index t = 0; t < T; ++t)
              for (Index u = (r == &k.A ? t : t + 1); u < T; ++u)
                CHECK(r->values.block(t * rp, u * cp, rp, cp).cwiseAbs().maxCoeff() == 0.0);
          }
        }
        // Causality: the solution on the first 6 steps does not depend on the later ones.
        Problem shorter = p;
        shorter.T = 6;
        const Solution s6 = solve(*model, shorter, tight_options());
        const Index k6 = 6 * P;
        CHECK((s6.state.Delta - s.state.Delta.topRows(6)).cwiseAbs().maxCoeff() < 1e-7);
        CHECK((s6.state.layers[0].Phi - s.state.layers[0].Phi.topLeftCorner(k6, k6)).cwiseAbs().maxCoeff() < 1e-7);
      }
    // Lazy limit: at γ0 → 0 every (t, s) block equals the t = 0 block.
    Problem lazy = make_problem(d, acts.front(), 8, 0.5, 1e-6, 256, 3);
    lazy.depth = depth;
    // The resnet's random-probe estimate of B has equal-time blocks that vanish in expectation in
    // the lazy limit (residual.md 2.6) but carry independent probe noise at each t, so there the
    // lazy equality holds only within Monte Carlo error: check its causal structure without A, B.
    if (name == "resnet") lazy.responses = false;
    const Solution s = solve(*model, lazy, tight_options());
    const Index P = d.P();
    for (const auto& k : s.state.layers)
      for (Index t = 0; t < 8; ++t)
        for (Index u = 0; u < 8; ++u) {
          CHECK((k.Phi.block(t * P, u * P, P, P) - k.Phi.topLeftCorner(P, P)).cwiseAbs().maxCoeff() < 1e-5);
          CHECK((k.G.block(t * P, u * P, P, P) - k.G.topLeftCorner(P, P)).cwiseAbs().maxCoeff() < 1e-5);
        }
  }
}
