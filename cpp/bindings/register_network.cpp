// Thin binding of the sampled-network engine (argument conversion, GIL release; maths in
// cpp/src/network_*.cpp, defaults and validation in python/statmech_nn/_network.py).
#include <optional>
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/network.hpp"

namespace statmech_nn::bindings {

void register_network(py::module_& m) {
    namespace nw = statmech_nn::network;
    auto s = m.def_submodule("network", "the sampled-network engine (one simulator of deep networks)");

    s.def(
        "run",
        [](const std::vector<int>& widths, int batch, const std::string& activation, double slope, bool alpha_relu,
           double alpha, double sigma_w2, double sigma_b2, const std::string& weights,
           const std::string& parameterization, const std::string& batchnorm, bool linear_readout,
           const std::string& input, std::optional<array_f64> x, std::optional<array_f64> cov_factor, double q_in,
           double c_in, bool preactivation, const std::string& backward, bool gram, bool gram_bias, bool outputs,
           bool jacobian, bool post_stats, const std::vector<std::uint64_t>& seeds, int num_threads, double memory_cap,
           const std::string& width_name, const std::string& batch_name, const std::string& depth_name) {
            nw::Spec spec;
            spec.widths = widths;
            spec.batch = batch;
            spec.phi.act = Activation::from_name(alpha_relu ? "relu" : activation, slope);
            spec.phi.alpha_relu = alpha_relu;
            spec.phi.alpha = alpha;
            spec.sigma_w2 = sigma_w2;
            spec.sigma_b2 = sigma_b2;
            spec.weights = nw::weights_from_name(weights);
            spec.parameterization = nw::parameterization_from_name(parameterization);
            spec.batchnorm = nw::batchnorm_from_name(batchnorm);
            spec.linear_readout = linear_readout;
            spec.input.kind = nw::input_kind_from_name(input);
            if (x) spec.input.x = to_matrix(*x, "x");
            if (cov_factor) spec.input.cov_factor = to_matrix(*cov_factor, "Sigma0");
            spec.input.q_in = q_in;
            spec.input.c_in = c_in;
            spec.input.preactivation = preactivation;
            spec.backward = nw::backward_from_name(backward);
            spec.gram = gram;
            spec.gram_bias = gram_bias;
            spec.outputs = outputs;
            spec.jacobian = jacobian;
            spec.post_stats = post_stats;
            spec.num_threads = num_threads;
            spec.memory_cap = memory_cap;
            spec.width_name = width_name;
            spec.batch_name = batch_name;
            spec.depth_name = depth_name;
            nw::Result r;
            {
                py::gil_scoped_release release;
                r = nw::run(spec, seeds);
            }
            const py::ssize_t S = r.n_seeds, L = r.L, B = r.B, RB = static_cast<py::ssize_t>(r.R) * r.B,
                              ML = r.out_width;
            py::dict d;
            d["pre_cov"] = to_array(r.pre_cov, {S, L + 1, B, B});
            d["post_cov"] = to_array(r.post_cov, {S, L, B, B});
            if (!r.grad_log_norm2.empty()) {
                d["grad_log_norm2"] = to_array(r.grad_log_norm2, {S, L + 1});
                d["grad_cov"] = to_array(r.grad_cov, {S, L + 1, RB, RB});
            }
            if (!r.gram.empty()) d["gram"] = to_array(r.gram, {S, RB, RB});
            if (!r.outputs.empty()) d["outputs"] = to_array(r.outputs, {S, B, ML});
            if (!r.jacobian_eigenvalues.empty()) d["jacobian_eigenvalues"] = to_array(r.jacobian_eigenvalues, {S, ML});
            d["status"] = to_array(r.status);
            d["stop_layer"] = to_array(r.stop_layer);
            d["degenerate"] = to_array(r.degenerate);
            return d;
        },
        py::arg("widths"), py::arg("batch"), py::arg("activation"), py::arg("slope"), py::arg("alpha_relu"),
        py::arg("alpha"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("weights"), py::arg("parameterization"),
        py::arg("batchnorm"), py::arg("linear_readout"), py::arg("input"), py::arg("x"), py::arg("cov_factor"),
        py::arg("q_in"), py::arg("c_in"), py::arg("preactivation"), py::arg("backward"), py::arg("gram"),
        py::arg("gram_bias"), py::arg("outputs"), py::arg("jacobian"), py::arg("post_stats"), py::arg("seeds"),
        py::arg("num_threads"), py::arg("memory_cap"), py::arg("width_name"), py::arg("batch_name"), py::arg("depth_name"));

    // Test hook: the inputs, weights and biases the engine draws for one seed (Gaussian inputs).
    testing_module(m).def(
        "network_sample",
        [](const std::vector<int>& widths, int batch, double sigma_w2, double sigma_b2, const std::string& weights,
           std::uint64_t seed) {
            nw::Spec spec;
            spec.widths = widths;
            spec.batch = batch;
            spec.sigma_w2 = sigma_w2;
            spec.sigma_b2 = sigma_b2;
            spec.weights = nw::weights_from_name(weights);
            spec.input.kind = nw::InputKind::Gaussian;
            if (widths.size() < 2) throw std::invalid_argument("widths: need at least two");
            const Eigen::MatrixXd X = nw::draw_input(spec, seed);
            py::list Ws, bs;
            for (std::size_t l = 1; l < widths.size(); ++l) {
                nw::RowMatrix W;
                Eigen::VectorXd b;
                nw::draw_layer(spec, static_cast<int>(l), seed, 1, W, b);
                std::vector<double> w(W.data(), W.data() + W.size()), bv(b.data(), b.data() + b.size());
                Ws.append(to_array(w, {static_cast<py::ssize_t>(W.rows()), static_cast<py::ssize_t>(W.cols())}));
                bs.append(to_array(bv));
            }
            const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Xr = X;
            std::vector<double> xv(Xr.data(), Xr.data() + Xr.size());
            return py::make_tuple(to_array(xv, {static_cast<py::ssize_t>(X.rows()), static_cast<py::ssize_t>(X.cols())}),
                                  Ws, bs);
        },
        py::arg("widths"), py::arg("batch"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("weights"),
        py::arg("seed"));
}

}  // namespace statmech_nn::bindings
