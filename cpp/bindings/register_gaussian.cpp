#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/gaussian.hpp"

namespace statmech_nn::bindings {

namespace {

Average average_from_name(const std::string& which) {
    if (which == "I2") return Average::I2;
    if (which == "J2") return Average::J2;
    if (which == "I3") return Average::I3;
    if (which == "I4") return Average::I4;
    throw std::invalid_argument("which: unknown average '" + which + "' (I2, J2, I3, I4)");
}

int average_dim(Average a) { return a == Average::I4 ? 4 : (a == Average::I3 ? 3 : 2); }

}  // namespace

void register_gaussian(py::module_& m) {
    m.def(
        "activations",
        []() {
            py::list out;
            for (const ActivationTraits& t : activation_table()) {
                py::dict d;
                d["name"] = t.name;
                d["formula"] = t.formula;
                d["parity"] = t.parity == Parity::Odd ? "odd" : (t.parity == Parity::Even ? "even" : "none");
                d["odd_center"] = t.odd_center;
                d["homogeneity"] = t.homogeneity >= 0.0 ? py::object(py::float_(t.homogeneity)) : py::object(py::none());
                d["kinks"] = std::vector<double>(t.kinks, t.kinks + t.n_kinks);
                d["scale"] = t.scale;
                d["piecewise_linear"] = t.piecewise_linear;
                d["smooth_odd"] = Activation{t.kind, 0.01}.smooth_odd();
                d["closed_form_1d"] = t.closed_form_1d;
                d["delta_derivative"] = t.delta_derivative;
                d["closed_form_2d"] = t.closed_form_2d;
                d["closed_form_I3_I4"] = t.closed_form_34;
                d["parameters"] = t.uses_slope ? std::vector<std::string>{"slope"} : std::vector<std::string>{};
                out.append(d);
            }
            return out;
        },
        "The activation table: one dict of traits per activation, in a fixed order.");

    auto g = m.def_submodule("gaussian", "Gaussian averages");

    g.def(
        "activation",
        [](const std::string& name, array_f64 x, int order, double slope) {
            const Activation act = Activation::from_name(name, slope);
            py::array_t<double> out(x.request().shape);
            const double* in = x.data();
            double* o = out.mutable_data();
            const py::ssize_t n = x.size();
            {
                py::gil_scoped_release release;
                evaluate(act, order, in, n, o);
            }
            return out;
        },
        py::arg("name"), py::arg("x"), py::arg("order") = 0, py::arg("slope") = 0.01);

    g.def(
        "has_closed_form",
        [](const std::string& name, const std::string& which) {
            return has_closed_form(Activation::from_name(name), average_from_name(which));
        },
        py::arg("name"), py::arg("which") = "I2");

    g.def(
        "average",
        [](const std::string& which, const std::string& name, array_f64 C, double slope, int num_threads,
           bool force_quadrature) {
            const Average a = average_from_name(which);
            const int d = average_dim(a);
            const Activation act = Activation::from_name(name, slope);
            if (C.ndim() < 2 || C.shape(C.ndim() - 1) != d || C.shape(C.ndim() - 2) != d) {
                throw std::invalid_argument("C: last two axes must be " + std::to_string(d) + "x" + std::to_string(d));
            }
            std::vector<py::ssize_t> shape(C.shape(), C.shape() + C.ndim() - 2);
            py::array_t<double> out(shape);
            const std::int64_t n = static_cast<std::int64_t>(C.size() / (d * d));
            const double* c = C.data();
            double* o = out.mutable_data();
            {
                py::gil_scoped_release release;
                average_batch(a, act, c, n, o, num_threads, force_quadrature);
            }
            return out;
        },
        py::arg("which"), py::arg("activation"), py::arg("C"), py::arg("slope") = 0.01, py::arg("num_threads") = 0,
        py::arg("force_quadrature") = false);

    g.def(
        "orthant_probability",
        [](array_f64 C) {
            return orthant_probability(to_matrix(C, "C", true));
        },
        py::arg("C"));

    g.def(
        "product_mean",
        [](const std::string& name, const std::vector<std::string>& kinds, array_f64 C, double slope,
           int hermite_nodes, int legendre_nodes) {
            const Activation act = Activation::from_name(name, slope);
            const auto d = static_cast<py::ssize_t>(kinds.size());
            if (C.ndim() != 2 || C.shape(0) != d || C.shape(1) != d) throw std::invalid_argument("C: shape must be (d, d)");
            std::vector<GaussFactor> fs;
            for (const auto& k : kinds) {
                if (k == "value") fs.push_back(factor_value(act));
                else if (k == "deriv") fs.push_back(factor_deriv(act));
                else if (k == "identity") fs.push_back(factor_identity());
                else throw std::invalid_argument("kinds: 'value', 'deriv' or 'identity', not '" + k + "'");
            }
            const Eigen::MatrixXd M = to_matrix(C, "C", true);
            QuadratureSettings qs;
            qs.hermite_nodes = hermite_nodes;
            qs.legendre_nodes = legendre_nodes;
            py::gil_scoped_release release;
            return product_mean(fs, M, qs);
        },
        py::arg("activation"), py::arg("kinds"), py::arg("C"), py::arg("slope") = 0.01, py::arg("hermite_nodes") = 48,
        py::arg("legendre_nodes") = 24);

    g.def(
        "gauss_hermite",
        [](int n) {
            if (n < 1 || n > 400) throw std::invalid_argument("n: must be in [1, 400]");
            const QuadRule& r = gauss_hermite_rule(n);
            return py::make_tuple(py::array_t<double>(r.x.size(), r.x.data()), py::array_t<double>(r.w.size(), r.w.data()));
        },
        py::arg("n"));
}

}  // namespace statmech_nn::bindings
