#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "dmft/data.hpp"
#include "dmft/errors.hpp"
#include "dmft/h5_util.hpp"
#include "write_dataset.hpp"

using namespace dmft;
using dmft::test::write_xy;

TEST_CASE("DS1 matches theory mlp.md Appendix B") {
  const Dataset d = make_ds1();
  REQUIRE(d.P() == 8);
  REQUIRE(d.D() == 16);
  const double row0[8] = {0.46266293, -0.08196434, -0.05676518, -0.02561642, 0.00814862, 0.04139012, 0.07314136, -0.26282542};
  for (int j = 0; j < 8; ++j) CHECK(d.Kx(0, j) == doctest::Approx(row0[j]).epsilon(1e-7));
  CHECK(d.Kx(7, 7) == doctest::Approx(0.47896597).epsilon(1e-7));
  CHECK(d.y.head(4).sum() == 4.0);
  CHECK(d.y.tail(4).sum() == -4.0);
}

TEST_CASE("synthetic data is reproducible from the seed") {
  const Dataset a = make_synthetic(12, 5, 3, SyntheticTarget::teacher);
  const Dataset b = make_synthetic(12, 5, 3, SyntheticTarget::teacher);
  const Dataset c = make_synthetic(12, 5, 4, SyntheticTarget::teacher);
  CHECK(a.X == b.X);
  CHECK(a.y == b.y);
  CHECK(a.X != c.X);
  for (Index i = 0; i < a.P(); ++i) CHECK(std::abs(a.y[i]) == 1.0);
  const Dataset lin = make_synthetic(50, 5, 3, SyntheticTarget::linear);
  CHECK(lin.y.squaredNorm() / 50 == doctest::Approx(1.0));
  CHECK((a.Kx - a.X * a.X.transpose() / 5.0).norm() < 1e-14);
}

TEST_CASE("load_dataset reads X, y and names what is wrong") {
  const std::string path = std::string(DMFT_TEST_TMP) + "/data_ok.h5";
  RowMatrix X = RowMatrix::Random(6, 3);
  Vector y = Vector::Random(6);
  write_xy(path, X, y);
  const Dataset d = load_dataset(path);
  CHECK(d.X == X);
  CHECK(d.y == y);

  write_xy(path, X, Vector::Random(5));
  CHECK_THROWS_WITH_AS(load_dataset(path), doctest::Contains("6 rows but y has 5"), InputError);

  X(2, 1) = std::numeric_limits<double>::quiet_NaN();
  write_xy(path, X, y);
  CHECK_THROWS_WITH_AS(load_dataset(path), doctest::Contains("non-finite"), InputError);

  CHECK_THROWS_WITH_AS(load_dataset(std::string(DMFT_TEST_TMP) + "/does_not_exist.h5"),
                       doctest::Contains("cannot be opened"), InputError);
}
