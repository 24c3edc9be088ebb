#include "dmft/attention_m0_limit_b.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "dmft/error_update.hpp"
#include "dmft/errors.hpp"
#include "dmft/rng.hpp"

namespace dmft {
namespace {

// Stream "layer" id of the Gaussian-logit law's D×D matrices Z (purpose source).
constexpr std::uint64_t kGaussianLogitStream = 7100;

void check_sampling(Index N, Index head_samples) {
  throw_violations(head_shape_violations(N, head_samples, "head_samples", 2, kHeadSamplesRule));
}

/// N⁻¹ W^{Qᵀ} W^K (D×D) of head κ: its key/query moment Σ, so that A_μ = N^{1−α_A} X_μ Σ X_μᵀ / D.
Matrix query_key_moment(Index N, Index D, Index head, std::uint64_t seed) {
  return attention_m0_head_tensor(N, D, head, 0, seed).transpose() * attention_m0_head_tensor(N, D, head, 1, seed) /
         double(N);
}

/// The t = 0 logits of head κ under `law` (P matrices S×S).
std::vector<RowMatrix> head_logits(const SequenceData& data, const AttentionM0Options& opt, Index N, Index head,
                                   std::uint64_t seed, M0LogitLaw law) {
  Matrix Z;
  double scale;
  if (law == M0LogitLaw::finite_width) {
    Z = query_key_moment(N, data.D, head, seed);
    scale = std::pow(double(N), 1.0 - opt.alpha_a) / double(data.D);
  } else {
    RandomStream rs(seed, StreamPurpose::source, kGaussianLogitStream, std::uint64_t(head));
    Z.resize(data.D, data.D);
    for (Index i = 0; i < Z.size(); ++i) Z.data()[i] = rs.normal();
    scale = std::pow(double(N), 0.5 - opt.alpha_a) / double(data.D);
  }
  std::vector<RowMatrix> A;
  A.reserve(std::size_t(data.P));
  for (const RowMatrix& X : data.X) A.push_back(scale * X * Z * X.transpose());
  return A;
}

}  // namespace

double batch_se(const HeadBatches& hb, const std::vector<double>& means, double total) {
  double ss = 0;
  for (Index b = 0; b < hb.B; ++b) {
    const double w = double(hb.size(b)) / double(hb.n);
    ss += w * w * (means[std::size_t(b)] - total) * (means[std::size_t(b)] - total);
  }
  return std::sqrt(ss * double(hb.B) / double(hb.B - 1));
}

double batch_se(const HeadBatches& hb, const std::vector<double>& means) {
  double mean = 0;
  for (Index b = 0; b < hb.B; ++b) mean += double(hb.size(b)) * means[std::size_t(b)];
  return batch_se(hb, means, mean / double(hb.n));
}

// ---------------------------------------------------------------------------------------------
// t = 0 head statistics (attention.md §3.6, §4.1)

std::vector<RowMatrix> attention_m0_initial_logits(const SequenceData& data, const AttentionM0Options& opt, Index N,
                                                   Index head, std::uint64_t seed) {
  data.validate();
  opt.validate();
  if (N < 1) throw InputError("N", std::to_string(N), "the head dimension must be at least 1");
  if (head < 0) throw InputError("head", std::to_string(head), "head indices start at 0");
  return head_logits(data, opt, N, head, seed, M0LogitLaw::finite_width);
}

RowMatrix attention_m0_token_kernel(const SequenceData& data) {
  data.validate();
  const RowMatrix X = data.stacked_tokens();
  return X * X.transpose() / double(data.D);
}

namespace {
/// Σ̃ K Σ̃ᵀ with Σ̃ = blockdiag_μ(σ_μ): block (μ, ν) is σ_μ K_{μν} σ_νᵀ.
RowMatrix sandwich(const std::vector<RowMatrix>& sigma, const RowMatrix& K) {
  const Index P = Index(sigma.size()), S = sigma[0].rows();
  RowMatrix left(P * S, P * S), out(P * S, P * S);
  for (Index mu = 0; mu < P; ++mu) left.middleRows(mu * S, S).noalias() = sigma[std::size_t(mu)] * K.middleRows(mu * S, S);
  for (Index mu = 0; mu < P; ++mu)
    for (Index nu = 0; nu < P; ++nu)
      out.block(mu * S, nu * S, S, S).noalias() = left.block(mu * S, nu * S, S, S) * sigma[std::size_t(nu)].transpose();
  return out;
}
}  // namespace

HeadAverage attention_m0_phi_o0(const SequenceData& data, const AttentionM0Options& opt, Index N, Index head_samples,
                                std::uint64_t seed, M0LogitLaw law, M0AttentionMap map) {
  data.validate();
  opt.validate();
  check_sampling(N, head_samples);
  if (map == M0AttentionMap::identity && opt.causal_mask)
    throw InputError("causal_mask", "true", "identity attention (sigma = A) is defined without a mask only (attention.md §4.1)");
  const RowMatrix K = attention_m0_token_kernel(data);
  const Index n = data.P * data.S;
  const HeadBatches hb(head_samples);
  HeadAverage out;
  out.samples = head_samples;
  out.batch_means.assign(std::size_t(hb.B), RowMatrix::Zero(n, n));
  out.batch_sizes.resize(std::size_t(hb.B));
#pragma omp parallel for schedule(dynamic, 1)
  for (Index b = 0; b < hb.B; ++b) {
    RowMatrix& sum = out.batch_means[std::size_t(b)];
    for (Index head = hb.begin(b); head < hb.end(b); ++head) {
      std::vector<RowMatrix> sigma = head_logits(data, opt, N, head, seed, law);
      if (map == M0AttentionMap::softmax)
        for (RowMatrix& s : sigma) s = masked_softmax(s, opt.causal_mask);
      sum += sandwich(sigma, K);
    }
    sum /= double(hb.size(b));
    out.batch_sizes[std::size_t(b)] = hb.size(b);
  }
  out.mean = RowMatrix::Zero(n, n);
  for (Index b = 0; b < hb.B; ++b) out.mean += (double(hb.size(b)) / double(head_samples)) * out.batch_means[std::size_t(b)];
  out.se.resize(n, n);
  std::vector<double> m(std::size_t(hb.B));
  for (Index i = 0; i < out.mean.size(); ++i) {
    for (Index b = 0; b < hb.B; ++b) m[std::size_t(b)] = out.batch_means[std::size_t(b)].data()[i];
    out.se.data()[i] = batch_se(hb, m, out.mean.data()[i]);
  }
  return out;
}

RowMatrix attention_m0_phi_o0_uniform(const SequenceData& data, const AttentionM0Options& opt) {
  data.validate();
  opt.validate();
  const RowMatrix sigma0 = masked_softmax(RowMatrix::Zero(data.S, data.S), opt.causal_mask);  // A = 0
  return sandwich(std::vector<RowMatrix>(std::size_t(data.P), sigma0), attention_m0_token_kernel(data));
}

// ---------------------------------------------------------------------------------------------
// Limit B (attention.md §3.2, §3.4)

namespace {

/// Heads are processed kLanes at a time: every head does the same arithmetic on its own moments,
/// so the innermost loop runs over the heads of a pack and vectorises.
constexpr Index kLanes = 4;

/// kLanes sampled heads in moment form (see the header), lane-interleaved: entry i of head r is
/// at [i·kLanes + r]. Per head: C1 = N⁻¹ Σ_i (θ^Q_i; θ^K_i)(θ^Q_i; θ^K_i)ᵀ (2D×2D, row-major),
/// C2 = N⁻¹ Σ_i (θ^V_i; w_i)(θ^V_i; w_i)ᵀ ((D+1)×(D+1)), and, per sequence, the Δ-independent
/// factors of the next step, Z_μ = X_μᵀ D_μ X_μ (D×D) and p_μ = X_μᵀ s_μ (D), so that
/// B = (P D)⁻¹ Σ_μ Δ_μ Z_μ and b = (P √D)⁻¹ Σ_μ Δ_μ p_μ once Δ(t) is known. A pack at the end of
/// a batch may hold fewer than kLanes heads (`used`); its other lanes repeat lane 0 and are ignored.
struct HeadPack {
  Index used = 0;
  std::vector<double> C1, C2, Z, p;
};

/// The computation of one step on a pack of heads, with its scratch buffers (one per batch).
class PackKernel {
 public:
  PackKernel(const SequenceData& data, const AttentionM0Options& opt, Index N)
      : data_(data), causal_(opt.causal_mask), P_(data.P), S_(data.S), D_(data.D), sqrtD_(std::sqrt(double(data.D))),
        logit_scale_(std::pow(double(N), 1.0 - opt.alpha_a) / double(data.D)),
        // Key/query step c_Q η γ0 N^{1−α_A}, c_Q = c_K = N^{2α_A−2} (§1.5, (H6)); value/readout η γ0.
        qk_step_(key_query_rate_factor(opt.alpha_a, N) * opt.eta * opt.gamma0 * std::pow(double(N), 1.0 - opt.alpha_a)),
        v_step_(opt.eta * opt.gamma0), lr_{opt.lr_q, opt.lr_k, opt.lr_v, opt.lr_w}, pi_(pooling_vector(opt.pool, data.S)),
        Sig_(lanes(D_ * D_)), m_(lanes(D_)), XS_(lanes(S_ * D_)), e_(lanes(S_)), s_(lanes(S_)), se_(lanes(S_)),
        DX_(lanes(S_ * D_)), Dm_(lanes(S_ * S_)), T1_(lanes(4 * D_ * D_)), M1_(lanes(4 * D_ * D_)),
        T2_(lanes((D_ + 1) * (D_ + 1))), M2_(lanes((D_ + 1) * (D_ + 1))), A_(P_ * S_ * S_ * kLanes),
        sig_(P_ * S_ * S_ * kLanes), nk_CQQ_(D_, D_), nk_CKK_(D_, D_), nk_CVV_(D_, D_), nk_p_(D_, P_),
        nk_Z_(D_, P_ * D_), nk_U_(D_, P_ * D_), nk_V_(D_, P_ * D_) {}

