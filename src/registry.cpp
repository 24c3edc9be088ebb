#include "dmft/registry.hpp"

#include <map>
#include <stdexcept>

#include "dmft/errors.hpp"

namespace dmft {
namespace {
std::map<std::string, ModelFactory>& table() {
  static std::map<std::string, ModelFactory> t;
  return t;
}
}  // namespace

bool register_model(const std::string& name, ModelFactory factory) {
  if (!table().emplace(name, std::move(factory)).second)
    throw std::logic_error("model '" + name + "' registered twice");
  return true;
}

std::unique_ptr<Model> make_model(const std::string& name) {
  auto it = table().find(name);
  if (it == table().end()) {
    std::string list;
    for (const auto& n : registered_models()) list += (list.empty() ? "" : ", ") + n;
    throw InputError("--model", "'" + name + "'", "unknown model; registered models: " + list);
  }
  return it->second();
}

std::vector<std::string> registered_models() {
  std::vector<std::string> names;
  for (const auto& [n, f] : table()) names.push_back(n);
  return names;
}

SiteAverages Model::march(const Problem&, RowMatrix&) const {
  throw std::logic_error("model '" + name() + "' has no marching strategy");
}

std::vector<Violation> relu_response_violations(const SolveParameters& p, const std::string& where, bool stein_available) {
  if (p.activation != "relu" || p.responses != "full" || (p.depth < 2 && p.depth != kInfiniteDepth)) return {};
  if (stein_available && p.response_estimator == "stein") return {};
  return {{"activation", "'relu'",
           "with --depth >= 2 the estimates of the responses A, B are biased for ReLU (phi'' is a delta, theory " +
               where + "); use " + (stein_available ? "--response-estimator stein (derivative-free), " : "") +
               "--activation softplus with a large --beta (e.g. 30), or --responses gia"}};
}

Matrix mlp_ntk(const Matrix& Kx, const std::vector<LayerKernels>& layers, Index t) {
  return weighted_ntk(Kx, layers, t, 1.0, true);
}

Matrix weighted_ntk(const Matrix& Kx, const std::vector<LayerKernels>& layers, Index t, double hidden_weight,
                    bool input_layer_trains) {
  const Index P = Kx.rows(), o = t * P, L = Index(layers.size());
  Matrix K = input_layer_trains ? Matrix(layers[0].G.block(o, o, P, P).cwiseProduct(Kx)) : Matrix::Zero(P, P);
  for (Index l = 1; l < L; ++l)
    K += hidden_weight * layers[l].G.block(o, o, P, P).cwiseProduct(layers[l - 1].Phi.block(o, o, P, P));
  K += layers[L - 1].Phi.block(o, o, P, P);
  return K;
}

}  // namespace dmft
