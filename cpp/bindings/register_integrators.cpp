#include "bindings.hpp"
#include "statmech_nn/integrators.hpp"

namespace statmech_nn::bindings {

void register_integrators(py::module_& m) {
    auto s = m.def_submodule("integrators", "ODE integrators (Dormand–Prince 5(4), RK4, Euler)");
    s.def(
        "solve",
        [](py::function fun, array_f64 y0, array_f64 t, const std::string& method, double rtol, double atol,
           double dt, double max_step, std::int64_t max_steps, double divergence_bound, py::object event) {
            if (y0.ndim() != 1) throw std::invalid_argument("y0: must be 1-D");
            if (t.ndim() != 1 || t.size() < 1) throw std::invalid_argument("t: must be a non-empty 1-D array");
            const OdeOptions opt = make_ode_options(method, rtol, atol, dt, max_step, max_steps, divergence_bound);
            const Eigen::Index n = y0.size();
            Eigen::VectorXd y(n);
            for (Eigen::Index i = 0; i < n; ++i) y[i] = y0.data()[i];
            std::vector<double> times(t.data(), t.data() + t.size());
            OdeRhs rhs = [&](double tt, const double* yy, double* out) {
                py::array_t<double> ya(n, yy);
                array_f64 r = fun(tt, ya);
                if (r.size() != n) throw std::invalid_argument("fun: must return an array of len(y0)");
                for (Eigen::Index i = 0; i < n; ++i) out[i] = r.data()[i];
            };
            OdeEvent ev = nullptr;
            if (!event.is_none()) {
                py::function evf = event;
                ev = [evf, n](double tt, const double* yy) {
                    py::array_t<double> ya(n, yy);
                    return evf(tt, ya).cast<double>();
                };
            }
            OdeResult r = integrate_ode(rhs, y, times, opt, ev);
            py::dict d;
            py::array_t<double> tr(r.n_out, times.data());
            py::array_t<double> yr({static_cast<py::ssize_t>(r.n_out), static_cast<py::ssize_t>(n)});
            std::copy(r.y.data(), r.y.data() + r.y.size(), yr.mutable_data());
            py::array_t<double> ys(n, r.y_stop.data());
            d["t"] = tr;
            d["y"] = yr;
            d["status"] = to_string(r.status);
            d["t_stop"] = r.t_stop;
            d["y_stop"] = ys;
            d["event_time"] = r.event_time;
            d["n_rhs"] = r.n_rhs;
            d["n_steps"] = r.n_steps;
            d["n_rejected"] = r.n_rejected;
            return d;
        },
        py::arg("fun"), py::arg("y0"), py::arg("t"), py::arg("method") = "dopri5", py::arg("rtol") = 1e-8,
        py::arg("atol") = 1e-10, py::arg("dt") = 0.0, py::arg("max_step") = std::numeric_limits<double>::infinity(),
        py::arg("max_steps") = 100000000, py::arg("divergence_bound") = 1e8, py::arg("event") = py::none());
}

}  // namespace statmech_nn::bindings
