// dmft compare DMFT.h5 FINITE.h5: how far finite networks are from the DMFT, and how fast they approach it.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli.hpp"
#include "dmft/comparison.hpp"
#include "dmft/errors.hpp"

namespace dmft::cli {
namespace {

std::string layer_label(const std::string& q, int layer) {
  if (q != "Phi" && q != "G") return "-";
  return layer == 0 ? "mean" : std::to_string(layer);
}

void print_table(const Comparison& c) {
  // Per quantity and layer (one fit each): the per-seed error (mean ± standard error over seeds,
  // as fitted), the error and alignment of the seed-mean network, for every width.
  std::map<std::tuple<std::string, int, long long, std::string>, double> mean_net;
  for (const auto& r : c.rows)
    if (r.seed == -1) mean_net[{r.quantity, r.layer, r.width, r.metric}] = r.value;
  std::printf("%-5s %-5s %7s  %-22s %-14s %-10s %s\n", "qty", "layer", "N", "per-seed rel. error", "seed-mean err",
              "alignment", "loss max_rel");
  for (const auto& fit : c.fits) {
    if (fit.metric != "rel_frobenius") continue;
    for (std::size_t i = 0; i < fit.widths.size(); ++i) {
      const long long N = (long long)fit.widths[i];
      char per[64] = "(not stored)";
      if (fit.data == "per-seed") std::snprintf(per, sizeof per, "%.4g ± %.2g", fit.error[i], fit.error_se[i]);
      char extra[32] = "";
      if (fit.quantity == "loss") std::snprintf(extra, sizeof extra, "%.3g", mean_net[{"loss", 0, N, "max_rel"}]);
      std::printf("%-5s %-5s %7lld  %-22s %-14.4g %-10.6f %s\n", fit.quantity.c_str(),
                  layer_label(fit.quantity, fit.layer).c_str(), N, per, mean_net[{fit.quantity, fit.layer, N, "rel_frobenius"}],
                  mean_net[{fit.quantity, fit.layer, N, "alignment"}], extra);
    }
  }
  bool attention = false;
  for (const auto& fit : c.fits)
    if (fit.metric == "rms_final") attention = true;
  if (attention) {  // the docs' measure (attention.md 4.3-4.5): absolute rms error at the last step
    std::printf("\nrms error at the last step (attention.md 4.3-4.5), mean over seeds ± s.e. / seed-mean network:\n");
    for (const auto& fit : c.fits) {
      if (fit.metric != "rms_final") continue;
      for (std::size_t i = 0; i < fit.widths.size(); ++i)
        std::printf("  %-5s N %7lld  %.4g ± %.2g  /  %.4g\n", fit.quantity.c_str(), (long long)fit.widths[i], fit.error[i],
                    fit.error_se[i], mean_net[{fit.quantity, fit.layer, (long long)fit.widths[i], "rms_final"}]);
    }
  }
  std::printf("\nfitted rates, error ≈ c·N^(−a) (%s errors):\n", c.fits.empty() ? "" : c.fits.front().data.c_str());
  for (const auto& fit : c.fits) {
    const std::string label = fit.metric == "rms_final" ? fit.quantity + " (rms at T-1)" : fit.quantity;
    if (fit.fit.ok)
      std::printf("  %-5s layer %-5s a = %.3f ± %.3f, c = %.3g ± %.2g, chi2/dof = %.2f\n", label.c_str(),
                  layer_label(fit.quantity, fit.layer).c_str(), fit.fit.a, fit.fit.a_se, fit.fit.c, fit.fit.c_se,
                  fit.fit.chi2_dof);
    else
      std::printf("  %-5s layer %-5s no fit: %s\n", label.c_str(), layer_label(fit.quantity, fit.layer).c_str(),
                  fit.fit.message.c_str());
  }
}

}  // namespace

void add_compare(CLI::App& app, CompareCommand& cmd) {
  CLI::App* s = app.add_subcommand("compare", "compare finite networks (dmft train) with the DMFT (dmft solve): "
                                              "errors, alignments and fitted rates per width, layer and quantity");
  s->add_option("DMFT.h5", cmd.dmft_file, "output of dmft solve")->required();
  s->add_option("FINITE.h5", cmd.finite_file, "output of dmft train")->required();
  s->add_option("--output", cmd.output, "HDF5 file for the tidy table and the fits")->capture_default_str();
  s->add_option("--csv", cmd.csv, "also write the tidy table as CSV to this file");
  s->add_flag("--quiet", cmd.quiet, "no table on standard output");
}

int run_compare(const CompareCommand& cmd, const std::string& command_line) {
  std::vector<std::string> bad;
  SolutionResults dmft;
  FiniteWidthResults finite;
  try {
    dmft = read_solution(cmd.dmft_file);
  } catch (const InputError& e) {
    bad.push_back(e.what());
  }
  try {
    finite = read_finite_width(cmd.finite_file);
  } catch (const InputError& e) {
    bad.push_back(e.what());
  }
  if (bad.empty()) {
    for (const auto& m : incompatibilities(dmft, finite)) bad.push_back(cmd.finite_file + ": " + m);
    if (!finite.kernels)
      bad.push_back("FINITE.h5 = " + cmd.finite_file + ": is a coordinate check (dmft train --coord-check) without kernels");
  }
  for (auto& v : check_writable("output", cmd.output)) bad.push_back(v.message());
  if (!cmd.csv.empty())
    for (auto& v : check_writable("csv", cmd.csv)) bad.push_back(v.message());
  if (!bad.empty()) return report_errors(bad);

  const Comparison c = compare(dmft, finite);
  write_comparison(cmd.output, c, cmd.dmft_file, cmd.finite_file, command_line);
  if (!cmd.csv.empty()) write_comparison_csv(cmd.csv, c);
  if (!cmd.quiet) {
    std::cout << "dmft compare: " << dmft.model << " (T = " << dmft.T << ", P = " << dmft.data.P() << ", depth "
              << dmft.depth << ") against " << finite.widths.size() << " width(s) of " << finite.widths.front().seeds.size()
              << " seed(s)\n";
    print_table(c);
  }
  std::cout << "Wrote " << cmd.output << (cmd.csv.empty() ? "" : " and " + cmd.csv) << ".\n";
  return 0;
}

}  // namespace dmft::cli
