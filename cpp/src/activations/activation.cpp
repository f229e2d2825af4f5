#include "statmech_nn/activation.hpp"

#include <stdexcept>

namespace statmech_nn {

namespace {
constexpr double kNone = -1.0;
}

const std::vector<ActivationTraits>& activation_table() {
    // kind, name, parity, odd centre, homogeneity, kinks, scale, piecewise linear,
    // closed forms (1-D, 2-D, I3/I4), uses slope, formula
    static const std::vector<ActivationTraits> table{
        {ActivationKind::Linear, "linear", Parity::Odd, 0.0, 1.0, 0, {0, 0}, 1.0, true, true, true, true, false, "x"},
        {ActivationKind::Erf, "erf", Parity::Odd, 0.0, kNone, 0, {0, 0}, 1.0, false, true, true, true, false,
         "erf(x / sqrt 2)"},
        {ActivationKind::Relu, "relu", Parity::None, 0.0, 1.0, 1, {0, 0}, 1.0, true, true, true, true, false,
         "max(0, x)"},
        {ActivationKind::Tanh, "tanh", Parity::Odd, 0.0, kNone, 0, {0, 0}, 1.0, false, false, false, false, false,
         "tanh(x)"},
        {ActivationKind::HardTanh, "hardtanh", Parity::Odd, 0.0, kNone, 2, {-1.0, 1.0}, 1.0, true, false, false, false,
         false, "clip(x, -1, 1)"},
        {ActivationKind::LeakyRelu, "leaky_relu", Parity::None, 0.0, 1.0, 1, {0, 0}, 1.0, true, true, true, false, true,
         "x (x > 0), slope x (x < 0)"},
        {ActivationKind::Sigmoid, "sigmoid", Parity::Odd, 0.5, kNone, 0, {0, 0}, 2.0, false, false, false, false, false,
         "1 / (1 + exp(-x))"},
        {ActivationKind::ErfSigmoid, "erf_sigmoid", Parity::Odd, 0.5, kNone, 0, {0, 0}, 1.0, false, true, true, false,
         false, "Phi(x) = (1 + erf(x / sqrt 2)) / 2"},
        {ActivationKind::Gelu, "gelu", Parity::None, 0.0, kNone, 0, {0, 0}, 1.0, false, true, true, false, false,
         "x Phi(x)"},
        {ActivationKind::Swish, "swish", Parity::None, 0.0, kNone, 0, {0, 0}, 2.0, false, false, false, false, false,
         "x / (1 + exp(-x))"},
        {ActivationKind::Abs, "abs", Parity::Even, 0.0, 1.0, 1, {0, 0}, 1.0, true, true, true, false, false, "|x|"},
        {ActivationKind::Sin, "sin", Parity::Odd, 0.0, kNone, 0, {0, 0}, 1.0, false, true, true, true, false, "sin(x)"},
        {ActivationKind::Cos, "cos", Parity::Even, 0.0, kNone, 0, {0, 0}, 1.0, false, true, true, true, false, "cos(x)"},
        {ActivationKind::Rbf, "rbf", Parity::None, 0.0, kNone, 0, {0, 0}, 1.0, false, true, true, true, false,
         "sqrt(2) sin(sqrt(2) x + pi/4)"},
        {ActivationKind::Step, "step", Parity::Odd, 0.5, 0.0, 1, {0, 0}, 1.0, true, true, true, false, false,
         "1 (x > 0), 1/2 (x = 0), 0 (x < 0); phi' = 0 almost everywhere", true},
    };
    return table;
}

const ActivationTraits& Activation::traits() const {
    const auto& t = activation_table();
    const auto i = static_cast<std::size_t>(kind);
    return t[i];  // the table is in enum order (checked in from_name's first call)
}

Activation Activation::from_name(const std::string& name, double slope) {
    const auto& t = activation_table();
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (static_cast<std::size_t>(t[i].kind) != i) throw std::logic_error("activation_table: not in enum order");
        if (name == t[i].name) {
            Activation a;
            a.kind = t[i].kind;
            a.slope = slope;
            return a;
        }
    }
    if (name == "silu") return from_name("swish", slope);
    throw std::invalid_argument("activation: unknown name '" + name + "'");
}

std::vector<double> Activation::kinks() const {
    const ActivationTraits& t = traits();
    return std::vector<double>(t.kinks, t.kinks + t.n_kinks);
}

std::vector<double> Activation::scale_points() const {
    if (traits().piecewise_linear) return {};
    const double s = traits().scale;
    return {-4.0 * s, -1.5 * s, 0.0, 1.5 * s, 4.0 * s};
}

bool Activation::homogeneous(double& a, double& b, double& degree) const {
    switch (kind) {
        case ActivationKind::Linear: a = 1.0, b = 1.0, degree = 1.0; return true;
        case ActivationKind::Relu: a = 1.0, b = 0.0, degree = 1.0; return true;
        case ActivationKind::LeakyRelu: a = 1.0, b = slope, degree = 1.0; return true;
        case ActivationKind::Abs: a = 1.0, b = -1.0, degree = 1.0; return true;
        default: return false;
    }
}

void evaluate(const Activation& g, int order, const double* x, std::int64_t n, double* out) {
    if (order < 0 || order > 2) throw std::invalid_argument("derivative: must be 0, 1 or 2");
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = order == 0 ? g.value(x[i]) : (order == 1 ? g.deriv(x[i]) : g.deriv2(x[i]));
}

}  // namespace statmech_nn
