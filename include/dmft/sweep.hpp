#pragma once
// Parameter sweeps as files (STYLE habit 9): a base configuration and sweep axes are expanded into
// a manifest, one row per point; `dmft sweep run` runs points by index (a Slurm array task, an MPI
// rank or a plain loop) and skips those whose output is complete; `collect` gathers the outputs
// into one table. The README's "Parameter studies" section shows the files.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace dmft::sweep {

/// One swept parameter and its values as canonical text.
struct Axis {
  std::string name;
  std::vector<std::string> values;
  int line = 0;  // in the sweep file
};

/// Axes of a [product] table vary independently; those of one [[zip]] table advance together.
struct AxisGroup {
  bool zip = false;
  std::vector<Axis> axes;
};

/// Reads the sweep file (TOML). Values: a list [a, b, ...], {linear = [lo, hi], points = n} or
/// {log = [lo, hi], points = n} (grid values rounded to 12 significant digits). Throws InputError
/// naming the file, the axis and the rule for an empty axis, a log grid with a bound <= 0, zipped
/// axes of different lengths, or anything else it cannot read.
std::vector<AxisGroup> read_sweep_axes(const std::string& path);

/// The most points one sweep may have (a guard against a typo that multiplies axes).
inline constexpr std::size_t kMaxPoints = 1000000;

/// Every combination: the product of the groups, the last axis varying fastest. Each point is a
/// list of (name, value). Throws InputError above kMaxPoints.
std::vector<std::vector<std::pair<std::string, std::string>>> combine(const std::vector<AxisGroup>& groups);

struct Point {
  long long index = 0;
  std::string command;  // solve | train
  std::vector<std::pair<std::string, std::string>> options;  // set by the base file or the axes, canonical text
  std::string hash;          // of the command and every recorded parameter (defaults included)
  std::string problem_hash;  // of the problem parameters only: a train point and its solve twin share it
  std::string output;        // relative to the manifest's directory
  std::string stem() const;  // output without directory and extension
};

struct Manifest {
  std::string path;       // the manifest file
  std::string directory;  // where it lies; outputs, logs and error records are relative to it
  std::vector<std::string> axes;     // the swept parameter names
  std::vector<std::string> columns;  // parameter columns, in the order of the parameter lists
  std::vector<Point> points;
  std::string description;  // base and sweep file names, as the header says
};

/// Expands base × axes into points, validates every point as `dmft solve`/`dmft train` would
/// (all violations reported at once, each naming the point), and assigns hashes and outputs.
Manifest expand(const std::string& base_path, const std::string& sweep_path, const std::string& directory);

/// "gamma0 = 0.5, eta = 0.1": the values that tell points apart, for messages and progress lines.
std::string label(const std::vector<std::pair<std::string, std::string>>& values);
std::string label(const Manifest& m, const Point& p);  // its swept values

/// DIR/manifest: tab-separated, '#' header lines; one column per parameter (empty: not set).
void write_manifest(const Manifest& m);
Manifest read_manifest(const std::string& path);

/// FNV-1a 64-bit of the text, as 16 hex digits: stable across machines and versions.
std::string stable_hash(const std::string& text);

enum class OutputState { missing, incomplete, interrupted, complete };

/// A point's output is complete when the file exists whole (attribute complete = 1, the format of
/// its command) and its run was not interrupted (a solve's status is not "interrupted", a train
/// file holds every requested width).
OutputState output_state(const Manifest& m, const Point& p);
/// Where a point stands, as status and collect report it: complete; failed (an error record and
/// no complete output); interrupted; being written (a FILE.tmp: running, or killed while
/// writing); incomplete (a broken file at the output path); pending (nothing yet).
enum class PointStatus { complete, failed, interrupted, being_written, incomplete, pending };
PointStatus point_status(const Manifest& m, const Point& p);
const char* to_string(PointStatus s);

std::string absolute(const Manifest& m, const std::string& relative);
std::string error_record(const Manifest& m, const Point& p);  // DIR/errors/<stem>.txt
std::string log_file(const Manifest& m, const Point& p);      // DIR/logs/<stem>.log

/// The command line that runs the point (without the program name), output relative to DIR.
std::vector<std::string> point_arguments(const Point& p);

}  // namespace dmft::sweep

namespace dmft::sweep {

/// One column of the collected table: real (NaN: not applicable), integer or text.
struct Column {
  enum Kind { real, integer, text } kind = real;
  std::string name, description;
  std::vector<double> numbers;  // real and integer columns
  std::vector<std::string> texts;
};

/// The collected sweep: one row per complete point (solve) or per point and width (train), and
/// the points that were skipped with why.
struct Collected {
  std::vector<Column> columns;
  std::size_t rows = 0;
  std::vector<long long> skipped;
  std::vector<std::string> skipped_state;  // missing | incomplete | interrupted | failed
  std::vector<std::string> notes;          // e.g. a train point whose solve twin differs
};

/// Reads every complete output: parameters (the manifest's columns, defaults filled in), loss at
/// t = 0 and T−1, solve status and iterations, the target alignment of the NTK, and for a train
/// point whose problem has a complete solve point in the sweep, its errors and alignments against
/// that DMFT solution (as `dmft compare`, seed-mean network, layer mean).
Collected collect(const Manifest& m);
void write_collected(const std::string& path, const Manifest& m, const Collected& c, const std::string& command_line);
void write_collected_csv(const std::string& path, const Collected& c);

}  // namespace dmft::sweep
