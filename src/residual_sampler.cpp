#include "dmft/residual_sampler.hpp"

#include <cmath>
#include <limits>

#include "dmft/gaussian_source.hpp"
#include "dmft/kernel_estimator.hpp"
#include "dmft/residual_sweep.hpp"
#include "dmft/rng.hpp"
#include "dmft/static_kernels.hpp"

namespace dmft {
namespace {

unsigned long long u64(Index i) { return static_cast<unsigned long long>(i); }

/// Columns per parallel task; fixed, so nothing depends on the thread count. Small enough that
/// a batch of S/32 samples gives every core work (S = 4000: 8 tasks per batch).
constexpr Index kColumns = 16;

/// Random-stream ids of the sources (one stream per sample and purpose, §2.2).
enum : unsigned long long { kInputStream = 0, kBranchStream = 1ULL << 32, kBackStream = 2ULL << 32,
                            kProbeR = 3ULL << 32, kProbeU = 4ULL << 32 };

/// Zeroes the acausal blocks: s ≥ t (strict, for A) or s > t (for B).
void mask_causal(RowMatrix& x, Index T, Index P, bool strict) {
  for (Index t = 0; t < T; ++t)
    for (Index s = strict ? t : t + 1; s < T; ++s) x.block(t * P, s * P, P, P).setZero();
}

/// Σ_i (f_i − f̄) ε_iᵀ · m/(m−1) over the m columns of a batch: the Stein moment ⟨f εᵀ⟩ times m,
/// unbiased (E[f̄ ε̄ᵀ] = ⟨f εᵀ⟩/m), with f's mean removed as a control variate (ReLU's φ̄ ≠ 0).
RowMatrix stein_moment(const Matrix& f, const Matrix& eps) {
  const double m = double(f.cols());
  if (f.cols() < 2) return RowMatrix(f * eps.transpose());  // nothing to centre on
  const Matrix centred = f.colwise() - f.rowwise().mean();
  return RowMatrix(centred * eps.transpose()) * (m / (m - 1.0));
}

Response as_response(RowMatrix values, Index T, Index P) {
  return Response{std::move(values), {u64(T), u64(P), u64(T), u64(P)}, "t,mu,s,nu"};
}


/// The readout f(t,μ) = γ0⁻¹⟨z^L(t) φ(h^L(t,μ)) − z^L(0) φ(h^L(0,μ))⟩ (§2.5 E2, the large-N
/// limit of the last identity of §1.5) as sums over columns with weight w each.
struct ReadoutSums {
  RowMatrix sum, sum2;
  void add(const Matrix& zL, const Matrix& phiL, Index P) {
    const Index T = zL.rows();
    if (sum.size() == 0) sum = sum2 = RowMatrix::Zero(T, P);
    for (Index i = 0; i < zL.cols(); ++i)
      for (Index t = 0; t < T; ++t)
        for (Index mu = 0; mu < P; ++mu) {
          const double v = zL(t, i) * phiL(t * P + mu, i) - zL(0, i) * phiL(mu, i);
          sum(t, mu) += v;
          sum2(t, mu) += v * v;
        }
  }
};

}  // namespace

namespace {
/// The forward half of the static recursion: H^l and Φ^l = V_φ(H^l), l = 1..L.
void static_forward(const Problem& pr, std::vector<Matrix>& H, std::vector<Matrix>& Phi) {
  const double a2 = pr.branch() * pr.branch();
  H.assign(1, pr.data->Kx);
  Phi.assign(1, gaussian_phi_kernel(pr.activation, H.back()));
  for (int l = 1; l < pr.depth; ++l) {
    H.push_back(H.back() + a2 * Phi.back());
    Phi.push_back(gaussian_phi_kernel(pr.activation, H.back()));
  }
}
}  // namespace

std::vector<Matrix> residual_static_preactivations(const Problem& pr) {
  std::vector<Matrix> H, Phi;
  static_forward(pr, H, Phi);
  return H;
}

std::vector<StaticLayer> residual_static_kernels(const Problem& pr) {
  const int L = pr.depth;
  const double a2 = pr.branch() * pr.branch();
  std::vector<Matrix> H, Phi;
  static_forward(pr, H, Phi);
  std::vector<StaticLayer> out(std::size_t(L), StaticLayer{});
  Matrix G = gaussian_dphi_kernel(pr.activation, H.back());
  for (int l = L; l >= 1; --l) {
    const auto i = std::size_t(l - 1);
    if (l < L) G = G.cwiseProduct((1.0 + a2 * gaussian_dphi_kernel(pr.activation, H[i]).array()).matrix());
    out[i] = StaticLayer{Phi[i], G};
  }
  return out;
}

StaticDepthLimit residual_static_limit(const Activation& act, const Matrix& Kx, double beta0, int steps,
                                       bool train_input_layer) {
  const double b2 = beta0 * beta0, h = 1.0 / double(steps);
  StaticDepthLimit out;
  auto rhs = [&](const Matrix& H) { return Matrix(b2 * gaussian_phi_kernel(act, H)); };
  out.H.push_back(Kx);
  out.Phi.push_back(gaussian_phi_kernel(act, Kx));
  for (int k = 0; k < steps; ++k) {  // RK4 in τ; the first stage is Φ at the grid point, kept
    const Matrix& H = out.H.back();
    const Matrix k1 = b2 * out.Phi.back(), k2 = rhs(H + 0.5 * h * k1), k3 = rhs(H + 0.5 * h * k2), k4 = rhs(H + h * k3);
    out.H.push_back(H + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4));
    out.Phi.push_back(gaussian_phi_kernel(act, out.H.back()));
  }
  std::vector<Matrix> dphi;
  for (const Matrix& H : out.H) dphi.push_back(gaussian_dphi_kernel(act, H));
  // G(τ_k) = Φ̇(H(1)) ∘ exp(β0² ∫_{τ_k}^1 Φ̇): the integral by the trapezoid rule from the top.
  const Index P = Kx.rows();
  out.G.assign(std::size_t(steps + 1), Matrix());
  Matrix integral = Matrix::Zero(P, P);
  for (int k = steps; k >= 0; --k) {
    if (k < steps) integral += 0.5 * h * (dphi[std::size_t(k)] + dphi[std::size_t(k + 1)]);
    out.G[std::size_t(k)] = dphi.back().cwiseProduct((b2 * integral).array().exp().matrix());
  }
  Matrix hidden = Matrix::Zero(P, P);
  for (int k = 0; k < steps; ++k)
    hidden += 0.5 * h * (out.G[std::size_t(k)].cwiseProduct(out.Phi[std::size_t(k)]) +
                         out.G[std::size_t(k + 1)].cwiseProduct(out.Phi[std::size_t(k + 1)]));
  out.ntk = b2 * hidden + out.Phi.back();
  if (train_input_layer) out.ntk += out.G.front().cwiseProduct(Kx);
  return out;
}

