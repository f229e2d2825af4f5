// Thin bindings of the ODE integrators: the typed options struct and the generic solver.
#include "bindings.hpp"
#include "statmech_nn/integrators.hpp"

namespace statmech_nn::bindings {

void register_integrators(py::module_& m) {
    auto s = m.def_submodule("integrators", "ODE integrators (Dormand–Prince 5(4), Runge–Kutta–Chebyshev, RK4, Euler)");

    // The core's options, validated by make_ode_options (every argument required: defaults are the
    // facade's policy).
    py::class_<OdeOptions>(s, "OdeOptions", "integrator options (validated by the core)")
        .def(py::init(&make_ode_options), py::arg("method"), py::arg("rtol"), py::arg("atol"), py::arg("dt"),
             py::arg("max_step"), py::arg("max_steps"), py::arg("divergence_bound"))
        .def_readonly("rtol", &OdeOptions::rtol)
        .def_readonly("atol", &OdeOptions::atol)
        .def_readonly("dt", &OdeOptions::dt)
        .def_readonly("max_step", &OdeOptions::max_step)
        .def_readonly("max_steps", &OdeOptions::max_steps)
        .def_readonly("divergence_bound", &OdeOptions::divergence_bound);

    s.def(
        "solve",
        [](py::function fun, array_f64 y0, array_f64 t, const OdeOptions& options, py::object event) {
            if (y0.ndim() != 1) throw std::invalid_argument("y0: must be 1-D");
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            const Eigen::Index n = y0.size();
            const std::vector<double> y0v = to_vector(y0), times = to_vector(t);
            const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(y0v.data(), n);
            OdeRhs rhs = [&](double tt, const double* yy, double* out) {
                const py::object o = fun(tt, py::array_t<double>(n, yy));
                if (py::isinstance<py::str>(o) || py::isinstance<py::bytes>(o) || o.is_none())
                    throw py::type_error("fun: must return an array of len(y0) real numbers");
                array_f64 r;
                try {
                    r = py::cast<array_f64>(o);
                } catch (const py::error_already_set&) {
                    throw py::type_error("fun: must return an array of len(y0) real numbers");
                } catch (const py::cast_error&) {
                    throw py::type_error("fun: must return an array of len(y0) real numbers");
                }
                if (r.size() != n) throw std::invalid_argument("fun: must return an array of len(y0)");
                std::copy(r.data(), r.data() + n, out);
            };
            OdeEvent ev = nullptr;
            if (!event.is_none()) {
                py::function evf = event;
                ev = [evf, n](double tt, const double* yy) {
                    const py::object o = evf(tt, py::array_t<double>(n, yy));
                    // A real number (Python or NumPy scalar, 0-d array); not str/None/complex/bool-like
                    // containers.
                    if (!(py::isinstance<py::float_>(o) || py::isinstance<py::int_>(o) ||
                          py::isinstance(o, py::module_::import("numbers").attr("Real"))))
                        throw py::type_error("event: must return a real number");
                    return o.cast<double>();
                };
            }
            const OdeResult r = integrate_ode(rhs, y, times, options, ev);
            const std::vector<double> ydata(r.y.data(), r.y.data() + r.y.size());
            py::dict d;
            d["t"] = to_array(std::vector<double>(times.begin(), times.begin() + r.n_out));
            d["y"] = to_array(ydata, {static_cast<py::ssize_t>(r.n_out), static_cast<py::ssize_t>(n)});
            d["status"] = to_string(r.status);
            d["stop_time"] = r.t_stop;
            d["y_stop"] = to_array(std::vector<double>(r.y_stop.data(), r.y_stop.data() + r.y_stop.size()));
            d["event_time"] = r.event_time;
            d["n_rhs"] = r.n_rhs;
            d["n_steps"] = r.n_steps;
            d["n_rejected"] = r.n_rejected;
            return d;
        },
        py::arg("fun"), py::arg("y0"), py::arg("t"), py::arg("options"), py::arg("event") = py::none());
}

}  // namespace statmech_nn::bindings