  /// The heads' logits and attention at their current moments (H2), their outputs
  /// F(μ) = N⁻¹ Σ_i w_i ō_i(μ) (lane r of F[μ·kLanes + r], overwritten) and the factors Z_μ, p_μ
  /// of their step (H5, H6). Afterwards logits() and attention() hold the P·S² logits and
  /// probabilities of every lane (entry ((μ·S + a)·S + b)·kLanes + r).
  void forward(HeadPack& h, double* F) {
    const Index P = P_, S = S_, D = D_, L = kLanes;
    for (Index l = 0; l < D; ++l) {
      for (Index j = 0; j < D; ++j)
        for (Index r = 0; r < L; ++r) Sig_[(l * D + j) * L + r] = h.C1[(l * 2 * D + D + j) * L + r];  // C1[Q,K]
      for (Index r = 0; r < L; ++r) m_[l * L + r] = h.C2[(l * (D + 1) + D) * L + r] / sqrtD_;           // C2[V,w]/√D
    }
    // (H2) A_ab = N^{−α_A} Σ_i q_i(a) k_i(b) = N^{1−α_A} x_a·C1[Q,K] x_b / D, σ = softmax_b(A + m):
    // all logits first, so that their exponentials are one vectorised call.
    for (Index mu = 0; mu < P; ++mu) {
      const double* X = data_.X[std::size_t(mu)].data();  // S×D row-major
      for (Index a = 0; a < S; ++a)
        for (Index j = 0; j < D; ++j) {
          double acc[kLanes] = {};
          for (Index l = 0; l < D; ++l)
            for (Index r = 0; r < L; ++r) acc[r] += X[a * D + l] * Sig_[(l * D + j) * L + r];
          for (Index r = 0; r < L; ++r) XS_[(a * D + j) * L + r] = acc[r];
        }
      for (Index a = 0; a < S; ++a) {
        const Index keys = causal_ ? a + 1 : S;
        double* row = A_.data() + (mu * S + a) * S * L;
        double top[kLanes];
        for (Index r = 0; r < L; ++r) top[r] = -HUGE_VAL;
        for (Index c = 0; c < S; ++c) {
          double acc[kLanes] = {};
          for (Index j = 0; j < D; ++j)
            for (Index r = 0; r < L; ++r) acc[r] += XS_[(a * D + j) * L + r] * X[c * D + j];
          for (Index r = 0; r < L; ++r) {
            row[c * L + r] = logit_scale_ * acc[r];
            if (c < keys) top[r] = std::max(top[r], row[c * L + r]);
          }
        }
        double* shifted = sig_.data() + (mu * S + a) * S * L;
        for (Index c = 0; c < S; ++c)
          for (Index r = 0; r < L; ++r) shifted[c * L + r] = c < keys ? row[c * L + r] - top[r] : 0.0;
      }
    }
    sig_ = sig_.exp();  // Eigen's aligned storage: the same vectorised path on every thread
    for (Index q = 0; q < P * S; ++q) {
      const Index keys = causal_ ? q % S + 1 : S;
      double* row = sig_.data() + q * S * L;
      double norm[kLanes] = {};
      for (Index c = 0; c < keys; ++c)
        for (Index r = 0; r < L; ++r) norm[r] += row[c * L + r];
      for (Index c = 0; c < keys; ++c)
        for (Index r = 0; r < L; ++r) row[c * L + r] /= norm[r];
      for (Index c = keys * L; c < S * L; ++c) row[c] = 0.0;  // m_ab = −∞: exactly no weight
    }
    for (Index mu = 0; mu < P; ++mu) {
      const double* X = data_.X[std::size_t(mu)].data();
      const double* sig = sig_.data() + mu * S * S * L;
      // (H3), (H5) with g^o_i(a) = π_a w_i (§3.4): E_ab = π_a e_b, e_b = N⁻¹ Σ_i w_i v_i(b) =
      // x_b·C2[V,w]/√D; with s = σᵀπ the head's output N⁻¹ Σ_i w_i ō_i is s·e.
      double out[kLanes] = {};
      for (Index c = 0; c < S; ++c) {
        double ec[kLanes] = {}, sc[kLanes] = {};
        for (Index l = 0; l < D; ++l)
          for (Index r = 0; r < L; ++r) ec[r] += X[c * D + l] * m_[l * L + r];
        for (Index a = 0; a < S; ++a)
          for (Index r = 0; r < L; ++r) sc[r] += pi_[a] * sig[(a * S + c) * L + r];
        for (Index r = 0; r < L; ++r) {
          e_[c * L + r] = ec[r];
          s_[c * L + r] = sc[r];
          out[r] += sc[r] * ec[r];
        }
      }
      for (Index r = 0; r < L; ++r) F[mu * L + r] = out[r];
      // D_ab = σ_ab (E_ab − Σ_c σ_ac E_ac) = π_a σ_ab (e_b − Σ_c σ_ac e_c); (H6) then moves the keys and
      // queries through Z = Xᵀ D X, the values and readout through p = Xᵀ s.
      for (Index a = 0; a < S; ++a) {
        double acc[kLanes] = {};
        for (Index c = 0; c < S; ++c)
          for (Index r = 0; r < L; ++r) acc[r] += sig[(a * S + c) * L + r] * e_[c * L + r];
        for (Index r = 0; r < L; ++r) se_[a * L + r] = acc[r];
      }
      for (Index a = 0; a < S; ++a)
        for (Index c = 0; c < S; ++c)
          for (Index r = 0; r < L; ++r)
            Dm_[(a * S + c) * L + r] = pi_[a] * sig[(a * S + c) * L + r] * (e_[c * L + r] - se_[a * L + r]);
      for (Index a = 0; a < S; ++a)
        for (Index j = 0; j < D; ++j) {
          double acc[kLanes] = {};
          for (Index c = 0; c < S; ++c)
            for (Index r = 0; r < L; ++r) acc[r] += Dm_[(a * S + c) * L + r] * X[c * D + j];
          for (Index r = 0; r < L; ++r) DX_[(a * D + j) * L + r] = acc[r];
        }
      double* Zm = h.Z.data() + mu * D * D * L;
      double* pm = h.p.data() + mu * D * L;
      for (Index l = 0; l < D; ++l) {
        for (Index j = 0; j < D; ++j) {
          double acc[kLanes] = {};
          for (Index a = 0; a < S; ++a)
            for (Index r = 0; r < L; ++r) acc[r] += X[a * D + l] * DX_[(a * D + j) * L + r];
          for (Index r = 0; r < L; ++r) Zm[(l * D + j) * L + r] = acc[r];
        }
        double acc[kLanes] = {};
        for (Index c = 0; c < S; ++c)
          for (Index r = 0; r < L; ++r) acc[r] += X[c * D + l] * s_[c * L + r];
        for (Index r = 0; r < L; ++r) pm[l * L + r] = acc[r];
      }
    }
  }