SiteAverages sample_resnet(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) {
  const int L = pr.depth, blocks = L - 1;
  const Index T = pr.T, P = pr.P(), n = pr.n(), S = pr.samples;
  const bool responses = pr.responses && blocks > 0;
  const bool exact_tangent = responses && pr.response_estimator == ResponseEstimator::exact_tangent;
  const bool stein = responses && pr.response_estimator == ResponseEstimator::stein;
  const bool probes = responses && !exact_tangent && !stein;
  const std::size_t nL = std::size_t(L), nB = std::size_t(blocks);
  const ResidualCouplings cp(pr, state, delta);
  SiteAverages out;
  out.sources.min_eigenvalue = std::numeric_limits<double>::infinity();
  // Sources: u¹ from the symmetric root of Kx (constant in t); u^{l+1}, r^l from causal roots.
  // Stein (§2.9 R3) divides its moments by the root, which amplifies their O(1/√S) noise by up to
  // 1/√ε along the kernels' near-null directions. At the fixed point the fields have matching
  // small components there, but in the outer loop they need not: with ε = 1e-4 at S = 2000 the
  // iterates blew up before recovering; ε = 10/S keeps (1/√S)(1/√ε) ≤ 1/√10 and converged. The
  // widened sources cost an O(ε) bias, below the O(1/√S) Monte Carlo error for S ≫ 100.
  const double jitter = !stein ? kCausalJitter : pr.stein_jitter > 0 ? pr.stein_jitter : std::min(1e-2, 10.0 / double(S));
  const GaussianSource root_x = GaussianSource::symmetric_root(pr.data->Kx);
  out.sources.note(root_x.report());
  std::vector<GaussianSource> root_u, root_r;
  for (int b = 0; b < blocks; ++b) {
    root_u.push_back(GaussianSource::causal_root(state.layers[std::size_t(b)].Phi, P, jitter));
    root_r.push_back(GaussianSource::causal_root(state.layers[std::size_t(b + 1)].G, P, jitter));
    out.sources.note(root_u.back().report());
    out.sources.note(root_r.back().report());
  }

  const int batches = kStandardErrorBatches;
  std::vector<KernelAccumulator> acc_phi(nL), acc_g(nL);
  std::vector<RowMatrix> A_sum(std::size_t(responses ? blocks : 0), RowMatrix::Zero(n, n));
  std::vector<RowMatrix> B_sum = A_sum;
  ReadoutSums readout;

  for (int batch = 0; batch < batches; ++batch) {
    const Index first = S * batch / batches, m = S * (batch + 1) / batches - first;
    std::vector<Matrix> phi(std::size_t(L), Matrix(n, m)), g = phi;
    Matrix zL(T, m);
    // Random-probe tangents: φ'(h^l) dh^l with its probe ω_r^l, and dg^{l+1} with ω_u^l.
    // Stein: the normals ε_r^l, ε_u^l of the sources in place of the probes.
    std::vector<Matrix> adh, wr, dgu, wu;
    if (probes) adh = dgu = std::vector<Matrix>(std::size_t(blocks), Matrix(n, m));
    if (probes || stein) wr = wu = std::vector<Matrix>(std::size_t(blocks), Matrix(n, m));
    const Index tasks = (m + kColumns - 1) / kColumns;
    // Exact tangents: per task, the summed Jacobian columns (small problems only).
    std::vector<std::vector<RowMatrix>> A_part, B_part;
    if (exact_tangent) A_part = B_part = std::vector<std::vector<RowMatrix>>(std::size_t(tasks), std::vector<RowMatrix>(std::size_t(blocks), RowMatrix::Zero(n, n)));
#pragma omp parallel for schedule(dynamic, 1)
    for (Index task = 0; task < tasks; ++task) {
      const Index c0 = task * kColumns, mm = std::min(kColumns, m - c0);
      // Normals of each sample from streams named by (seed, purpose, block, sample index).
      Matrix zx(P, mm);
      ResidualSources src;
      src.xi.resize(mm);
      std::vector<Matrix> zu(std::size_t(blocks), Matrix(n, mm)), zr = zu, pr_r, pr_u;
      if (probes) pr_r = pr_u = zu;
      for (Index i = 0; i < mm; ++i) {
        const auto index = u64(first + c0 + i);
        RandomStream rx(pr.seed, StreamPurpose::source, kInputStream, index);
        for (Index k = 0; k < P; ++k) zx(k, i) = rx.normal();
        src.xi[i] = rx.normal();
        for (int b = 0; b < blocks; ++b) {
          const auto bi = std::size_t(b);
          RandomStream ru(pr.seed, StreamPurpose::source, kBranchStream + u64(b), index);
          RandomStream rr(pr.seed, StreamPurpose::source, kBackStream + u64(b), index);
          for (Index k = 0; k < n; ++k) zu[bi](k, i) = ru.normal();
          for (Index k = 0; k < n; ++k) zr[bi](k, i) = rr.normal();
          if (!probes) continue;
          RandomStream wr_s(pr.seed, StreamPurpose::source, kProbeR + u64(b), index);
          RandomStream wu_s(pr.seed, StreamPurpose::source, kProbeU + u64(b), index);
          for (Index k = 0; k < n; ++k) pr_r[bi](k, i) = (wr_s.next_u64() >> 63) ? 1.0 : -1.0;
          for (Index k = 0; k < n; ++k) pr_u[bi](k, i) = (wu_s.next_u64() >> 63) ? 1.0 : -1.0;
        }
      }
      src.u1 = root_x.draw(zx);
      for (int b = 0; b < blocks; ++b) {
        src.u.push_back(root_u[std::size_t(b)].draw(zu[std::size_t(b)]));
        src.r.push_back(root_r[std::size_t(b)].draw(zr[std::size_t(b)]));
      }
      ResidualPaths paths;
      residual_sweep(pr.activation, cp, src, paths);
      for (int l = 0; l < L; ++l) {
        phi[std::size_t(l)].middleCols(c0, mm) = paths.phi[std::size_t(l)];
        g[std::size_t(l)].middleCols(c0, mm) = paths.g[std::size_t(l)];
      }
      zL.middleCols(c0, mm) = paths.zL;
      if (stein) {
        for (int b = 0; b < blocks; ++b) {
          wr[std::size_t(b)].middleCols(c0, mm) = zr[std::size_t(b)];
          wu[std::size_t(b)].middleCols(c0, mm) = zu[std::size_t(b)];
        }
      } else if (probes) {
        const std::vector<Matrix> none(nB);
        ResidualTangents tr, tu;
        residual_tangent_sweep(pr.activation, cp, &paths, pr_r, none, mm, tr);  // sweep 1: dr = ω_r
        residual_tangent_sweep(pr.activation, cp, &paths, none, pr_u, mm, tu);  // sweep 2: du = ω_u
        for (int b = 0; b < blocks; ++b) {
          const auto bi = std::size_t(b);
          adh[bi].middleCols(c0, mm) = tr.adh[bi];  // φ'(h) dh of sweep 1
          wr[bi].middleCols(c0, mm) = pr_r[bi];
          dgu[bi].middleCols(c0, mm) = tu.dg[bi + 1];
          wu[bi].middleCols(c0, mm) = pr_u[bi];
        }
      } else if (exact_tangent) {
        // R1: one tangent per direction (block b, coordinate d), the same for all samples.
        std::vector<Matrix> dirs(nB);
        ResidualTangents tan;
        for (int b = 0; b < blocks; ++b)
          for (Index d = 0; d < n; ++d) {
            const auto bi = std::size_t(b);
            Matrix unit = Matrix::Zero(n, mm);
            unit.row(d).setOnes();
            dirs[bi] = unit;
            residual_tangent_sweep(pr.activation, cp, &paths, dirs, std::vector<Matrix>(nB), mm, tan);
            A_part[std::size_t(task)][bi].col(d) = paths.dphi[bi].cwiseProduct(tan.dh[bi]).rowwise().sum();
            residual_tangent_sweep(pr.activation, cp, &paths, std::vector<Matrix>(nB), dirs, mm, tan);
            B_part[std::size_t(task)][bi].col(d) = tan.dg[bi + 1].rowwise().sum();
            dirs[bi].resize(0, 0);
          }
      }
    }
    // Per batch: kernels and response sums, each accumulator touched by one task (deterministic).
    const int products = 2 * L + (probes || stein ? 2 * blocks : 0);
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < products; ++j) {
      const double w = double(m) / double(S);
      if (j < L) acc_phi[std::size_t(j)].add(phi[std::size_t(j)], w);
      else if (j < 2 * L) acc_g[std::size_t(j - L)].add(g[std::size_t(j - L)], w);
      else if (j < 2 * L + blocks) {
        const auto b = std::size_t(j - 2 * L);
        if (stein) A_sum[b] += stein_moment(phi[b], wr[b]);
        else A_sum[b].noalias() += adh[b] * wr[b].transpose();
      } else {
        const auto b = std::size_t(j - 2 * L - blocks);
        if (stein) B_sum[b] += stein_moment(g[b + 1], wu[b]);
        else B_sum[b].noalias() += dgu[b] * wu[b].transpose();
      }
    }
    for (std::size_t task = 0; task < A_part.size(); ++task)
      for (std::size_t b = 0; b < std::size_t(blocks); ++b) {
        A_sum[b] += A_part[task][b];
        B_sum[b] += B_part[task][b];
      }
    readout.add(zL, phi.back(), P);
  }

  out.layers.resize(std::size_t(L));
  for (int l = 0; l < L; ++l) {
    KernelEstimate ephi = acc_phi[std::size_t(l)].finish(batches), eg = acc_g[std::size_t(l)].finish(batches);
    out.relative_noise = std::max({out.relative_noise, ephi.relative_noise, eg.relative_noise});
    LayerKernels& k = out.layers[std::size_t(l)];
    k.Phi = std::move(ephi.mean);
    k.G = std::move(eg.mean);
    k.Phi_se = std::move(ephi.se);
    k.G_se = std::move(eg.se);
  }
  for (int b = 0; responses && b < blocks; ++b) {
    RowMatrix A = A_sum[std::size_t(b)] / double(S), B = B_sum[std::size_t(b)] / double(S);
    mask_causal(A, T, P, true);
    mask_causal(B, T, P, false);
    if (stein) {  // ⟨f εᵀ⟩ = ⟨∂f/∂x⟩ R for x = R ε (Stein's lemma), R lower triangular: causal
      A = root_r[std::size_t(b)].times_inverse(A);
      B = root_u[std::size_t(b)].times_inverse(B);
    }
    out.layers[std::size_t(b)].A = as_response(std::move(A), T, P);
    out.layers[std::size_t(b)].B = as_response(std::move(B), T, P);
  }
  out.output = readout.sum / (double(S) * pr.gamma0);
  const RowMatrix mean = readout.sum / double(S);
  const RowMatrix var = ((readout.sum2 / double(S) - mean.cwiseProduct(mean)) * (double(S) / double(S - 1))).cwiseMax(0.0);
  out.output_se = (var / double(S)).cwiseSqrt() / pr.gamma0;
  out.flops = resnet_iteration_flops(pr, false);
  return out;
}

