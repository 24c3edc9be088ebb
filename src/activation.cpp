#include "dmft/activation.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace dmft {

Activation::Activation(ActivationKind kind, double beta) : kind_(kind), beta_(beta) {
  if (!(beta > 0.0) || !std::isfinite(beta))
    throw std::invalid_argument("activation sharpness beta must be finite and > 0");
}

const std::vector<std::string>& Activation::names() {
  static const std::vector<std::string> n{"relu", "tanh", "erf", "linear", "softplus"};
  return n;
}

Activation Activation::from_name(const std::string& name, double beta) {
  if (name == "relu") return {ActivationKind::relu, beta};
  if (name == "tanh") return {ActivationKind::tanh, beta};
  if (name == "erf") return {ActivationKind::erf, beta};
  if (name == "linear") return {ActivationKind::linear, beta};
  if (name == "softplus") return {ActivationKind::softplus, beta};
  throw std::invalid_argument("unknown activation '" + name + "'");
}

std::string Activation::name() const {
  switch (kind_) {
    case ActivationKind::relu: return "relu";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::erf: return "erf";
    case ActivationKind::linear: return "linear";
    case ActivationKind::softplus: return "softplus";
  }
  return "?";
}

namespace {
double logistic(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}
}  // namespace

double Activation::phi(double h) const {
  switch (kind_) {
    case ActivationKind::relu: return h > 0 ? h : 0.0;
    case ActivationKind::tanh: return std::tanh(beta_ * h) / beta_;
    case ActivationKind::erf: return std::erf(h);
    case ActivationKind::linear: return h;
    case ActivationKind::softplus: {
      const double x = beta_ * h;  // log(1+e^x) without overflow
      return (x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x))) / beta_;
    }
  }
  return 0.0;
}

double Activation::dphi(double h) const {
  switch (kind_) {
    case ActivationKind::relu: return h > 0 ? 1.0 : 0.0;
    case ActivationKind::tanh: {
      const double th = std::tanh(beta_ * h);
      return 1.0 - th * th;
    }
    case ActivationKind::erf: return 2.0 / std::sqrt(std::numbers::pi) * std::exp(-h * h);
    case ActivationKind::linear: return 1.0;
    case ActivationKind::softplus: return logistic(beta_ * h);
  }
  return 0.0;
}

double Activation::ddphi(double h) const {
  switch (kind_) {
    case ActivationKind::relu: return 0.0;  // a delta at 0: see theory mlp.md §3.4.3
    case ActivationKind::tanh: {
      const double th = std::tanh(beta_ * h);
      return -2.0 * beta_ * th * (1.0 - th * th);
    }
    case ActivationKind::erf: return -4.0 * h / std::sqrt(std::numbers::pi) * std::exp(-h * h);
    case ActivationKind::linear: return 0.0;
    case ActivationKind::softplus: {
      const double s = logistic(beta_ * h);
      return beta_ * s * (1.0 - s);
    }
  }
  return 0.0;
}

}  // namespace dmft
