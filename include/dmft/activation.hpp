#pragma once
// Pointwise activations φ with their first two derivatives.
#include <string>
#include <vector>

namespace dmft {

enum class ActivationKind { relu, tanh, erf, linear, softplus };

/// φ and its derivatives. `beta` is the sharpness of tanh(βh)/β and softplus log(1+e^{βh})/β;
/// it is ignored by the others.
class Activation {
 public:
  Activation(ActivationKind kind, double beta = 1.0);
  /// Parses "relu", "tanh", "erf", "linear", "softplus"; throws std::invalid_argument otherwise.
  static Activation from_name(const std::string& name, double beta = 1.0);
  static const std::vector<std::string>& names();

  ActivationKind kind() const { return kind_; }
  double beta() const { return beta_; }
  std::string name() const;
  /// True when φ'' is a Dirac delta somewhere (ReLU): pathwise second derivatives are biased.
  bool has_kink() const { return kind_ == ActivationKind::relu; }

  double phi(double h) const;
  double dphi(double h) const;
  double ddphi(double h) const;

 private:
  ActivationKind kind_;
  double beta_;
};

}  // namespace dmft