  /// One gradient step of every head of the pack with residuals Δ (§3.4 in parameter form, every
  /// coordinate linear in z_i): C1 ← T1 C1 T1ᵀ, C2 ← T2 C2 T2ᵀ.
  void step(HeadPack& h, const Vector& delta) {
    const Index P = P_, D = D_, L = kLanes;
    std::fill(T1_.begin(), T1_.end(), 0.0);
    std::fill(T2_.begin(), T2_.end(), 0.0);
    for (Index i = 0; i < 2 * D; ++i)
      for (Index r = 0; r < L; ++r) T1_[(i * 2 * D + i) * L + r] = 1.0;
    for (Index i = 0; i <= D; ++i)
      for (Index r = 0; r < L; ++r) T2_[(i * (D + 1) + i) * L + r] = 1.0;
    const double B_scale = qk_step_ / (double(P) * double(D)), b_scale = v_step_ / (double(P) * sqrtD_);
    for (Index l = 0; l < D; ++l) {
      for (Index j = 0; j < D; ++j) {
        double acc[kLanes] = {};
        for (Index mu = 0; mu < P; ++mu)
          for (Index r = 0; r < L; ++r) acc[r] += delta[mu] * h.Z[((mu * D + l) * D + j) * L + r];
        for (Index r = 0; r < L; ++r) {
          T1_[(l * 2 * D + D + j) * L + r] = lr_[0] * B_scale * acc[r];  // θ^Q_i += c_Q η γ0 N^{1−α_A} B θ^K_i
          T1_[((D + j) * 2 * D + l) * L + r] = lr_[1] * B_scale * acc[r];  // θ^K_i += c_K η γ0 N^{1−α_A} Bᵀ θ^Q_i
        }
      }
      double acc[kLanes] = {};
      for (Index mu = 0; mu < P; ++mu)
        for (Index r = 0; r < L; ++r) acc[r] += delta[mu] * h.p[(mu * D + l) * L + r];
      for (Index r = 0; r < L; ++r) {
        T2_[(l * (D + 1) + D) * L + r] = lr_[2] * b_scale * acc[r];  // θ^V_i += c_V η γ0 b w_i
        T2_[(D * (D + 1) + l) * L + r] = lr_[3] * b_scale * acc[r];  // w_i += c_w η γ0 b·θ^V_i
      }
    }
    congruence(T1_, h.C1, M1_, 2 * D);
    congruence(T2_, h.C2, M2_, D + 1);
  }

