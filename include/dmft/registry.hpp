#pragma once
// Models registered by name, so that one binary serves every model.
//   DMFT_REGISTER_MODEL(MyModel) in the model's .cpp adds it at start-up.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dmft/model.hpp"

namespace dmft {

using ModelFactory = std::function<std::unique_ptr<Model>()>;

bool register_model(const std::string& name, ModelFactory factory);
/// Throws InputError("--model", name, ...) listing the registered models if unknown.
std::unique_ptr<Model> make_model(const std::string& name);
std::vector<std::string> registered_models();

}  // namespace dmft

#define DMFT_REGISTER_MODEL(NAME, TYPE) \
  static const bool dmft_registered_##TYPE = ::dmft::register_model(NAME, [] { return std::make_unique<TYPE>(); })
