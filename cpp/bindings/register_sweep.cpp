// Thin bindings of the grid fast paths of statmech_nn.sweep (perceptron_grid.hpp,
// committee_grid.hpp) and of the progress hook of the core's loops (parallel.hpp): conversion
// and GIL release only.
#include <Python.h>

#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/committee_grid.hpp"
#include "statmech_nn/parallel.hpp"
#include "statmech_nn/perceptron_grid.hpp"

namespace statmech_nn::bindings {

void register_sweep(py::module_& m);

namespace {

namespace pc = statmech_nn::perceptron;
namespace cm = statmech_nn::committee;

// ---- progress: a Python callable progress(done, total) for the calling thread's core loops ----
// The callable is held as a strong reference per thread (a raw PyObject*, so that no destructor
// runs without the GIL at thread exit); the core calls it from the master thread, at most every
// ~100 ms, with the GIL released, so the trampoline takes the GIL.
thread_local PyObject* t_progress = nullptr;
thread_local ProgressSink t_sink;

void python_progress(void* context, std::int64_t done, std::int64_t total) {
    py::gil_scoped_acquire gil;
    PyObject* result = PyObject_CallFunction(static_cast<PyObject*>(context), "LL", static_cast<long long>(done),
                                             static_cast<long long>(total));
    if (result) {
        Py_DECREF(result);
        return;
    }
    // A failing progress display never stops the computation; a Ctrl-C that Python delivered
    // inside it is handed back to the interrupt check.
    const bool interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
    PyErr_Clear();
    if (interrupted) PyErr_SetInterrupt();
}

py::object set_progress_callback(py::object callback) {
    py::object previous = t_progress ? py::reinterpret_borrow<py::object>(t_progress) : py::none();
    if (!callback.is_none() && !PyCallable_Check(callback.ptr()))
        throw py::type_error("progress callback must be callable or None");
    Py_XDECREF(t_progress);
    t_progress = nullptr;
    if (callback.is_none()) {
        set_progress_sink(nullptr);
    } else {
        t_progress = callback.inc_ref().ptr();
        t_sink.fn = &python_progress;
        t_sink.context = t_progress;
        set_progress_sink(&t_sink);
    }
    return previous;
}

py::dict perceptron_grid_dict(const pc::TrajectoryGrid& r) {
    const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(r.n_points),
                                            static_cast<py::ssize_t>(r.n_rows_max)};
    py::dict d;
    d["t"] = to_array(r.t, shape);
    d["l"] = to_array(r.l, shape);
    d["R"] = to_array(r.R, shape);
    d["z"] = r.z.empty() ? py::object(py::none()) : py::object(to_array(r.z, shape));
    d["eg"] = to_array(r.eg, shape);
    d["n_rows"] = to_array(r.n_rows);
    d["status"] = to_array(r.status);
    d["stop_time"] = to_array(r.stop_time);
    d["event_time"] = to_array(r.event_time);
    d["n_rhs"] = to_array(r.n_rhs);
    d["n_steps"] = to_array(r.n_steps);
    return d;
}

py::dict committee_grid_dict(const cm::OdeSolutionGrid& r) {
    const py::ssize_t n = r.n_points, rows = r.n_rows_max, K = r.K, M = r.M, O = r.O;
    py::dict d;
    d["t"] = to_array(r.t, {n, rows});
    d["Q"] = to_array(r.Q, {n, rows, K, K});
    d["R"] = to_array(r.R, {n, rows, K, M});
    d["g"] = to_array(r.g, {n, rows, K});
    d["w"] = to_array(r.w, {n, rows, K, O});
    d["eg"] = to_array(r.eg, {n, rows});
    d["n_rows"] = to_array(r.n_rows);
    d["status"] = r.status;
    d["stop_time"] = to_array(r.stop_time);
    d["n_rhs"] = to_array(r.n_rhs);
    d["n_steps"] = to_array(r.n_steps);
    return d;
}

}  // namespace

void register_sweep(py::module_& m) {
    auto s = m.def_submodule("sweep", "grid fast paths of statmech_nn.sweep (one call, parallel over points)");

    m.def("set_progress_callback", &set_progress_callback, py::arg("callback"),
          "Install progress(done, total) (or None) for the core loops started on this thread; returns the "
          "previous callable (or None).");

    m.def(
        "set_max_threads",
        [](int n) {
            if (n < 1) throw std::invalid_argument("n: must be >= 1");
            set_default_threads(n);
        },
        py::arg("n"), "Set the default number of threads (num_threads=None) of calls made from this thread.");

    s.def(
        "perceptron_ode",
        [](const std::string& activation, double slope, const std::string& rule, array_f64 eta, array_f64 l0,
           array_f64 R0, array_f64 z0, array_f64 t, const OdeOptions& options, double eg_threshold, int num_threads) {
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            const Activation g = Activation::from_name(activation, slope);
            const pc::Rule r = pc::rule_from_name(rule);
            const std::vector<double> e = to_vector(eta), l = to_vector(l0), R = to_vector(R0), z = to_vector(z0),
                                      times = to_vector(t);
            pc::TrajectoryGrid out;
            {
                py::gil_scoped_release release;
                out = pc::integrate_grid(g, r, e, l, R, z, times, options, eg_threshold, num_threads);
            }
            return perceptron_grid_dict(out);
        },
        py::arg("activation"), py::arg("slope"), py::arg("rule"), py::arg("eta"), py::arg("l0"), py::arg("R0"),
        py::arg("z0"), py::arg("t"), py::arg("options"), py::arg("eg_threshold"), py::arg("num_threads"));

    s.def(
        "committee_ode",
        [](const std::vector<cm::Model>& models, const std::vector<Eigen::MatrixXd>& T,
           const std::vector<cm::State>& initial, array_f64 t, const OdeOptions& options, int num_threads) {
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            const std::vector<double> times = to_vector(t);
            cm::OdeSolutionGrid out;
            {
                py::gil_scoped_release release;
                out = cm::solve_grid(models, T, initial, times, options, num_threads);
            }
            return committee_grid_dict(out);
        },
        py::arg("models"), py::arg("T"), py::arg("initial"), py::arg("t"), py::arg("options"),
        py::arg("num_threads"));
}

}  // namespace statmech_nn::bindings