  const Eigen::ArrayXd& logits() const { return A_; }
  const Eigen::ArrayXd& attention() const { return sig_; }

  /// Adds the effective NTK of every used lane of `h` (after forward()) to K (P×P): per head
  /// (§3.4, with the head's own moments and factors Z_μ = X_μᵀ D_μ X_μ, p_μ = X_μᵀ s_μ),
  ///   K_μν = [λ_w p_μᵀ C2[V,V] p_ν + λ_V C2[w,w] p_μᵀ p_ν] / D
  ///        + [λ_Q tr(Z_ν C1[K,K] Z_μᵀ) + λ_K tr(Z_νᵀ C1[Q,Q] Z_μ)] / D²,
  /// the readout term c_w⟨ō ō⟩, the value term c_V Σ G^V∘K^x (g^v = s w) and the key/query terms
  /// c_X Σ G^X∘K^x (g^q = N^{1−α_A} D k: N^{2−2α_A} times c_Q = λ_Q N^{2α_A−2} leaves λ_Q).
  /// With U_ν = Z_ν C1[K,K] and V_μ = C1[Q,Q] Z_μ the traces are Frobenius products,
  /// ⟨U_ν, Z_μ⟩ and ⟨Z_ν, V_μ⟩: O(P D³ + P² D²) per head, in the kernel's scratch matrices.
  void add_ntk(const HeadPack& h, Matrix& K) {
    const Index P = P_, D = D_, L = kLanes;
    Matrix &CQQ = nk_CQQ_, &CKK = nk_CKK_, &CVV = nk_CVV_, &p = nk_p_, &Z = nk_Z_, &U = nk_U_, &V = nk_V_;
    for (Index r = 0; r < h.used; ++r) {
      for (Index l = 0; l < D; ++l)
        for (Index j = 0; j < D; ++j) {
          CQQ(l, j) = h.C1[(l * 2 * D + j) * L + r];
          CKK(l, j) = h.C1[((D + l) * 2 * D + D + j) * L + r];
          CVV(l, j) = h.C2[(l * (D + 1) + j) * L + r];
        }
      const double Cww = h.C2[(D * (D + 1) + D) * L + r];
      for (Index mu = 0; mu < P; ++mu)  // Z = [Z_0 … Z_{P−1}] (D × P·D), p (D × P)
        for (Index l = 0; l < D; ++l) {
          p(l, mu) = h.p[(mu * D + l) * L + r];
          for (Index j = 0; j < D; ++j) Z(l, mu * D + j) = h.Z[((mu * D + l) * D + j) * L + r];
        }
      K.noalias() += (lr_[3] / double(D)) * p.transpose() * CVV * p;
      K.noalias() += (lr_[2] * Cww / double(D)) * p.transpose() * p;
      for (Index mu = 0; mu < P; ++mu) {
        U.middleCols(mu * D, D).noalias() = Z.middleCols(mu * D, D) * CKK;
        V.middleCols(mu * D, D).noalias() = CQQ * Z.middleCols(mu * D, D);
      }
      const double scale = 1.0 / (double(D) * double(D));
      for (Index mu = 0; mu < P; ++mu)
        for (Index nu = 0; nu < P; ++nu)
          K(mu, nu) += scale * (lr_[0] * U.middleCols(nu * D, D).cwiseProduct(Z.middleCols(mu * D, D)).sum() +
                                lr_[1] * Z.middleCols(nu * D, D).cwiseProduct(V.middleCols(mu * D, D)).sum());
    }
  }

