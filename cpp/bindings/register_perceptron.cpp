// Thin bindings of the perceptron theory and simulation (argument conversion, GIL release).
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/perceptron.hpp"
#include "statmech_nn/perceptron_simulation.hpp"
#include "statmech_nn/random.hpp"

namespace statmech_nn::bindings {

void register_perceptron(py::module_& m) {
    namespace pc = statmech_nn::perceptron;
    auto s = m.def_submodule("perceptron", "on-line perceptron learning: SGD and weight normalisation");

    s.def(
        "averages",
        [](const std::string& activation, double slope, double l, double R, bool quadrature) {
            const Activation g = Activation::from_name(activation, slope);
            const pc::Averages a = quadrature ? pc::averages_quadrature(g, l, R) : pc::averages(g, l, R);
            py::dict d;
            d["A1"] = a.A1;
            d["A1_over_l"] = a.A1_over_l;
            d["A2"] = a.A2;
            d["A3"] = a.A3;
            d["eg"] = a.eg;
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("l"), py::arg("R"), py::arg("quadrature") = false);

    // Test hook for random.hpp (the simulators' generator): n standard normals of Rng(seed, stream).
    s.def(
        "_normals",
        [](std::uint64_t seed, std::uint64_t stream, std::int64_t n) {
            if (n < 0) throw std::invalid_argument("n: must be >= 0");
            py::array_t<double> out(n);
            Rng rng(seed, stream);
            rng.fill_normal(out.mutable_data(), static_cast<std::size_t>(n));
            return out;
        },
        py::arg("seed"), py::arg("stream"), py::arg("n"));

    s.def("has_closed_form", [](const std::string& activation) {
        return pc::closed_form_available(Activation::from_name(activation));
    });

    s.def(
        "fixed_point_constants",
        [](const std::string& activation, double slope) {
            const pc::FixedPointConstants c = pc::fixed_point_constants(Activation::from_name(activation, slope));
            return py::make_tuple(c.G, c.H, c.F4);
        },
        py::arg("activation"), py::arg("slope"));

    s.def(
        "ode",
        [](const std::string& activation, double slope, const std::string& rule, double eta, double l0, double R0,
           double z0, array_f64 t, const std::string& method, double rtol, double atol, double dt, double max_step,
           std::int64_t max_steps, double divergence_bound, double eg_threshold) {
            const Activation g = Activation::from_name(activation, slope);
            const pc::Rule r = pc::rule_from_name(rule);
            const OdeOptions opt = make_ode_options(method, rtol, atol, dt, max_step, max_steps, divergence_bound);
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            std::vector<double> times(t.data(), t.data() + t.size());
            pc::Trajectory tr;
            {
                py::gil_scoped_release release;
                tr = pc::integrate(g, r, eta, l0, R0, z0, times, opt, eg_threshold);
            }
            py::dict d;
            d["t"] = to_array(tr.t);
            d["l"] = to_array(tr.l);
            d["R"] = to_array(tr.R);
            d["z"] = r == pc::Rule::WN ? py::object(to_array(tr.z)) : py::object(py::none());
            d["eg"] = to_array(tr.eg);
            d["status"] = to_string(tr.status);
            d["t_stop"] = tr.t_stop;
            d["event_time"] = tr.event_time;
            d["n_rhs"] = tr.n_rhs;
            d["n_steps"] = tr.n_steps;
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("rule"), py::arg("eta"), py::arg("l0"), py::arg("R0"),
        py::arg("z0"), py::arg("t"), py::arg("method"), py::arg("rtol"), py::arg("atol"), py::arg("dt"),
        py::arg("max_step"), py::arg("max_steps"), py::arg("divergence_bound"), py::arg("eg_threshold"));

    s.def(
        "time_to_error",
        [](const std::string& activation, double slope, const std::string& rule, array_f64 eta, array_f64 l0,
           double R0, double z0, double threshold, double t_max, const std::string& method, double rtol, double atol,
           double dt, double max_step, std::int64_t max_steps, double divergence_bound, int num_threads) {
            const Activation g = Activation::from_name(activation, slope);
            const pc::Rule r = pc::rule_from_name(rule);
            const OdeOptions opt = make_ode_options(method, rtol, atol, dt, max_step, max_steps, divergence_bound);
            if (eta.ndim() != 1 || l0.ndim() != 1 || eta.size() != l0.size())
                throw std::invalid_argument("eta, l0: must be 1-D arrays of equal length");
            const std::int64_t n = eta.size();
            py::array_t<double> time(n), eta_eff(n);
            py::array_t<std::int8_t> status(n);
            double* tp = time.mutable_data();
            double* ep = eta_eff.mutable_data();
            std::int8_t* sp = status.mutable_data();
            {
                py::gil_scoped_release release;
                pc::time_to_error(g, r, eta.data(), l0.data(), n, R0, z0, threshold, t_max, opt, num_threads, tp, ep,
                                  sp);
            }
            return py::make_tuple(time, eta_eff, status);
        },
        py::arg("activation"), py::arg("slope"), py::arg("rule"), py::arg("eta"), py::arg("l0"), py::arg("R0"),
        py::arg("z0"), py::arg("threshold"), py::arg("t_max"), py::arg("method"), py::arg("rtol"), py::arg("atol"),
        py::arg("dt"), py::arg("max_step"), py::arg("max_steps"), py::arg("divergence_bound"),
        py::arg("num_threads"));

    s.def(
        "simulate",
        [](const std::string& activation, double slope, const std::string& rule, double eta, double l0, double R0,
           double z0, std::int64_t N, py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> steps,
           py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast> seeds, int num_threads,
           double divergence_bound) {
            const Activation g = Activation::from_name(activation, slope);
            const pc::Rule r = pc::rule_from_name(rule);
            std::vector<std::int64_t> st(steps.data(), steps.data() + steps.size());
            std::vector<std::uint64_t> sd(seeds.data(), seeds.data() + seeds.size());
            pc::SimulationResult res;
            {
                py::gil_scoped_release release;
                res = pc::simulate(g, r, eta, l0, R0, z0, N, st, sd, num_threads, divergence_bound);
            }
            auto mat = [&](const std::vector<double>& v) {
                py::array_t<double> a({static_cast<py::ssize_t>(res.n_seeds), static_cast<py::ssize_t>(res.n_times)});
                std::copy(v.begin(), v.end(), a.mutable_data());
                return a;
            };
            py::array_t<std::int8_t> status(res.n_seeds);
            std::copy(res.status.begin(), res.status.end(), status.mutable_data());
            py::dict d;
            d["l"] = mat(res.l);
            d["R"] = mat(res.R);
            d["z"] = mat(res.z);
            d["eg"] = mat(res.eg);
            d["status"] = status;
            d["t_stop"] = to_array(res.t_stop);
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("rule"), py::arg("eta"), py::arg("l0"), py::arg("R0"),
        py::arg("z0"), py::arg("N"), py::arg("steps"), py::arg("seeds"), py::arg("num_threads"),
        py::arg("divergence_bound"));
}

}  // namespace statmech_nn::bindings
