#pragma once
// Thin helpers over the HDF5 C++ API. Datasets are written with object time tracking off, so
// the same content gives the same bytes; every dataset gets an `axes` attribute.
#include <H5Cpp.h>

#include <string>
#include <vector>

#include "dmft/types.hpp"

namespace dmft::h5 {

/// Turns off HDF5's automatic error printing (we throw our own errors).
void silence_errors();

H5::Group create_group(H5::Group& parent, const std::string& name);

/// Writes a row-major array of the given shape, with `axes` (comma-separated names).
void write_array(H5::Group& g, const std::string& name, const double* data,
                 const std::vector<hsize_t>& shape, const std::string& axes,
                 const std::string& description = "");
void write_array(H5::Group& g, const std::string& name, const std::vector<double>& data,
                 const std::string& axes, const std::string& description = "");

/// An array with a leading axis of slices.size(), each slice a row-major array of `slice_shape`
/// written in place (no gathered copy of the whole array).
void write_slices(H5::Group& g, const std::string& name, const std::vector<const double*>& slices,
                  const std::vector<hsize_t>& slice_shape, const std::string& axes, const std::string& description = "");

/// 1-D integer and fixed-length string columns (tidy tables).
void write_int_array(H5::Group& g, const std::string& name, const std::vector<long long>& data,
                     const std::string& axes, const std::string& description = "");
void write_string_array(H5::Group& g, const std::string& name, const std::vector<std::string>& data,
                        const std::string& axes, const std::string& description = "");

void write_attr(H5::H5Object& o, const std::string& name, const std::string& value);
void write_attr(H5::H5Object& o, const std::string& name, const char* value);
void write_attr(H5::H5Object& o, const std::string& name, double value);
void write_attr(H5::H5Object& o, const std::string& name, long long value);
void write_attr(H5::H5Object& o, const std::string& name, int value);
void write_attr(H5::H5Object& o, const std::string& name, bool value);
void write_attr(H5::H5Object& o, const std::string& name, unsigned long long value);

/// Reads a whole double dataset; `shape` receives its dimensions.
std::vector<double> read_array(const H5::H5File& f, const std::string& path, std::vector<hsize_t>& shape);
bool has_object(const H5::H5File& f, const std::string& path);
std::string read_string_attr(const H5::H5Object& o, const std::string& name);
long long read_int_attr(const H5::H5Object& o, const std::string& name);
/// Any scalar attribute as text (strings as they are, numbers with full precision).
std::string read_attr_as_string(const H5::H5Object& o, const std::string& name);
bool has_attr(const H5::H5Object& o, const std::string& name);
std::vector<long long> read_int_array(const H5::H5File& f, const std::string& path);

}  // namespace dmft::h5
