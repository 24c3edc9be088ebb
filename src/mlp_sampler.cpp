#include "dmft/mlp_sampler.hpp"

#include <cmath>

#include "dmft/feature_memory.hpp"
#include "dmft/kernel_estimator.hpp"
#include "dmft/rng.hpp"
#include "dmft/static_kernels.hpp"

namespace dmft {
namespace {

unsigned long long u64(Index i) { return static_cast<unsigned long long>(i); }

}  // namespace

MlpLayer::MlpLayer(const Problem& pr, const OrderParameters& state, const RowMatrix& delta, int layer)
    : pr_(pr), layer_(layer) {
  const int L = pr.depth;
  const Index n = pr.n();
  const double s2 = pr.sigma * pr.sigma, c = pr.coupling();
  const bool responses = pr.responses;
  // Sources.
  // n×n sources: Cholesky with a fixed relative jitter on the scale of the t = 0 block, so that
  // the draws are continuous and causal (independent of T).
  auto causal_root = [&](const TwoTime& K) {
    return std::make_unique<GaussianSource>(GaussianSource::causal_root(s2 * Matrix(K), pr.P()));
  };
  if (layer == 1) {
    u_root_ = std::make_unique<GaussianSource>(GaussianSource::symmetric_root(s2 * pr.data->Kx));
  } else {
    u_root_ = causal_root(state.layers[layer - 2].Phi);
  }
  if (layer < L) r_root_ = causal_root(state.layers[layer].G);
  // C^l: tiled c·Kx on layer 1, dense otherwise.
  C_.c = c;
  if (layer == 1) {
    C_.K = pr.data->Kx;
  } else {
    C_dense_ = TwoTime::Zero(n, n);
    const Response& A = state.layers[layer - 2].A;
    if (responses && !A.empty()) C_dense_ += s2 * A.values;
    add_feature_memory(C_dense_, state.layers[layer - 2].Phi, c, delta);
    C_.dense = &C_dense_;
  }
  // D^l: tiled c·11ᵀ on layer L, dense (with the equal-time blocks of B^l) otherwise.
  D_.c = c;
  if (layer == L) {
    D_.K = Matrix::Ones(pr.P(), pr.P());
  } else {
    D_dense_ = TwoTime::Zero(n, n);
    const Response& B = state.layers[layer - 1].B;
    if (responses && !B.empty()) D_dense_ += s2 * B.values;
    add_feature_memory(D_dense_, state.layers[layer].G, c, delta);
    D_.dense = &D_dense_;
    D_.dense_equal_time = true;
  }
  delta_ = &delta;
}

LayerSweep MlpLayer::make_sweep(Index chunk) const {
  const Index P = pr_.P(), n = pr_.n(), T = pr_.T, first = chunk * kSampleChunk;
  const Index m = std::min(kSampleChunk, pr_.samples - first);
  const Index nu = layer_ == 1 ? P : n, nr = r_root_ ? n : 1;
  // Normals are read in time order and the n×n sources use a lower triangular (Cholesky)
  // factor, so the draws up to time t do not depend on T (causal sampling). Layer 1 reads r
  // after its P (T-independent) normals of u; deeper layers read r from a stream of its own.
  Matrix zu(nu, m), zr(nr, m);
  for (Index i = 0; i < m; ++i) {
    RandomStream rs(pr_.seed, StreamPurpose::source, u64(layer_), u64(first + i));
    RandomStream rs_r(pr_.seed, StreamPurpose::source, u64(layer_) + (1ULL << 32), u64(first + i));
    for (Index k = 0; k < nu; ++k) zu(k, i) = rs.normal();
    RandomStream& r_stream = layer_ == 1 ? rs : rs_r;
    for (Index k = 0; k < nr; ++k) zr(k, i) = r_stream.normal();
  }
  Matrix u = layer_ == 1 ? Matrix(u_root_->draw(zu).replicate(T, 1)) : u_root_->draw(zu);
  Matrix r = r_root_ ? r_root_->draw(zr) : Matrix((pr_.sigma * zr).replicate(n, 1));
  return LayerSweep(pr_.activation, T, P, C_, D_, std::move(u), std::move(r));
}

TwoTime MlpLayer::dense_C() const {
  if (C_.dense) return *C_.dense;
  TwoTime out = TwoTime::Zero(pr_.n(), pr_.n());
  add_feature_memory(out, pr_.data->Kx.replicate(pr_.T, pr_.T), C_.c, *delta_);
  return out;
}

TwoTime MlpLayer::dense_D() const {
  if (D_.dense) return *D_.dense;
  TwoTime out = TwoTime::Zero(pr_.n(), pr_.n());
  add_feature_memory(out, TwoTime::Ones(pr_.n(), pr_.n()), D_.c, *delta_);
  return out;
}

FactorReport MlpLayer::source_report() const {
  FactorReport r = u_root_->report();
  if (r_root_) {
    const FactorReport& q = r_root_->report();
    if (q.min_eigenvalue < r.min_eigenvalue || std::isnan(r.min_eigenvalue)) r.min_eigenvalue = q.min_eigenvalue;
    r.clipped_mass = std::max(r.clipped_mass, q.clipped_mass);
    r.jitter = std::max(r.jitter, q.jitter);
  }
  return r;
}

void LayerSamples::store(Index chunk, const LayerSweep& sw, bool readout, Index T, Index P) {
  const Index first = chunk * kSampleChunk, m = sw.samples();
  phi.middleCols(first, m) = sw.phi();
  g.middleCols(first, m) = sw.g();
  if (readout)
    for (Index t = 0; t < T; ++t) z_readout.block(t, first, 1, m) = sw.z().row(t * P);
}

LayerKernels layer_kernels(const LayerSamples& s, double& relative_noise) {
  KernelEstimate phi = estimate_kernel(s.phi), g = estimate_kernel(s.g);
  relative_noise = std::max({relative_noise, phi.relative_noise, g.relative_noise});
  LayerKernels k;
  k.Phi = std::move(phi.mean);
  k.G = std::move(g.mean);
  k.Phi_se = std::move(phi.se);
  k.G_se = std::move(g.se);
  return k;
}

void readout_average(const Problem& pr, const LayerSamples& s, RowMatrix& f, RowMatrix& f_se) {
  const Index P = pr.P(), S = pr.samples;
  f.resize(pr.T, P);
  f_se.resize(pr.T, P);
#pragma omp parallel for
  for (Index t = 0; t < pr.T; ++t)
    for (Index mu = 0; mu < P; ++mu) {
      double sum = 0, sum2 = 0;
      for (Index i = 0; i < S; ++i) {
        const double v = s.z_readout(t, i) * s.phi(t * P + mu, i) - s.z_readout(0, i) * s.phi(mu, i);
        sum += v;
        sum2 += v * v;
      }
      const double mean = sum / double(S);
      const double var = std::max(sum2 / double(S) - mean * mean, 0.0) * double(S) / double(S - 1);
      f(t, mu) = mean / pr.gamma0;
      f_se(t, mu) = std::sqrt(var / double(S)) / pr.gamma0;
    }
}

namespace {

/// Per-sample pathwise responses of one chunk, summed (§3.4.2).
void chunk_responses(const Problem& pr, const LayerSweep& sw, const TwoTime& C, const TwoTime& D, bool want_A,
                     bool want_B, Matrix& A_sum, Matrix& B_sum) {
  const Index n = pr.n(), P = pr.P();
  ResponseWorkspace work(n);
  Vector a(n), b(n);
  for (Index i = 0; i < sw.samples(); ++i) {
    a = sw.dphi().col(i);
    for (Index k = 0; k < n; ++k) b[k] = pr.activation.ddphi(sw.h()(k, i)) * sw.z()(k, i);
    add_pathwise_responses(C, D, a, b, P, want_A, want_B, A_sum, B_sum, work);
  }
}

}  // namespace

Index response_block_width(Index P) { return P * std::max<Index>(1, 64 / P); }

double pathwise_response_flops(double n, bool want_A, bool want_B) {
  // M: Σ_blocks 2·w·e² ≈ 2n³/3; A: triangular solves on the causal columns ≈ n³/3; B: ≈ n³/3.
  return (2.0 / 3.0) * n * n * n + (want_A ? n * n * n / 3.0 : 0.0) + (want_B ? n * n * n / 3.0 : 0.0);
}

void add_pathwise_responses(const TwoTime& C, const TwoTime& D, const Vector& a, const Vector& b, Index P,
                            bool want_A, bool want_B, Matrix& A_sum, Matrix& B_sum, ResponseWorkspace& w,
                            Index block) {
  const Index n = C.rows(), bw = block > 0 ? block : response_block_width(P);
  Matrix& M = w.M;
  Matrix& R = w.R;
  Matrix& X = w.X;
  // R = diag(a) D diag(a): block-lower in time, with equal-time blocks.
  R.noalias() = a.asDiagonal() * D * a.asDiagonal();
  // M = I − C diag(b) − C R. Row block [r0, r0+w) ends at time t1 = (r0+w)/P − 1; C reaches only
  // columns before t1·P, and so does R restricted to those rows: work on the leading e columns.
  M.setZero();
  for (Index r0 = 0; r0 < n; r0 += bw) {
    const Index rows = std::min(bw, n - r0), e = r0 + rows - P;
    if (e > 0) {
      auto Cb = C.block(r0, 0, rows, e);
      M.block(r0, 0, rows, e).noalias() = -(Cb * b.head(e).asDiagonal());
      M.block(r0, 0, rows, e).noalias() -= Cb * R.topLeftCorner(e, e);
    }
  }
  M.diagonal().array() += 1.0;
  if (want_A) {
    // A = diag(a) M⁻¹ C diag(a): the right-hand side is strictly block-lower, so column block
    // [c0, c0+w) is zero above row c0 + P, and so is the solution.
    for (Index c0 = 0; c0 < n; c0 += bw) {
      const Index cols = std::min(bw, n - c0), r = c0 + P;
      if (r >= n) break;
      auto Xb = X.block(r, c0, n - r, cols);
      Xb.noalias() = C.block(r, c0, n - r, cols) * a.segment(c0, cols).asDiagonal();
      M.block(r, r, n - r, n - r).triangularView<Eigen::UnitLower>().solveInPlace(Xb);
      A_sum.block(r, c0, n - r, cols).noalias() += a.segment(r, n - r).asDiagonal() * Xb;
    }
  }
  if (want_B) {
    // B = (R + diag(b)) M⁻¹: row block [r0, r0+w) has entries only before r0 + w.
    R.diagonal() += b;
    for (Index r0 = 0; r0 < n; r0 += bw) {
      const Index rows = std::min(bw, n - r0), e = r0 + rows;
      auto Xb = X.block(r0, 0, rows, e);
      Xb = R.block(r0, 0, rows, e);
      M.topLeftCorner(e, e).triangularView<Eigen::UnitLower>().solveInPlace<Eigen::OnTheRight>(Xb);
      B_sum.block(r0, 0, rows, e) += Xb;
    }
  }
}

std::vector<StaticLayer> mlp_static_kernels(const Problem& pr) {
  const int L = pr.depth;
  const double s2 = pr.sigma * pr.sigma;
  std::vector<Matrix> phi(L + 1), dphi(L + 1);  // phi[l] = Φ^l_st; dphi[l] = V_φ'(σ²Φ^{l−1}_st)
  phi[0] = pr.data->Kx;
  for (int l = 1; l <= L; ++l) {
    phi[l] = gaussian_phi_kernel(pr.activation, s2 * phi[l - 1]);
    dphi[l] = gaussian_dphi_kernel(pr.activation, s2 * phi[l - 1]);
  }
  std::vector<StaticLayer> out(L);
  Matrix G = Matrix::Ones(pr.P(), pr.P());  // G^{L+1} = 1
  for (int l = L; l >= 1; --l) {
    G = s2 * G.cwiseProduct(dphi[l]);
    out[l - 1] = StaticLayer{phi[l], G};
  }
  return out;
}

SiteAverages sample_mlp(const Problem& pr, const OrderParameters& state, const RowMatrix& delta) {
  const int L = pr.depth;
  const Index n = pr.n(), S = pr.samples, T = pr.T, P = pr.P();
  SiteAverages out;
  out.layers.resize(L);
  out.sources.min_eigenvalue = std::numeric_limits<double>::infinity();
  const double kernel_flops = 2.0 * kernel_estimate_flops(double(n), double(S));
  for (int l = 1; l <= L; ++l) {
    const MlpLayer layer(pr, state, delta, l);
    const bool readout = l == L;
    const bool want_A = pr.responses && l < L, want_B = pr.responses && l > 1;
    LayerSamples samples;
    samples.phi.resize(n, S);
    samples.g.resize(n, S);
    if (readout) samples.z_readout.resize(T, S);
    const Index chunks = layer.chunks();
    // Chunks are processed in a fixed number of groups, each a contiguous run of chunks in
    // order, with one response accumulator per group: memory O(groups·n²) whatever S, and sums
    // that do not depend on the thread count.
    const Index groups = std::min<Index>(chunks, kResponseGroups);
    TwoTime Cd, Dd;
    std::vector<Matrix> A_parts, B_parts;
    if (want_A || want_B) {
      Cd = layer.dense_C();
      Dd = layer.dense_D();
      if (want_A) A_parts.assign(groups, Matrix::Zero(n, n));
      if (want_B) B_parts.assign(groups, Matrix::Zero(n, n));
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (Index grp = 0; grp < groups; ++grp) {
      Matrix dummy;
      for (Index j = chunks * grp / groups; j < chunks * (grp + 1) / groups; ++j) {
        LayerSweep sweep = layer.make_sweep(j);
        sweep.run(delta);
        samples.store(j, sweep, readout, T, P);
        if (want_A || want_B)
          chunk_responses(pr, sweep, Cd, Dd, want_A, want_B, want_A ? A_parts[grp] : dummy,
                          want_B ? B_parts[grp] : dummy);
      }
    }
    LayerKernels& k = out.layers[l - 1];
    k = layer_kernels(samples, out.relative_noise);
    // Sum the chunks in a fixed order (thread-independent), then average.
    auto total = [&](std::vector<Matrix>& parts) {
      for (Index j = 1; j < groups; ++j) parts[0] += parts[j];
      return RowMatrix(parts[0] / double(S));
    };
    const std::vector<unsigned long long> shape{u64(T), u64(P), u64(T), u64(P)};
    if (want_A) k.A = Response{total(A_parts), shape, "t,mu,s,nu"};
    if (want_B) out.layers[l - 2].B = Response{total(B_parts), shape, "t,mu,s,nu"};
    if (readout) readout_average(pr, samples, out.output, out.output_se);
    out.sources.note(layer.source_report());
    out.flops += kernel_flops + (l > 1 ? 2.0 * n * n * double(S) : 0.0) + (l < L ? 2.0 * n * n * double(S) : 0.0);
    if (want_A || want_B) out.flops += double(S) * pathwise_response_flops(double(n), want_A, want_B);
  }
  return out;
}

}  // namespace dmft