 private:
  static std::vector<double> lanes(Index size) { return std::vector<double>(static_cast<std::size_t>(size * kLanes)); }

  /// C ← T C Tᵀ lane by lane (n×n, row-major, lane-interleaved), M scratch.
  static void congruence(const std::vector<double>& T, std::vector<double>& C, std::vector<double>& M, Index n) {
    const Index L = kLanes;
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < n; ++j) {
        double acc[kLanes] = {};
        for (Index k = 0; k < n; ++k)
          for (Index r = 0; r < L; ++r) acc[r] += T[(i * n + k) * L + r] * C[(k * n + j) * L + r];
        for (Index r = 0; r < L; ++r) M[(i * n + j) * L + r] = acc[r];
      }
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < n; ++j) {
        double acc[kLanes] = {};
        for (Index k = 0; k < n; ++k)
          for (Index r = 0; r < L; ++r) acc[r] += M[(i * n + k) * L + r] * T[(j * n + k) * L + r];
        for (Index r = 0; r < L; ++r) C[(i * n + j) * L + r] = acc[r];
      }
  }

  const SequenceData& data_;
  bool causal_;
  Index P_, S_, D_;
  double sqrtD_, logit_scale_, qk_step_, v_step_;
  double lr_[4];  // λ_Q, λ_K, λ_V, λ_w (§1.5 multipliers on top of c_θ)
  Vector pi_;
  std::vector<double> Sig_, m_, XS_, e_, s_, se_, DX_, Dm_, T1_, M1_, T2_, M2_;
  Eigen::ArrayXd A_, sig_;
  Matrix nk_CQQ_, nk_CKK_, nk_CVV_, nk_p_, nk_Z_, nk_U_, nk_V_;  // add_ntk's scratch (one lane at a time)
};

