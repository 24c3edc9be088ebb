// Sweep files: axes and grids, the product and zip rules, validation of every point at expansion,
// hashes, and the manifest's round trip.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "dmft/errors.hpp"
#include "dmft/sweep.hpp"

using namespace dmft;
using namespace dmft::sweep;

namespace {

/// Each test case works in a directory of its own (ctest runs the cases as parallel processes).
std::string g_case = "none";

std::string scratch(const std::string& name) {
  const std::string dir = std::string(DMFT_TEST_TMP) + "/unit_sweep/" + g_case;
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

std::string write(const std::string& name, const std::string& text) {
  const std::string path = scratch(name);
  std::ofstream(path) << text;
  return path;
}

const std::string kBase = "model = two_layer\ndataset = ds1\nT = 5\n[solve]\nmc-samples = 128\n[train]\nwidths = 16\nseeds = 1\n";

/// The InputError message that expanding these files gives ("" if none).
std::string expand_error(const std::string& sweep_text, const std::string& base_text = kBase) {
  try {
    expand(write("base.toml", base_text), write("sweep.toml", sweep_text), scratch("out"));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string value_of(const Point& p, const std::string& name) {
  for (const auto& [k, v] : p.options)
    if (k == name) return v;
  return "";
}

}  // namespace

TEST_CASE("sweep grids: log and linear grids give round values, lists keep their order") {
  g_case = "grids";
  const auto groups = read_sweep_axes(write("grids.toml",
                                            "[product]\ngamma0 = {log = [0.25, 4], points = 5}\n"
                                            "eta = {linear = [0.1, 0.5], points = 3}\nactivation = [\"tanh\", \"relu\"]\n"));
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].axes.size() == 3);
  CHECK(groups[0].axes[0].name == "gamma0");  // the file's order, not toml++'s sorted keys
  CHECK(groups[0].axes[0].values == std::vector<std::string>{"0.25", "0.5", "1", "2", "4"});
  CHECK(groups[0].axes[1].values == std::vector<std::string>{"0.1", "0.3", "0.5"});
  CHECK(groups[0].axes[2].values == std::vector<std::string>{"tanh", "relu"});
}

TEST_CASE("sweep points: the product varies the last axis fastest, a zip group advances its axes together") {
  g_case = "points";
  const Manifest m = expand(write("base.toml", kBase),
                            write("pz.toml", "[product]\ngamma0 = [0.5, 2]\n[[zip]]\nseed = [1, 2, 3]\nmc-samples = [128, 256, 512]\n"),
                            scratch("out"));
  REQUIRE(m.points.size() == 6);
  CHECK(m.axes == std::vector<std::string>{"gamma0", "seed", "mc-samples"});
  const char* expected[6][3] = {{"0.5", "1", "128"}, {"0.5", "2", "256"}, {"0.5", "3", "512"},
                                {"2", "1", "128"},   {"2", "2", "256"},   {"2", "3", "512"}};
  for (std::size_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(m.points[i].index == (long long)i);
    CHECK(m.points[i].command == "solve");
    CHECK(value_of(m.points[i], "gamma0") == expected[i][0]);
    CHECK(value_of(m.points[i], "seed") == expected[i][1]);
    CHECK(value_of(m.points[i], "mc-samples") == expected[i][2]);
    CHECK(value_of(m.points[i], "T") == "5");          // from the base
    CHECK(value_of(m.points[i], "widths").empty());    // the [train] section is not for solves
  }
}

TEST_CASE("sweep expansion refuses bad sweeps, naming the axis or the point and the rule") {
  g_case = "refuse";
  CHECK(expand_error("[product]\ngama0 = [1, 2]\n").find("unknown parameter 'gama0' (not an option of dmft solve or dmft train)") != std::string::npos);
  CHECK(expand_error("[product]\neta = []\n").find("axis 'eta' is empty") != std::string::npos);
  CHECK(expand_error("[product]\neta = {linear = [0.1, 1], points = 0}\n").find("points = 0 must be >= 1 (an empty axis)") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = {log = [0, 4], points = 3}\n").find("log = [0, 4]: a log grid needs bounds > 0") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = {log = [1, -4], points = 3}\n").find("a log grid needs bounds > 0") != std::string::npos);
  CHECK(expand_error("[[zip]]\nseed = [1, 2]\ngamma0 = [1, 2, 3]\n").find("zipped axes must have equal lengths") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = [1, -2]\n").find("point 1 (gamma0 = -2): --gamma0 = -2: must be finite and > 0") != std::string::npos);
  CHECK(expand_error("[product]\nT = [5, 2.5]\n").find("point 1 (T = 2.5): --T = 2.5: must be an integer") != std::string::npos);
  CHECK(expand_error("[product]\nthreads = [1, 2]\n").find("axis 'threads' is set by dmft sweep run") != std::string::npos);
  CHECK(expand_error("[product]\ncommand = [\"solve\", \"train\"]\nmc-samples = [128, 256]\n")
            .find("sweep axis 'mc-samples' is not an option of dmft train") != std::string::npos);
  CHECK(expand_error("[product]\neta = [0.5, 0.50]\n").find("point 1 (eta = 0.5): the same run as point 0") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = [1, 2]\n", "mc-samples = 128\ncommand = train\n")
            .find("'mc-samples' is not an option of dmft train (put it under the section of the command it is for)") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = [1, 2\n").find("sweep.toml line") != std::string::npos);  // TOML syntax, with its line
  CHECK(expand_error("gamma0 = [1, 2]\n").find("unknown key 'gamma0' (a sweep file has a [product] table and [[zip]] tables") != std::string::npos);
  CHECK(expand_error("[product]\ndata = [\"a\\tb.h5\"]\n").find("axis 'data': values cannot hold tabs or line breaks") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = {linear = [1, 2], points = 1001}\neta = {linear = [0.1, 1], points = 1001}\n"
                     "seed = {linear = [1, 1001], points = 1001}\n")
            .find("give more than 1000000 points") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = [1, 2]\n", kBase + "widthz = 64\n").find("line 9: unknown key 'widthz' for dmft train") != std::string::npos);
  CHECK(expand_error("[product]\ngamma0 = [1, 2]\n") == "");
}

TEST_CASE("sweep hashes: FNV-1a, equal for equal values however they are written, different otherwise") {
  g_case = "hashes";
  CHECK(stable_hash("") == "cbf29ce484222325");  // the FNV-1a 64 offset basis
  CHECK(stable_hash("a") == "af63dc4c8601ec8c");  // published FNV-1a 64 test vectors
  CHECK(stable_hash("foobar") == "85944171f73967e8");
  const std::string base = write("base.toml", kBase);
  const Manifest a = expand(base, write("h1.toml", "[product]\neta = [0.5, 0.25]\nT = [5]\n"), scratch("out"));
  const Manifest b = expand(base, write("h2.toml", "[product]\neta = [\"0.50\", 2.5e-1]\n"), scratch("out"));
  CHECK(a.points[0].hash == b.points[0].hash);  // T = 5 is the base's value; 0.50 is 0.5
  CHECK(a.points[1].hash == b.points[1].hash);
  CHECK(a.points[0].hash != a.points[1].hash);
  CHECK(a.points[0].problem_hash != a.points[1].problem_hash);
  // A train point and a solve point of the same problem share the problem hash, not the hash.
  const Manifest c = expand(base, write("h3.toml", "[product]\ncommand = [\"solve\", \"train\"]\n"), scratch("out"));
  CHECK(c.points[0].problem_hash == c.points[1].problem_hash);
  CHECK(c.points[0].hash != c.points[1].hash);
}

TEST_CASE("the manifest reads back as written") {
  g_case = "roundtrip";
  Manifest m = expand(write("base.toml", kBase),
                      write("rt.toml", "[product]\ncommand = [\"solve\", \"train\"]\ngamma0 = {log = [0.5, 2], points = 3}\n"),
                      scratch("rt"));
  write_manifest(m);
  const Manifest r = read_manifest(m.path);
  CHECK(r.directory == m.directory);
  CHECK(r.axes == m.axes);
  CHECK(r.columns == m.columns);
  REQUIRE(r.points.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(r.points[i].hash == m.points[i].hash);
    CHECK(r.points[i].problem_hash == m.points[i].problem_hash);
    CHECK(r.points[i].command == m.points[i].command);
    CHECK(r.points[i].output == m.points[i].output);
    CHECK(r.points[i].options == m.points[i].options);
    CHECK(output_state(r, r.points[i]) == OutputState::missing);
  }
  CHECK(point_arguments(r.points[4]) ==
        std::vector<std::string>{"train", "--model", "two_layer", "--dataset", "ds1", "--T", "5", "--gamma0", "1",
                                 "--widths", "16", "--seeds", "1", "--output", r.points[4].output});
}
