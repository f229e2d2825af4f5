// Thin bindings of the Fisher information order parameters (maths in cpp/src/deep/deep_recursion.cpp).
#include "bindings.hpp"
#include "statmech_nn/deep_recursion.hpp"

namespace statmech_nn::bindings {

void register_fisher(py::module_& m) {
    auto sub = m.def_submodule("fisher", "Fisher information of deep random networks (mean-field order parameters)");
    sub.def(
        "order_parameters",
        [](const std::string& activation, double slope, int depth, double sigma_w2, double sigma_b2,
           array_f64 alphas, double divergence_bound) {
            const deep::LayerParams p{Activation::from_name(activation, slope), sigma_w2, sigma_b2};
            const std::vector<double> a = to_vector(alphas);
            deep::FisherOrder f;
            {
                py::gil_scoped_release release;
                f = deep::fisher_order_parameters(p, depth, a, divergence_bound);
            }
            py::dict d;
            d["q"] = to_array(f.q);
            d["q_st"] = to_array(f.q_st);
            d["q_hat"] = to_array(f.q_hat);
            d["q_hat_st"] = to_array(f.q_hat_st);
            d["q_tilde"] = to_array(f.q_tilde);
            d["q_tilde_st"] = to_array(f.q_tilde_st);
            d["kappa1"] = f.kappa1;
            d["kappa2"] = f.kappa2;
            d["alpha"] = f.alpha;
            d["diverged"] = f.status == deep::RunStatus::Diverged;
            d["stop_layer"] = f.stop_layer;
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("depth"), py::arg("sigma_w2"), py::arg("sigma_b2"),
        py::arg("alphas"), py::arg("divergence_bound"));
}

}  // namespace statmech_nn::bindings
