// Thin bindings of the soft committee machine: the core's Model, State and SimSettings structs
// (Eigen matrices through pybind11's Eigen casters), one conversion per result struct, the GIL
// released around the core.

#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/committee_averages.hpp"
#include "statmech_nn/committee_ode.hpp"
#include "statmech_nn/committee_sim.hpp"

namespace statmech_nn::bindings {

namespace {

using namespace statmech_nn::committee;

py::dict solution_dict(const OdeSolution& r, const Model& m) {
    const py::ssize_t n = r.n_out, K = m.K, M = m.M, O = m.O;
    py::dict d;
    d["t"] = to_array(r.t, {n});
    d["Q"] = to_array(r.Q, {n, K, K});
    d["R"] = to_array(r.R, {n, K, M});
    d["g"] = to_array(r.g, {n, K});
    d["w"] = to_array(r.w, {n, K, O});
    d["eg"] = to_array(r.eg, {n});
    d["status"] = r.status;
    d["stop_time"] = r.t_stop;
    d["n_rhs"] = r.n_rhs;
    d["n_steps"] = r.n_steps;
    return d;
}

py::dict report_dict(const RhsReport& r) {
    py::dict d;
    d["Q"] = r.d.Q;
    d["R"] = r.d.R;
    d["g"] = r.d.g;
    d["w"] = r.d.w;
    d["eg"] = r.eg;
    d["S"] = r.S;
    d["P"] = r.P;
    d["c"] = r.c;
    return d;
}

py::dict simulation_dict(const SimOutput& r, const Model& m) {
    const py::ssize_t ns = r.n_seeds, nr = r.n_rec, K = m.K, M = m.M, O = m.O;
    py::dict d;
    d["Q"] = to_array(r.Q, {ns, nr, K, K});
    d["R"] = to_array(r.R, {ns, nr, K, M});
    d["g"] = to_array(r.g, {ns, nr, K});
    d["w"] = to_array(r.w, {ns, nr, K, O});
    d["eg"] = to_array(r.eg, {ns, nr});
    d["eg_mc"] = to_array(r.eg_mc, {ns, nr});
    d["T"] = to_array(r.T, {ns, M, M});
    d["status"] = r.status;
    d["stop_step"] = to_array(r.stop_step);
    return d;
}

}  // namespace

void register_committee(py::module_& m) {
    auto sub = m.def_submodule("committee", "soft committee machine: order-parameter ODEs and simulation");

    py::class_<Model>(sub, "Model", "the soft committee machine (validated by the core)")
        .def(py::init(&make_model), py::arg("activation"), py::arg("K"), py::arg("M"), py::arg("v"), py::arg("eta"),
             py::arg("eta_w"), py::arg("sigma"), py::arg("noise"), py::arg("batch_size"), py::arg("normalization"))
        .def_readonly("K", &Model::K)
        .def_readonly("M", &Model::M)
        .def_readonly("O", &Model::O)
        .def_readonly("eta", &Model::eta)
        .def_readonly("eta_w", &Model::eta_w)
        .def_readonly("sigma", &Model::sigma)
        .def_readonly("batch_size", &Model::batch_size);

    py::class_<State>(sub, "State", "order parameters (Q, R, g, w)")
        .def(py::init([](Eigen::MatrixXd Q, Eigen::MatrixXd R, Eigen::VectorXd g, Eigen::MatrixXd w) {
                 return State{std::move(Q), std::move(R), std::move(g), std::move(w)};
             }),
             py::arg("Q"), py::arg("R"), py::arg("g"), py::arg("w"))
        .def_readonly("Q", &State::Q)
        .def_readonly("R", &State::R)
        .def_readonly("g", &State::g)
        .def_readonly("w", &State::w);

    py::class_<SimSettings>(sub, "SimSettings", "settings of the microscopic simulation")
        .def(py::init<>())
        .def_readwrite("model", &SimSettings::model)
        .def_readwrite("N", &SimSettings::N)
        .def_readwrite("w0", &SimSettings::w0)
        .def_readwrite("g0", &SimSettings::g0)
        .def_readwrite("student_scale", &SimSettings::student_scale)
        .def_readwrite("teacher_scale", &SimSettings::teacher_scale)
        .def_readwrite("J0", &SimSettings::J0)
        .def_readwrite("B0", &SimSettings::B0)
        .def_readwrite("record_steps", &SimSettings::record_steps)
        .def_readwrite("seeds", &SimSettings::seeds)
        .def_readwrite("test_samples", &SimSettings::test_samples)
        .def_readwrite("divergence_bound", &SimSettings::divergence_bound)
        .def_readwrite("projected", &SimSettings::projected);

    sub.def(
        "ode",
        [](const Model& model, const Eigen::MatrixXd& T, const State& initial, array_f64 t, const OdeOptions& options,
           int num_threads) {
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            const std::vector<double> times = to_vector(t);
            OdeSolution r;
            {
                py::gil_scoped_release release;
                r = solve(model, T, initial, times, options, num_threads);
            }
            return solution_dict(r, model);
        },
        py::arg("model"), py::arg("T"), py::arg("initial"), py::arg("t"), py::arg("options"), py::arg("num_threads"));

    sub.def(
        "derivatives",
        [](const Model& model, const Eigen::MatrixXd& T, const State& state, int num_threads) {
            RhsReport r;
            {
                py::gil_scoped_release release;
                r = derivatives_report(model, T, state, num_threads);
            }
            return report_dict(r);
        },
        py::arg("model"), py::arg("T"), py::arg("state"), py::arg("num_threads"));

    testing_module(m).def(
        "committee_derivatives_reference",
        [](const Model& model, const Eigen::MatrixXd& T, const State& state) {
            RhsReport r;
            {
                py::gil_scoped_release release;
                r = derivatives_report_reference(model, T, state);
            }
            return report_dict(r);
        },
        py::arg("model"), py::arg("T"), py::arg("state"),
        "the committee right-hand side evaluated term by term (the reference of the fast one)");

    testing_module(m).def("committee_set_rhs_thread_work", &set_rhs_thread_work, py::arg("work"),
                          "sets the work per right-hand side below which the committee ODE runs on one thread; "
                          "returns the previous value");
    testing_module(m).def("committee_set_simd_asin", &set_simd_asin, py::arg("on"),
                          "switches the AVX2 array asin of the committee right-hand side; returns whether it is in use");
    testing_module(m).def("committee_rhs_threads", &rhs_threads, py::arg("model"), py::arg("num_threads"),
                          "threads one committee right-hand side uses");

    sub.def(
        "simulate",
        [](const SimSettings& settings, int num_threads) {
            SimOutput r;
            {
                py::gil_scoped_release release;
                r = simulate(settings, num_threads);
            }
            return simulation_dict(r, settings.model);
        },
        py::arg("settings"), py::arg("num_threads"));

    sub.def(
        "normal_fill_seconds",
        [](std::int64_t n) {
            py::gil_scoped_release release;
            return normal_fill_seconds(n);
        },
        py::arg("n"), "seconds to draw n standard normals with the simulator's generator (one thread)");
}

}  // namespace statmech_nn::bindings
