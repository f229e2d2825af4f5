// Shared declarations of the thin pybind11 layer (no maths here).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace statmech_nn::bindings {

namespace py = pybind11;

// A C-contiguous float64 view (no copy when the input already is one).
using array_f64 = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A new float64 array of the given shape (default: 1-D) filled from data (sizes must agree).
inline py::array_t<double> to_array(const std::vector<double>& data, std::vector<py::ssize_t> shape = {}) {
    if (shape.empty()) shape.push_back(static_cast<py::ssize_t>(data.size()));
    py::array_t<double> a(shape);
    std::copy(data.begin(), data.end(), a.mutable_data());
    return a;
}

void register_gaussian(py::module_& m);
void register_integrators(py::module_& m);
void register_perceptron(py::module_& m);
void register_committee(py::module_& m);
void register_meanfield(py::module_& m);
void register_batchnorm(py::module_& m);
void register_fisher(py::module_& m);
void register_ntk(py::module_& m);

}  // namespace statmech_nn::bindings