SiteAverages exact_linear_resnet(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) {
  const int L = pr.depth, blocks = L - 1;
  const Index T = pr.T, P = pr.P(), n = pr.n();
  const ResidualCouplings cp(pr, state, delta);
  const std::size_t nB = std::size_t(blocks);
  SiteAverages out;
  out.sources.min_eigenvalue = std::numeric_limits<double>::infinity();
  // Pseudo-samples: the columns of the symmetric roots of Kx, Φ^l, G^{l+1}, and ξ = 1, one
  // source block each. Linear fields make Σ_columns F Fᵀ = Σ_b F_b C_b F_bᵀ exactly (§4).
  std::vector<Matrix> root_u, root_r;
  const GaussianSource rx = GaussianSource::symmetric_root(pr.data->Kx);
  out.sources.note(rx.report());
  for (int b = 0; b < blocks; ++b) {
    const GaussianSource su = GaussianSource::symmetric_root(state.layers[std::size_t(b)].Phi);
    const GaussianSource sr = GaussianSource::symmetric_root(state.layers[std::size_t(b + 1)].G);
    out.sources.note(su.report());
    out.sources.note(sr.report());
    root_u.push_back(su.factor());
    root_r.push_back(sr.factor());
  }
  const Index columns = P + 2 * Index(blocks) * n + 1;
  const Index tasks = (columns + kColumns - 1) / kColumns;
  const std::size_t nT = std::size_t(tasks);
  std::vector<std::vector<Matrix>> phi_parts(nT), g_parts(nT);
  std::vector<Matrix> zL_parts(nT);
#pragma omp parallel for schedule(dynamic, 1)
  for (Index task = 0; task < tasks; ++task) {
    const Index c0 = task * kColumns, mm = std::min(kColumns, columns - c0);
    ResidualSources src;
    src.u1 = Matrix::Zero(P, mm);
    src.xi = Eigen::RowVectorXd::Zero(mm);
    src.u.assign(std::size_t(blocks), Matrix::Zero(n, mm));
    src.r = src.u;
    for (Index i = 0; i < mm; ++i) {
      Index c = c0 + i;
      if (c < P) { src.u1.col(i) = rx.factor().col(c); continue; }
      c -= P;
      if (c < Index(blocks) * n) { src.u[std::size_t(c / n)].col(i) = root_u[std::size_t(c / n)].col(c % n); continue; }
      c -= Index(blocks) * n;
      if (c < Index(blocks) * n) { src.r[std::size_t(c / n)].col(i) = root_r[std::size_t(c / n)].col(c % n); continue; }
      src.xi[i] = 1.0;
    }
    ResidualPaths paths;
    residual_sweep(pr.activation, cp, src, paths);
    phi_parts[std::size_t(task)] = std::move(paths.phi);
    g_parts[std::size_t(task)] = std::move(paths.g);
    zL_parts[std::size_t(task)] = std::move(paths.zL);
  }
  out.layers.resize(std::size_t(L));
#pragma omp parallel for schedule(dynamic, 1)
  for (int j = 0; j < 2 * L; ++j) {
    TwoTime K = TwoTime::Zero(n, n);
    for (Index task = 0; task < tasks; ++task) {
      const Matrix& F = j < L ? phi_parts[std::size_t(task)][std::size_t(j)] : g_parts[std::size_t(task)][std::size_t(j - L)];
      K.noalias() += F * F.transpose();
    }
    K = (0.5 * (K + K.transpose())).eval();
    (j < L ? out.layers[std::size_t(j)].Phi : out.layers[std::size_t(j - L)].G) = std::move(K);
  }
  ReadoutSums readout;
  for (Index task = 0; task < tasks; ++task) readout.add(zL_parts[std::size_t(task)], phi_parts[std::size_t(task)].back(), P);
  out.output = readout.sum / pr.gamma0;
  out.output_se = RowMatrix::Zero(T, P);
  // Responses: A^l = ∂h^l/∂r^l, B^l = ∂g^{l+1}/∂u^{l+1} (φ' = 1), one tangent column per direction.
  if (pr.responses && blocks > 0) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < 2 * blocks; ++j) {
      const auto b = std::size_t(j % blocks);
      std::vector<Matrix> probe(nB), none(nB);
      probe[b] = Matrix::Identity(n, n);
      ResidualTangents tan;
      if (j < blocks) {
        residual_tangent_sweep(pr.activation, cp, nullptr, probe, none, n, tan);
        RowMatrix A = tan.dh[b];
        mask_causal(A, T, P, true);
        out.layers[b].A = as_response(std::move(A), T, P);
      } else {
        residual_tangent_sweep(pr.activation, cp, nullptr, none, probe, n, tan);
        RowMatrix B = tan.dg[b + 1];
        mask_causal(B, T, P, false);
        out.layers[b].B = as_response(std::move(B), T, P);
      }
    }
  }
  out.relative_noise = 0.0;
  out.flops = resnet_iteration_flops(pr, true);
  return out;
}

double resnet_iteration_flops(const Problem& pr, bool exact_linear) {
  const int L = pr.depth, blocks = L - 1;
  const double n = double(pr.n()), sweep = residual_sweep_flops(L, pr.T, pr.P());
  if (exact_linear) {
    const double columns = double(pr.P()) + 2.0 * blocks * n + 1;
    return columns * sweep + (pr.responses ? 2.0 * blocks * n * sweep : 0.0) + 2.0 * L * n * n * columns;
  }
  const double S = double(pr.samples);
  const bool responses = pr.responses && blocks > 0;
  double f = S * sweep + 2.0 * L * n * n * S + 2.0 * blocks * 2.0 * n * n * S;  // sweep, kernels, sources
  if (responses && pr.response_estimator == ResponseEstimator::exact_tangent) f += S * 2.0 * blocks * n * sweep;
  else if (responses && pr.response_estimator == ResponseEstimator::stein) f += 2.0 * blocks * (2.0 * n * n * S + n * n * n);
  else if (responses) f += S * 2.0 * sweep + 2.0 * blocks * 2.0 * n * n * S;
  return f;
}

}  // namespace dmft
