#include "dmft/h5_util.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace dmft::h5 {

void silence_errors() { H5::Exception::dontPrint(); }

H5::Group create_group(H5::Group& parent, const std::string& name) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, false);
  hid_t id = H5Gcreate2(parent.getId(), name.c_str(), lcpl, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  H5Pclose(lcpl);
  if (id < 0) throw std::runtime_error("HDF5: cannot create group " + name);
  H5::Group g(id);
  H5Gclose(id);  // H5::Group(id) took its own reference
  return g;
}

void write_array(H5::Group& g, const std::string& name, const double* data,
                 const std::vector<hsize_t>& shape, const std::string& axes,
                 const std::string& description) {
  H5::DataSpace space(int(shape.size()), shape.data());
  H5::DSetCreatPropList dcpl;
  H5Pset_obj_track_times(dcpl.getId(), false);
  H5::DataSet ds = g.createDataSet(name, H5::PredType::NATIVE_DOUBLE, space, dcpl);
  ds.write(data, H5::PredType::NATIVE_DOUBLE);
  write_attr(ds, "axes", axes);
  if (!description.empty()) write_attr(ds, "description", description);
}

void write_array(H5::Group& g, const std::string& name, const std::vector<double>& data,
                 const std::string& axes, const std::string& description) {
  write_array(g, name, data.data(), {hsize_t(data.size())}, axes, description);
}

void write_slices(H5::Group& g, const std::string& name, const std::vector<const double*>& slices,
                  const std::vector<hsize_t>& slice_shape, const std::string& axes, const std::string& description) {
  std::vector<hsize_t> shape = slice_shape;
  shape.insert(shape.begin(), hsize_t(slices.size()));
  H5::DataSpace space(int(shape.size()), shape.data());
  H5::DSetCreatPropList dcpl;
  H5Pset_obj_track_times(dcpl.getId(), false);
  H5::DataSet ds = g.createDataSet(name, H5::PredType::NATIVE_DOUBLE, space, dcpl);
  H5::DataSpace memory(int(slice_shape.size()), slice_shape.data());
  std::vector<hsize_t> start(shape.size(), 0), count = shape;
  count[0] = 1;
  for (std::size_t k = 0; k < slices.size(); ++k) {
    start[0] = k;
    H5::DataSpace file = ds.getSpace();
    file.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
    ds.write(slices[k], H5::PredType::NATIVE_DOUBLE, memory, file);
  }
  write_attr(ds, "axes", axes);
  if (!description.empty()) write_attr(ds, "description", description);
}

void write_int_array(H5::Group& g, const std::string& name, const std::vector<long long>& data,
                     const std::string& axes, const std::string& description) {
  const hsize_t n = data.size();
  H5::DataSpace space(1, &n);
  H5::DSetCreatPropList dcpl;
  H5Pset_obj_track_times(dcpl.getId(), false);
  H5::DataSet ds = g.createDataSet(name, H5::PredType::NATIVE_LLONG, space, dcpl);
  if (n) ds.write(data.data(), H5::PredType::NATIVE_LLONG);
  write_attr(ds, "axes", axes);
  if (!description.empty()) write_attr(ds, "description", description);
}

void write_string_array(H5::Group& g, const std::string& name, const std::vector<std::string>& data,
                        const std::string& axes, const std::string& description) {
  std::size_t width = 1;
  for (const auto& x : data) width = std::max(width, x.size());
  std::vector<char> buffer(data.size() * width, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) std::copy(data[i].begin(), data[i].end(), buffer.begin() + long(i * width));
  H5::StrType type(H5::PredType::C_S1, width);
  type.setStrpad(H5T_STR_NULLPAD);
  const hsize_t n = data.size();
  H5::DataSpace space(1, &n);
  H5::DSetCreatPropList dcpl;
  H5Pset_obj_track_times(dcpl.getId(), false);
  H5::DataSet ds = g.createDataSet(name, type, space, dcpl);
  if (n) ds.write(buffer.data(), type);
  write_attr(ds, "axes", axes);
  if (!description.empty()) write_attr(ds, "description", description);
}

