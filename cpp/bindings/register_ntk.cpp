// Thin bindings of the infinite-width kernels (conversion and GIL release; maths in cpp/src).
#include "bindings.hpp"
#include <optional>

#include "statmech_nn/closed_form_rows_isa.hpp"
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/ntk_kernels.hpp"

namespace statmech_nn::bindings {

void register_ntk(py::module_& m) {
    auto sub = m.def_submodule("ntk", "Infinite-width NNGP / NTK kernel recursions");
    sub.def(
        "kernels",
        [](array_f64 x1, std::optional<array_f64> x2, const std::string& activation, double slope, int depth,
           double sigma_w2, double sigma_b2, array_f64 sigma_w2_layers, array_f64 sigma_b2_layers, bool standard, double width, array_f64 width_ratios,
           bool store_layers, double divergence_bound, int num_threads) {
            if (x1.ndim() != 2) throw std::invalid_argument("x1: must be 2-D (n, d)");
            const Activation g = Activation::from_name(activation, slope);
            const std::int64_t n1 = x1.shape(0), d = x1.shape(1);
            const double* p2 = nullptr;
            std::int64_t n2 = n1;
            if (x2) {
                if (x2->ndim() != 2 || x2->shape(1) != d) throw std::invalid_argument("x2: must be (n2, d)");
                n2 = x2->shape(0);
                p2 = x2->data();
            }
            NtkKernelSpec spec;
            spec.depth = depth;
            spec.sigma_w2 = sigma_w2;
            spec.sigma_b2 = sigma_b2;
            spec.sigma_w2_layers = to_vector(sigma_w2_layers);
            spec.sigma_b2_layers = to_vector(sigma_b2_layers);
            spec.standard = standard;
            spec.width = width;
            spec.width_ratios = to_vector(width_ratios);
            spec.store_layers = store_layers;
            spec.divergence_bound = divergence_bound;
            std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(n1), static_cast<py::ssize_t>(n2)};
            if (store_layers) shape.insert(shape.begin(), static_cast<py::ssize_t>(depth + 1));
            py::array_t<double> nngp(shape), ntk(shape);
            const double* p1 = x1.data();
            double* pn = nngp.mutable_data();
            double* pt = ntk.mutable_data();
            NtkKernelInfo info;
            {
                py::gil_scoped_release release;
                info = ntk_kernels(g, p1, n1, p2, n2, d, spec, num_threads, pn, pt);
            }
            py::dict out;
            out["nngp"] = nngp;
            out["ntk"] = ntk;
            out["diverged"] = info.status == deep::RunStatus::Diverged;
            out["stop_layer"] = info.stop_layer;
            return out;
        },
        py::arg("x1"), py::arg("x2"), py::arg("activation"), py::arg("slope"), py::arg("depth"),
        py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("sigma_w2_layers"), py::arg("sigma_b2_layers"),
        py::arg("standard"), py::arg("width"), py::arg("width_ratios"),
        py::arg("store_layers"), py::arg("divergence_bound"), py::arg("num_threads"));

    // The Gaussian layer's row closed forms (PairClosedFormRows) for tests: (phiphi, dphidphi) of
    // the pairs (c11, c12[k], c22[k]).
    testing_module(m).def(
        "pair_closed_form_rows",
        [](const std::string& activation, double slope, double c11, array_f64 c12, array_f64 c22) {
            check_same_size(c12, c22, "c12");
            const Activation g = Activation::from_name(activation, slope);
            const std::int64_t n = c12.size();
            PairClosedFormRows rows;
            if (!rows.prepare(g, n, c22.data())) throw std::invalid_argument("activation: no closed form");
            py::array_t<double> pp(n), dd(n);
            rows.evaluate(c11, 0, n, c12.data(), pp.mutable_data(), dd.mutable_data());
            return py::make_tuple(pp, dd);
        },
        py::arg("activation"), py::arg("slope"), py::arg("c11"), py::arg("c12"), py::arg("c22"));

    // Caps the instruction set of the row closed forms (0 = SSE2, 1 = AVX2, 2 = AVX-512; None: the
    // processor's best) and returns the level in use.
    testing_module(m).def(
        "closed_form_rows_isa",
        [](std::optional<int> max_level) { return set_closed_form_rows_isa(max_level ? *max_level : 2); },
        py::arg("max_level") = py::none());
}

}  // namespace statmech_nn::bindings
