// Thin bindings of the batch-norm mean field (argument conversion, GIL release; maths in
// cpp/src/batchnorm_*.cpp, validation and defaults in python/statmech_nn/batchnorm.py). Deep BN
// networks are simulated by the sampled-network engine (register_network.cpp).
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/batchnorm.hpp"

namespace statmech_nn::bindings {

namespace {

py::dict moments_dict(const batchnorm::SphereMoments& m) {
    py::dict d;
    d["phi2"] = m.phi2;
    d["phi12"] = m.phi12;
    d["dphi2"] = m.dphi2;
    d["dphi12"] = m.dphi12;
    d["dphix2"] = m.dphix2;
    d["dphix12"] = m.dphix12;
    d["error"] = m.error;
    d["method"] = m.method;
    return d;
}

}  // namespace

void register_batchnorm(py::module_& m) {
    namespace bn = statmech_nn::batchnorm;
    auto s = m.def_submodule("batchnorm", "batch-norm mean field (Yang et al. 2019)");

    s.def(
        "sphere_moments",
        [](const std::string& act, double slope, double alpha, int B, const std::string& method, int nodes) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            bn::SphereMoments r;
            {
                py::gil_scoped_release release;
                r = bn::sphere_moments(phi, B, method, nodes);
            }
            return moments_dict(r);
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("B"), py::arg("method"), py::arg("nodes"));

    s.def(
        "fixed_point",
        [](const std::string& act, double slope, double alpha, int B, double sw2, double sb2, const std::string& method,
           int nodes) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            bn::FixedPoint r;
            {
                py::gil_scoped_release release;
                r = bn::fixed_point(phi, B, sw2, sb2, method, nodes);
            }
            py::dict d;
            d["q_star"] = r.q_star;
            d["c_star"] = r.c_star;
            d["status"] = r.status;
            d["moments"] = moments_dict(r.moments);
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("B"), py::arg("sigma_w2"),
        py::arg("sigma_b2"), py::arg("method"), py::arg("nodes"));

    s.def(
        "gradient_explosion_rate",
        [](const std::string& act, double slope, double alpha, int B, const std::string& method, int nodes) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            py::gil_scoped_release release;
            return bn::gradient_explosion_rate(phi, B, method, nodes);
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("B"), py::arg("method"), py::arg("nodes"));

    s.def(
        "arccos_kernel",
        [](double alpha, const array_f64& c) {
            py::array_t<double> out(c.size());
            {
                py::gil_scoped_release release;
                statmech_nn::arccos_kernel(alpha, c.data(), static_cast<std::int64_t>(c.size()), out.mutable_data());
            }
            return out;
        },
        py::arg("alpha"), py::arg("c"));
    s.def("sphere_moment_factor", &bn::sphere_moment_factor, py::arg("B"), py::arg("alpha"));

    s.def(
        "covariance_map",
        [](const std::string& act, double slope, double alpha, const array_f64& Sigma, double sw2, double sb2,
           std::int64_t n_samples, std::uint64_t seed, int num_threads) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            const Eigen::MatrixXd S = to_matrix(Sigma, "Sigma", true);
            Eigen::MatrixXd out, err;
            std::string method;
            {
                py::gil_scoped_release release;
                out = bn::covariance_map(phi, S, sw2, sb2, n_samples, seed, num_threads, &err, &method);
            }
            py::dict d;
            d["Sigma"] = matrix_out(out);
            d["std_error"] = matrix_out(err);
            d["method"] = method;
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("Sigma"), py::arg("sigma_w2"),
        py::arg("sigma_b2"), py::arg("n_samples"), py::arg("seed"), py::arg("num_threads"));

    // Test hook: the Monte Carlo estimate of V(Sigma) that covariance_map falls back on.
    testing_module(m).def(
        "batchnorm_v_monte_carlo",
        [](const std::string& act, double slope, double alpha, const array_f64& Sigma, std::int64_t n_samples,
           std::uint64_t seed, int num_threads) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            const Eigen::MatrixXd S = to_matrix(Sigma, "Sigma", true);
            Eigen::MatrixXd out, err;
            {
                py::gil_scoped_release release;
                out = bn::v_monte_carlo(phi, S, n_samples, seed, num_threads, &err);
            }
            return py::make_tuple(matrix_out(out), matrix_out(err));
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("Sigma"), py::arg("n_samples"),
        py::arg("seed"), py::arg("num_threads"));
}

}  // namespace statmech_nn::bindings