namespace {
template <class T>
void scalar_attr(H5::H5Object& o, const std::string& name, const H5::PredType& type, T value) {
  H5::DataSpace scalar;
  H5::Attribute a = o.createAttribute(name, type, scalar);
  a.write(type, &value);
}
}  // namespace

void write_attr(H5::H5Object& o, const std::string& name, const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, value.empty() ? 1 : value.size());
  type.setStrpad(H5T_STR_NULLPAD);
  H5::DataSpace scalar;
  H5::Attribute a = o.createAttribute(name, type, scalar);
  a.write(type, value.empty() ? std::string(1, '\0') : value);
}
void write_attr(H5::H5Object& o, const std::string& name, const char* value) {
  write_attr(o, name, std::string(value));
}
void write_attr(H5::H5Object& o, const std::string& name, double value) {
  scalar_attr(o, name, H5::PredType::NATIVE_DOUBLE, value);
}
void write_attr(H5::H5Object& o, const std::string& name, long long value) {
  scalar_attr(o, name, H5::PredType::NATIVE_LLONG, value);
}
void write_attr(H5::H5Object& o, const std::string& name, int value) {
  scalar_attr(o, name, H5::PredType::NATIVE_INT, value);
}
void write_attr(H5::H5Object& o, const std::string& name, bool value) {
  scalar_attr(o, name, H5::PredType::NATIVE_INT, int(value));
}
void write_attr(H5::H5Object& o, const std::string& name, unsigned long long value) {
  scalar_attr(o, name, H5::PredType::NATIVE_ULLONG, value);
}

std::vector<double> read_array(const H5::H5File& f, const std::string& path, std::vector<hsize_t>& shape) {
  H5::DataSet ds = f.openDataSet(path);
  H5::DataSpace space = ds.getSpace();
  const int rank = space.getSimpleExtentNdims();
  shape.assign(rank, 0);
  space.getSimpleExtentDims(shape.data());
  hsize_t count = 1;
  for (auto s : shape) count *= s;
  std::vector<double> out(count);
  if (count) ds.read(out.data(), H5::PredType::NATIVE_DOUBLE);
  return out;
}

bool has_object(const H5::H5File& f, const std::string& path) {
  return H5Lexists(f.getId(), path.c_str(), H5P_DEFAULT) > 0;
}

std::string read_string_attr(const H5::H5Object& o, const std::string& name) {
  H5::Attribute a = o.openAttribute(name);
  H5::StrType type = a.getStrType();
  std::string out;
  a.read(type, out);
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

long long read_int_attr(const H5::H5Object& o, const std::string& name) {
  H5::Attribute a = o.openAttribute(name);
  long long v = 0;
  a.read(H5::PredType::NATIVE_LLONG, &v);
  return v;
}

}  // namespace dmft::h5

namespace dmft::h5 {

bool has_attr(const H5::H5Object& o, const std::string& name) { return o.attrExists(name); }

std::string read_attr_as_string(const H5::H5Object& o, const std::string& name) {
  H5::Attribute a = o.openAttribute(name);
  const H5T_class_t cls = a.getTypeClass();
  if (cls == H5T_STRING) return read_string_attr(o, name);
  char text[64];
  if (cls == H5T_FLOAT) {
    double v = 0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    std::snprintf(text, sizeof text, "%.17g", v);
  } else {
    long long v = 0;
    a.read(H5::PredType::NATIVE_LLONG, &v);
    std::snprintf(text, sizeof text, "%lld", v);
  }
  return text;
}

std::vector<long long> read_int_array(const H5::H5File& f, const std::string& path) {
  H5::DataSet ds = f.openDataSet(path);
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  std::vector<long long> out(n);
  if (n) ds.read(out.data(), H5::PredType::NATIVE_LLONG);
  return out;
}

}  // namespace dmft::h5
