// The one converter header of the thin pybind11 layer: array views in, arrays out, size checks,
// the shared `_core._testing` submodule. No maths and no policy here or in any register_*.cpp:
// bindings convert arguments, release the GIL and call the core.
#pragma once

#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace statmech_nn::bindings {

namespace py = pybind11;

// A C-contiguous float64 view (no copy when the input already is one).
using array_f64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
using array_i64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

// A new array of the given shape (default: 1-D) filled from data (sizes must agree).
template <class T>
inline py::array_t<T> to_array(const std::vector<T>& data, std::vector<py::ssize_t> shape = {}) {
    if (shape.empty()) shape.push_back(static_cast<py::ssize_t>(data.size()));
    py::ssize_t n = 1;
    for (py::ssize_t s : shape) n *= s;
    if (n != static_cast<py::ssize_t>(data.size())) throw std::logic_error("to_array: shape does not match data size");
    py::array_t<T> a(shape);
    std::copy(data.begin(), data.end(), a.mutable_data());
    return a;
}

// Copy of a float64 view as a std::vector.
inline std::vector<double> to_vector(const array_f64& a) { return std::vector<double>(a.data(), a.data() + a.size()); }

// A 2-D float64 array as an Eigen matrix (ValueError naming `param` unless 2-D, or square when asked).
inline Eigen::MatrixXd to_matrix(const array_f64& a, const char* param, bool square = false) {
    if (a.ndim() != 2) throw std::invalid_argument(std::string(param) + ": must be a 2-D array");
    if (square && a.shape(0) != a.shape(1)) throw std::invalid_argument(std::string(param) + ": must be a square matrix");
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    return Eigen::Map<const RowMajor>(a.data(), a.shape(0), a.shape(1));
}

// An Eigen matrix as a new (rows, cols) float64 array.
inline py::array_t<double> matrix_out(const Eigen::MatrixXd& M) {
    py::array_t<double> a({static_cast<py::ssize_t>(M.rows()), static_cast<py::ssize_t>(M.cols())});
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<RowMajor>(a.mutable_data(), M.rows(), M.cols()) = M;
    return a;
}

// Raise ValueError (std::invalid_argument) naming `param` when the sizes differ.
inline void check_same_size(const array_f64& a, const array_f64& b, const char* param) {
    if (a.size() != b.size())
        throw std::invalid_argument(std::string(param) + ": arrays must have the same size");
}

// The `_core._testing` submodule (test hooks live there, not in the public submodules); every
// register_* function may add to it.
inline py::module_ testing_module(py::module_& m) {
    if (py::hasattr(m, "_testing")) return m.attr("_testing").cast<py::module_>();
    return m.def_submodule("_testing", "test hooks of the core (not public API)");
}

void register_gaussian(py::module_& m);
void register_integrators(py::module_& m);
void register_perceptron(py::module_& m);
void register_committee(py::module_& m);
void register_meanfield(py::module_& m);
void register_batchnorm(py::module_& m);
void register_fisher(py::module_& m);
void register_ntk(py::module_& m);
void register_network(py::module_& m);
void register_training(py::module_& m);
void register_sweep(py::module_& m);

}  // namespace statmech_nn::bindings
