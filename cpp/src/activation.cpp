#include "statmech_nn/activation.hpp"

#include <stdexcept>

namespace statmech_nn {

Activation Activation::from_name(const std::string& name, double slope) {
    Activation a;
    a.slope = slope;
    if (name == "linear") a.kind = ActivationKind::Linear;
    else if (name == "erf") a.kind = ActivationKind::Erf;
    else if (name == "relu") a.kind = ActivationKind::Relu;
    else if (name == "tanh") a.kind = ActivationKind::Tanh;
    else if (name == "hardtanh") a.kind = ActivationKind::HardTanh;
    else if (name == "leaky_relu") a.kind = ActivationKind::LeakyRelu;
    else if (name == "sigmoid") a.kind = ActivationKind::Sigmoid;
    else if (name == "erf_sigmoid") a.kind = ActivationKind::ErfSigmoid;
    else if (name == "gelu") a.kind = ActivationKind::Gelu;
    else if (name == "swish" || name == "silu") a.kind = ActivationKind::Swish;
    else throw std::invalid_argument("activation: unknown name '" + name + "'");
    return a;
}

std::string Activation::name() const {
    switch (kind) {
        case ActivationKind::Linear: return "linear";
        case ActivationKind::Erf: return "erf";
        case ActivationKind::Relu: return "relu";
        case ActivationKind::Tanh: return "tanh";
        case ActivationKind::HardTanh: return "hardtanh";
        case ActivationKind::LeakyRelu: return "leaky_relu";
        case ActivationKind::Sigmoid: return "sigmoid";
        case ActivationKind::ErfSigmoid: return "erf_sigmoid";
        case ActivationKind::Gelu: return "gelu";
        case ActivationKind::Swish: return "swish";
    }
    return "?";
}

std::vector<double> Activation::kinks() const {
    switch (kind) {
        case ActivationKind::Relu:
        case ActivationKind::LeakyRelu: return {0.0};
        case ActivationKind::HardTanh: return {-1.0, 1.0};
        default: return {};
    }
}

std::vector<double> Activation::scale_points() const {
    if (kind == ActivationKind::Linear || piecewise()) return {};
    return {-4.0, -1.5, 0.0, 1.5, 4.0};
}

}  // namespace statmech_nn
