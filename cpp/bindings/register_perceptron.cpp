// Thin bindings of the perceptron theory and simulation: the typed setup/options structs in,
// one conversion per result struct out, the GIL released around the core.
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/perceptron.hpp"
#include "statmech_nn/perceptron_simulation.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::bindings {

namespace {

namespace pc = statmech_nn::perceptron;

py::dict trajectory_dict(const pc::Trajectory& tr, pc::Rule rule) {
    py::dict d;
    d["t"] = to_array(tr.t);
    d["l"] = to_array(tr.l);
    d["R"] = to_array(tr.R);
    d["z"] = rule == pc::Rule::WN ? py::object(to_array(tr.z)) : py::object(py::none());
    d["eg"] = to_array(tr.eg);
    d["status"] = to_string(tr.status);
    d["stop_time"] = tr.t_stop;
    d["event_time"] = tr.event_time;
    d["n_rhs"] = tr.n_rhs;
    d["n_steps"] = tr.n_steps;
    return d;
}

py::dict simulation_dict(const pc::SimulationResult& res) {
    const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(res.n_seeds),
                                            static_cast<py::ssize_t>(res.n_times)};
    py::dict d;
    d["l"] = to_array(res.l, shape);
    d["R"] = to_array(res.R, shape);
    d["z"] = to_array(res.z, shape);
    d["eg"] = to_array(res.eg, shape);
    d["status"] = to_array(res.status);
    d["stop_time"] = to_array(res.t_stop);
    return d;
}

// Random-stream test hook: n standard normals of Rng(seed, stream) (the simulators' generator).
py::array_t<double> normals(std::uint64_t seed, std::uint64_t stream, std::int64_t n) {
    if (n < 0) throw std::invalid_argument("n: must be >= 0");
    py::array_t<double> out(n);
    Rng rng(seed, stream);
    rng.fill_normal(out.mutable_data(), static_cast<std::size_t>(n));
    return out;
}

// n normals of NormalLanes seeded from Rng(seed, stream), then `then` normals of that parent stream.
py::array_t<double> normal_lanes(std::uint64_t seed, std::uint64_t stream, std::int64_t n, std::int64_t then) {
    if (n < 0) throw std::invalid_argument("n: must be >= 0");
    if (then < 0) throw std::invalid_argument("then: must be >= 0");
    py::array_t<double> out(n + then);
    Rng rng(seed, stream);
    NormalLanes lanes(rng);
    lanes.fill(out.mutable_data(), static_cast<std::size_t>(n));
    rng.fill_normal(out.mutable_data() + n, static_cast<std::size_t>(then));
    return out;
}

}  // namespace

void register_perceptron(py::module_& m) {
    auto s = m.def_submodule("perceptron", "on-line perceptron learning: SGD and weight normalisation");

    py::class_<pc::Averages>(s, "Averages", "Gaussian averages A1, A2, A3, eps_g at (l, R)")
        .def_readonly("A1", &pc::Averages::A1)
        .def_readonly("A1_over_l", &pc::Averages::A1_over_l)
        .def_readonly("A2", &pc::Averages::A2)
        .def_readonly("A3", &pc::Averages::A3)
        .def_readonly("eg", &pc::Averages::eg);

    py::class_<pc::FixedPointConstants>(s, "FixedPointConstants", "G, H, F4 at the global solution")
        .def_readonly("G", &pc::FixedPointConstants::G)
        .def_readonly("H", &pc::FixedPointConstants::H)
        .def_readonly("F4", &pc::FixedPointConstants::F4);

    py::class_<pc::Setup>(s, "Setup", "one learning problem: activation, rule, eta, initial condition")
        .def(py::init(&pc::make_setup), py::arg("activation"), py::arg("slope"), py::arg("rule"), py::arg("eta"),
             py::arg("l0"), py::arg("R0"), py::arg("z0"))
        .def_readonly("eta", &pc::Setup::eta)
        .def_readonly("l0", &pc::Setup::l0)
        .def_readonly("R0", &pc::Setup::R0)
        .def_readonly("z0", &pc::Setup::z0);

    s.def(
        "averages",
        [](const std::string& activation, double slope, double l, double R, bool quadrature) {
            const Activation g = Activation::from_name(activation, slope);
            return quadrature ? pc::averages_quadrature(g, l, R) : pc::averages(g, l, R);
        },
        py::arg("activation"), py::arg("slope"), py::arg("l"), py::arg("R"), py::arg("quadrature"));

    s.def(
        "has_closed_form",
        [](const std::string& activation) { return pc::closed_form_available(Activation::from_name(activation)); },
        py::arg("activation"));

    s.def(
        "fixed_point_constants",
        [](const std::string& activation, double slope) {
            return pc::fixed_point_constants(Activation::from_name(activation, slope));
        },
        py::arg("activation"), py::arg("slope"));

    s.def(
        "ode",
        [](const pc::Setup& setup, array_f64 t, const OdeOptions& options, double eg_threshold) {
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            const std::vector<double> times = to_vector(t);
            pc::Trajectory tr;
            {
                py::gil_scoped_release release;
                tr = pc::integrate(setup, times, options, eg_threshold);
            }
            return trajectory_dict(tr, setup.rule);
        },
        py::arg("setup"), py::arg("t"), py::arg("options"), py::arg("eg_threshold"));

    s.def(
        "time_to_error",
        [](const pc::Setup& setup, array_f64 eta, array_f64 l0, double threshold, double t_max,
           const OdeOptions& options, int num_threads) {
            check_same_size(eta, l0, "eta, l0");
            const std::vector<double> e = to_vector(eta), l = to_vector(l0);
            pc::TimeToErrorGrid r;
            {
                py::gil_scoped_release release;
                r = pc::time_to_error(setup, e, l, threshold, t_max, options, num_threads);
            }
            return py::make_tuple(to_array(r.time), to_array(r.eta_eff), to_array(r.status));
        },
        py::arg("setup"), py::arg("eta"), py::arg("l0"), py::arg("threshold"), py::arg("t_max"), py::arg("options"),
        py::arg("num_threads"));

    s.def(
        "simulate",
        [](const pc::Setup& setup, std::int64_t N, std::vector<std::int64_t> steps, std::vector<std::uint64_t> seeds,
           int num_threads, double divergence_bound) {
            pc::SimulationResult res;
            {
                py::gil_scoped_release release;
                res = pc::simulate(setup, N, steps, seeds, num_threads, divergence_bound);
            }
            return simulation_dict(res);
        },
        py::arg("setup"), py::arg("N"), py::arg("steps"), py::arg("seeds"), py::arg("num_threads"),
        py::arg("divergence_bound"));

    testing_module(m).def("normals", &normals, py::arg("seed"), py::arg("stream"), py::arg("n"),
                          "n standard normals of Rng(seed, stream), the simulators' generator");
    testing_module(m).def("normal_lanes", &normal_lanes, py::arg("seed"), py::arg("stream"), py::arg("n"),
                          py::arg("then") = 0,
                          "n normals of NormalLanes seeded from Rng(seed, stream), then `then` normals of that stream");
    // Deprecated location of the same hook, kept until tests/test_perceptron_averages.py uses
    // _core._testing.normals.
    s.def("_normals", &normals, py::arg("seed"), py::arg("stream"), py::arg("n"));
}

}  // namespace statmech_nn::bindings
