#include "dmft/h5_util.hpp"

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