/// The packs of heads begin … end − 1: their initial moments from the finite network's own draws
/// (attention_m0_head_weights), unused lanes repeating the pack's first head.
std::vector<HeadPack> initial_packs(Index begin, Index end, Index N, Index P, Index D, std::uint64_t seed) {
  std::vector<HeadPack> packs;
  for (Index first = begin; first < end; first += kLanes) {
    HeadPack h;
    h.used = std::min(kLanes, end - first);
    h.C1.resize(std::size_t(4 * D * D * kLanes));
    h.C2.resize(std::size_t((D + 1) * (D + 1) * kLanes));
    h.Z.assign(std::size_t(P * D * D * kLanes), 0.0);
    h.p.assign(std::size_t(P * D * kLanes), 0.0);
    for (Index r = 0; r < kLanes; ++r) {
      const std::array<Matrix, 4> w = attention_m0_head_weights(N, D, first + (r < h.used ? r : 0), seed);
      Matrix Z1(N, 2 * D), Z2(N, D + 1);
      Z1 << w[0], w[1];
      Z2 << w[2], w[3];
      const Matrix C1 = Z1.transpose() * Z1 / double(N), C2 = Z2.transpose() * Z2 / double(N);
      for (Index i = 0; i < 2 * D; ++i)
        for (Index j = 0; j < 2 * D; ++j) h.C1[std::size_t((i * 2 * D + j) * kLanes + r)] = C1(i, j);
      for (Index i = 0; i <= D; ++i)
        for (Index j = 0; j <= D; ++j) h.C2[std::size_t((i * (D + 1) + j) * kLanes + r)] = C2(i, j);
    }
    packs.push_back(std::move(h));
  }
  return packs;
}

