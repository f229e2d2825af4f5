#include <Python.h>

#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/parallel.hpp"
#include "statmech_nn/status.hpp"

#ifndef STATMECH_NN_VERSION
#define STATMECH_NN_VERSION "0.0.0"
#endif

namespace {

// Called by the core's long loops (on the thread that released the GIL): takes the GIL and asks
// Python whether a signal (Ctrl-C) arrived.
bool python_interrupt_requested() {
    pybind11::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
        PyErr_Clear();  // re-raised as KeyboardInterrupt by the translator below
        return true;
    }
    return false;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    namespace py = pybind11;
    namespace b = statmech_nn::bindings;
    m.doc() = "statmech_nn compiled core (use the statmech_nn package, not this module directly)";
    m.attr("__version__") = STATMECH_NN_VERSION;
#ifdef _OPENMP
    m.attr("has_openmp") = true;
#else
    m.attr("has_openmp") = false;
#endif
    m.def("max_threads", [] { return statmech_nn::resolve_threads(0); },
          "Number of threads the OpenMP default gives (honours OMP_NUM_THREADS).");
    m.def(
        "status_names",
        [] {
            std::vector<std::string> names;
            for (int i = 0; i <= static_cast<int>(statmech_nn::Status::Diverged); ++i)
                names.emplace_back(statmech_nn::status_name(static_cast<statmech_nn::Status>(i)));
            return names;
        },
        "The core's status words by integer code (severity order).");

    statmech_nn::set_interrupt_checker(&python_interrupt_requested);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const statmech_nn::Interrupted& e) {
            PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
        }
    });

    b::register_gaussian(m);
    b::register_integrators(m);
    b::register_perceptron(m);
    b::register_committee(m);
    b::register_meanfield(m);
    b::register_batchnorm(m);
    b::register_fisher(m);
    b::register_ntk(m);
    b::register_network(m);
    b::register_training(m);
    b::register_sweep(m);
}
