#include <iostream>

#include "cli.hpp"
#include "dmft/attention_model.hpp"
#include "dmft/provenance.hpp"
#include "dmft/registry.hpp"

namespace dmft::cli {

void add_info(CLI::App& app) { app.add_subcommand("info", "print the build's provenance and the registered models"); }

int run_info() {
  std::cout << "dmft " << version_string() << "\n"
            << "  compiler " << build::compiler << "\n"
            << "  Eigen " << build::eigen_version << ", HDF5 " << build::hdf5_version << ", Ceres "
            << build::ceres_version << ", CLI11 " << build::cli11_version << "\n"
            << "models:\n";
  for (const auto& name : registered_models()) std::cout << "  " << name << ": " << make_model(name)->description() << "\n";
  std::cout << "  " << kAttentionModel << ": " << attention_model_description() << "\n";
  return 0;
}

}  // namespace dmft::cli