/// One head batch: its heads in the coupled solve (driven by the common Δ of all heads) and in
/// the batch's replica (driven by the batch's own Δ_b), both from the same draws, and its sums.
struct HeadBatch {
  std::vector<HeadPack> coupled, replica;
  std::vector<double> F, F_replica, F0, F0_replica;  // P: Σ_κ F_κ(μ) now and at t = 0
  Eigen::ArrayXd A, sigma;                           // P·S²: Σ_κ A^κ, Σ_κ σ^κ of the coupled solve
  Vector replica_delta;                              // P: the replica's Δ_b(t)
  Matrix K, K_replica;                               // P×P: Σ_κ K_κ(t) of the coupled solve and of the replica
};

}  // namespace

AttentionM0Trajectory attention_m0_limit_b(const SequenceData& data, const AttentionM0Options& opt, Index N,
                                           Index head_samples, std::uint64_t seed, ErrorUpdate update) {
  data.validate();
  opt.validate();
  check_sampling(N, head_samples);
  const Index P = data.P, S = data.S, T = opt.T, n = head_samples;
  const HeadBatches hb(n);

  std::vector<HeadBatch> batches(static_cast<std::size_t>(hb.B));
#pragma omp parallel for schedule(dynamic, 1)
  for (Index b = 0; b < hb.B; ++b) {
    HeadBatch& batch = batches[std::size_t(b)];
    batch.coupled = initial_packs(hb.begin(b), hb.end(b), N, P, data.D, seed);
    batch.replica = batch.coupled;
    batch.replica_delta = data.y;
  }

  AttentionM0Trajectory out = AttentionM0Trajectory::sized(T, P, S, 1, true);
  // One kernel (scratch buffers) per batch, built once: batch b is handled by one task at a time.
  std::vector<PackKernel> kernels;
  kernels.reserve(std::size_t(hb.B));
  for (Index b = 0; b < hb.B; ++b) kernels.emplace_back(data, opt, N);

  Vector delta = data.y;
  for (Index t = 0; t < T; ++t) {
    // Every head's forward pass under its current state, in the coupled solve and in its replica.
#pragma omp parallel for schedule(dynamic, 1)
    for (Index b = 0; b < hb.B; ++b) {
      PackKernel& kernel = kernels[std::size_t(b)];
      HeadBatch& batch = batches[std::size_t(b)];
      batch.F.assign(std::size_t(P), 0.0);
      batch.F_replica.assign(std::size_t(P), 0.0);
      batch.A = Eigen::ArrayXd::Zero(P * S * S);
      batch.sigma = Eigen::ArrayXd::Zero(P * S * S);
      batch.K = Matrix::Zero(P, P);
      batch.K_replica = Matrix::Zero(P, P);
      std::vector<double> F(static_cast<std::size_t>(P * kLanes));
      for (std::size_t k = 0; k < batch.coupled.size(); ++k) {
        const Index used = batch.coupled[k].used;
        kernel.forward(batch.coupled[k], F.data());
        kernel.add_ntk(batch.coupled[k], batch.K);
        for (Index mu = 0; mu < P; ++mu)
          for (Index r = 0; r < used; ++r) batch.F[std::size_t(mu)] += F[std::size_t(mu * kLanes + r)];
        for (Index i = 0; i < P * S * S; ++i)
          for (Index r = 0; r < used; ++r) {
            batch.A[i] += kernel.logits()[i * kLanes + r];
            batch.sigma[i] += kernel.attention()[i * kLanes + r];
          }
        kernel.forward(batch.replica[k], F.data());
        if (update == ErrorUpdate::ntk) kernel.add_ntk(batch.replica[k], batch.K_replica);
        for (Index mu = 0; mu < P; ++mu)
          for (Index r = 0; r < used; ++r) batch.F_replica[std::size_t(mu)] += F[std::size_t(mu * kLanes + r)];
      }
      if (t == 0) {
        batch.F0 = batch.F;
        batch.F0_replica = batch.F_replica;
      }
    }

    // Exact output (§3.4): f = γ0⁻¹ (⟨F⟩_head − ⟨F⟩_head at t = 0), Δ = y − f, for all heads
    // together (reduced over batches in their order) and for every batch's replica alone.
    // In ntk mode Δ(t) was set by the Euler step of the previous t (Δ(0) = y).
    Vector f = Vector::Zero(P);
    Matrix K = Matrix::Zero(P, P);
    Eigen::ArrayXd A_sum = Eigen::ArrayXd::Zero(P * S * S), sigma_sum = Eigen::ArrayXd::Zero(P * S * S);
    for (Index b = 0; b < hb.B; ++b) {
      HeadBatch& batch = batches[std::size_t(b)];
      if (update == ErrorUpdate::exact)
        for (Index mu = 0; mu < P; ++mu)
          batch.replica_delta[mu] = data.y[mu] - (batch.F_replica[std::size_t(mu)] - batch.F0_replica[std::size_t(mu)]) /
                                                     (opt.gamma0 * double(hb.size(b)));
      for (Index mu = 0; mu < P; ++mu) f[mu] += batch.F[std::size_t(mu)] - batch.F0[std::size_t(mu)];
      K += batch.K;
      A_sum += batch.A;
      sigma_sum += batch.sigma;
    }
    if (update == ErrorUpdate::exact) delta = data.y - f / (opt.gamma0 * double(n));
    out.Delta.row(t) = delta.transpose();
    out.ntk.push_back(K / double(n));
    // Standard error: the replicas are B independent limit-B solves with n_b ≈ n/B heads each, whose
    // Monte Carlo variance is B times that of n heads (the error is O(n^{−1/2})), so
    // se² = Var_b(Δ_b)/B, with the batch sizes as weights (batch_se).
    std::vector<double> values(static_cast<std::size_t>(hb.B));
    for (Index mu = 0; mu < P; ++mu) {
      for (Index b = 0; b < hb.B; ++b) values[std::size_t(b)] = batches[std::size_t(b)].replica_delta[mu];
      out.Delta_se(t, mu) = batch_se(hb, values);
    }
    for (Index mu = 0; mu < P; ++mu) {
      RowMatrix A(S, S), sigma(S, S);
      for (Index i = 0; i < S * S; ++i) {
        A.data()[i] = A_sum[mu * S * S + i] / double(n);
        sigma.data()[i] = sigma_sum[mu * S * S + i] / double(n);
      }
      out.logits.push_back(std::move(A));
      out.attention.push_back(std::move(sigma));
    }
    if (t + 1 == T) break;

    // Step every head: the coupled state with the common Δ(t), the replica with its batch's Δ_b(t).
#pragma omp parallel for schedule(dynamic, 1)
    for (Index b = 0; b < hb.B; ++b) {
      PackKernel& kernel = kernels[std::size_t(b)];
      HeadBatch& batch = batches[std::size_t(b)];
      for (HeadPack& h : batch.coupled) kernel.step(h, delta);
      for (HeadPack& h : batch.replica) kernel.step(h, batch.replica_delta);
    }
    if (update == ErrorUpdate::ntk) {  // Δ(t+1) = Δ(t) − (η/P) K(t) Δ(t), each replica with its own K_b
      delta -= (opt.eta / double(P)) * out.ntk.back() * delta;
      for (Index b = 0; b < hb.B; ++b) {
        HeadBatch& batch = batches[std::size_t(b)];
        batch.replica_delta -= (opt.eta / double(P)) * (batch.K_replica / double(hb.size(b))) * batch.replica_delta;
      }
    }
  }
  out.loss = loss_curve(out.Delta);
  return out;
}

}  // namespace dmft
