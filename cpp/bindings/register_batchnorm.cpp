// Thin bindings of the batch-norm mean field (argument conversion, GIL release).
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/batchnorm.hpp"

namespace statmech_nn::bindings {

namespace {

Eigen::MatrixXd to_matrix(const array_f64& a, const char* name) {
    if (a.ndim() != 2 || a.shape(0) != a.shape(1))
        throw std::invalid_argument(std::string(name) + ": must be a square matrix");
    const auto n = a.shape(0);
    Eigen::MatrixXd M(n, n);
    auto r = a.unchecked<2>();
    for (py::ssize_t i = 0; i < n; ++i)
        for (py::ssize_t j = 0; j < n; ++j) M(i, j) = r(i, j);
    return M;
}

py::array_t<double> from_matrix(const Eigen::MatrixXd& M) {
    py::array_t<double> out({M.rows(), M.cols()});
    auto w = out.mutable_unchecked<2>();
    for (Eigen::Index i = 0; i < M.rows(); ++i)
        for (Eigen::Index j = 0; j < M.cols(); ++j) w(i, j) = M(i, j);
    return out;
}

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

    s.def("arccos_kernel", &bn::arccos_kernel, py::arg("alpha"), py::arg("c"));
    s.def("sphere_moment_factor", &bn::sphere_moment_factor, py::arg("B"), py::arg("alpha"));

    s.def(
        "covariance_map",
        [](const std::string& act, double slope, double alpha, const array_f64& Sigma, double sw2, double sb2,
           std::int64_t n_samples, std::uint64_t seed, int num_threads) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            const Eigen::MatrixXd S = to_matrix(Sigma, "Sigma");
            Eigen::MatrixXd out, err;
            std::string method;
            {
                py::gil_scoped_release release;
                out = bn::covariance_map(phi, S, sw2, sb2, n_samples, seed, num_threads, &err, &method);
            }
            return py::make_tuple(from_matrix(out), from_matrix(err), method);
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("Sigma"), py::arg("sigma_w2"),
        py::arg("sigma_b2"), py::arg("n_samples"), py::arg("seed"), py::arg("num_threads"));

    s.def(
        "v_monte_carlo",
        [](const std::string& act, double slope, double alpha, const array_f64& Sigma, std::int64_t n_samples,
           std::uint64_t seed, int num_threads) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            const Eigen::MatrixXd S = to_matrix(Sigma, "Sigma");
            Eigen::MatrixXd out, err;
            {
                py::gil_scoped_release release;
                out = bn::v_monte_carlo(phi, S, n_samples, seed, num_threads, &err);
            }
            return py::make_tuple(from_matrix(out), from_matrix(err));
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("Sigma"), py::arg("n_samples"),
        py::arg("seed"), py::arg("num_threads"));

    s.def(
        "simulate",
        [](const std::string& act, double slope, double alpha, int B, int depth, int width, double sw2, double sb2,
           const array_f64& Sigma0, const std::vector<std::uint64_t>& seeds, int num_threads) {
            const bn::Phi phi = bn::Phi::from_name(act, slope, alpha);
            const Eigen::MatrixXd S0 = to_matrix(Sigma0, "Sigma0");
            bn::SimulationResult r;
            {
                py::gil_scoped_release release;
                r = bn::simulate(phi, B, depth, width, sw2, sb2, S0, seeds, num_threads);
            }
            const py::ssize_t ns = static_cast<py::ssize_t>(seeds.size());
            py::array_t<double> Sig({ns, static_cast<py::ssize_t>(depth + 1), static_cast<py::ssize_t>(B),
                                     static_cast<py::ssize_t>(B)});
            std::copy(r.Sigma.begin(), r.Sigma.end(), Sig.mutable_data());
            py::array_t<double> lg({ns, static_cast<py::ssize_t>(depth + 1)});
            std::copy(r.log_grad_norm2.begin(), r.log_grad_norm2.end(), lg.mutable_data());
            py::array_t<std::int64_t> deg(ns);
            for (py::ssize_t i = 0; i < ns; ++i) deg.mutable_data()[i] = r.degenerate[i];
            return py::make_tuple(Sig, lg, deg);
        },
        py::arg("activation"), py::arg("slope"), py::arg("alpha"), py::arg("B"), py::arg("depth"), py::arg("width"),
        py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("Sigma0"), py::arg("seeds"), py::arg("num_threads"));
}

}  // namespace statmech_nn::bindings
