// Activation functions and their derivatives.
//
// Convention: "erf" is erf(x/sqrt(2)) (Saad & Solla, "On-line learning in soft committee
// machines", 1995), so g'(0) = sqrt(2/pi) and <g(z)^2> = (2/pi) asin(1/2) for z ~ N(0,1). All activations are float64 and branch-free where
// possible so that they vectorise in the simulators.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace statmech_nn {

enum class ActivationKind {
    Linear,     // x
    Erf,        // erf(x / sqrt 2)
    Relu,       // max(0, x)
    Tanh,       // tanh(x)
    HardTanh,   // clip(x, -1, 1)
    LeakyRelu,  // x for x > 0, slope * x otherwise
    Sigmoid,    // logistic 1 / (1 + exp(-x))
    ErfSigmoid, // (1 + erf(x / sqrt 2)) / 2 = Phi(x), the probit "sigmoid" (closed forms via erf)
    Gelu,       // x Phi(x)
    Swish,      // x * sigmoid(x) (SiLU)
    Abs,        // |x|
    Sin,        // sin(x)
    Cos,        // cos(x)
    Rbf,        // sqrt(2) sin(sqrt(2) x + pi/4): its NNGP map is the RBF kernel exp(-(q11 + q22 - 2 q12))
    Step,       // Heaviside: 1 for x > 0, 0 for x < 0, 1/2 at 0 (= (1 + sign x)/2)
};

// The step activation's derivative is a Dirac delta. Everywhere in the package phi' means the
// derivative almost everywhere, the one back-propagation (and automatic differentiation) uses: 0 for
// step. So every E[phi' ...] average of step is 0 (chi1 = sigma_w2 E[phi'^2] = 0, the NTK gets no
// contribution through a step layer, gradients below it vanish), as in Neural Tangents' Sign layer
// (Novak et al., "Neural Tangents: Fast and Easy Infinite Neural Networks in Python", 2020), and
// the analytic kernels agree with the sampled networks' (ntk.empirical). The distributional
// derivative would make E[phi'(u)^2] infinite: note that the slope of the step network's correlation
// map at c = 1 is therefore NOT chi1 (it is infinite), see ActivationTraits::delta_derivative.

// Symmetry of phi: odd about its value at 0 (phi(x) - phi(0) odd: linear, erf, tanh, hardtanh,
// and the sigmoids about 1/2), even, or neither.
enum class Parity { None, Odd, Even };

// Everything the Gaussian layer (and every family above it) needs to know about an activation,
// derived from ONE table (activation.cpp). Adding an activation = one row there plus its tests.
struct ActivationTraits {
    ActivationKind kind;
    const char* name;
    Parity parity;
    double odd_center;        // phi(x) - odd_center is odd (Parity::Odd)
    double homogeneity;       // degree k of positive homogeneity phi(t x) = t^k phi(x), t > 0; < 0: none
    int n_kinks;              // points where phi or phi' is not smooth
    double kinks[2];
    double scale;             // length scale of phi's structure (sigmoid and swish are tanh-like at 2)
    bool piecewise_linear;    // phi'' = 0 off the kinks: E[phi'^2] is independent of the variance q
    bool closed_form_1d;      // E phi^2, E phi'^2 over N(0, q) in closed form
    bool closed_form_2d;      // I2, J2 (pair moments) in closed form
    bool closed_form_34;      // I3, I4 in closed form (and so the perceptron's A1-A3): linear, erf, relu,
                              // and sin, cos, rbf through characteristic functions
    bool uses_slope;          // parameter `slope` (leaky_relu)
    const char* formula;      // phi(x), for documentation
    bool delta_derivative = false;  // phi jumps (step): phi' is 0 almost everywhere plus a Dirac delta
};

// The table, in a fixed order (the order of the Python ACTIVATIONS list).
const std::vector<ActivationTraits>& activation_table();

struct Activation {
    static constexpr double kSqrt2 = 1.41421356237309504880;
    static constexpr double kQuarterPi = 0.78539816339744830962;
    ActivationKind kind = ActivationKind::Erf;
    double slope = 0.01;  // LeakyRelu only

    // Parse a name of activation_table() (or the alias "silu" of "swish"). Throws
    // std::invalid_argument on unknown names.
    static Activation from_name(const std::string& name, double slope = 0.01);
    const ActivationTraits& traits() const;
    std::string name() const { return traits().name; }

    // True for the piecewise-linear activations (kinks where the second derivative is a delta).
    bool piecewise() const { return traits().piecewise_linear && kind != ActivationKind::Linear; }
    // Points where phi or phi' is not smooth (quadrature is split there).
    std::vector<double> kinks() const;
    // Where a smooth nonlinear activation changes shape (|x| <~ 4 scale); quadrature over a Gaussian
    // much wider than this scale splits its panels here so that accuracy does not degrade with variance.
    std::vector<double> scale_points() const;
    // Smooth, nonlinear and odd about 0 (erf, tanh): phi^2, phi'^2 and phi phi'' are even and the
    // Hermite coefficients of phi vanish at even orders.
    bool smooth_odd() const {
        const ActivationTraits& t = traits();
        return t.parity == Parity::Odd && t.odd_center == 0.0 && t.n_kinks == 0 && !t.piecewise_linear;
    }
    // phi(x) = a max(x,0)^k - b max(-x,0)^k (k = homogeneity degree); false if not homogeneous.
    bool homogeneous(double& a, double& b, double& degree) const;

    inline double operator()(double x) const { return value(x); }

    inline double value(double x) const {
        switch (kind) {
            case ActivationKind::Linear: return x;
            case ActivationKind::Erf: return std::erf(x * 0.70710678118654752440);
            case ActivationKind::Relu: return x > 0.0 ? x : 0.0;
            case ActivationKind::Tanh: return std::tanh(x);
            case ActivationKind::HardTanh: return x > 1.0 ? 1.0 : (x < -1.0 ? -1.0 : x);
            case ActivationKind::LeakyRelu: return x > 0.0 ? x : slope * x;
            case ActivationKind::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
            case ActivationKind::ErfSigmoid: return 0.5 * std::erfc(-x * 0.70710678118654752440);
            case ActivationKind::Gelu: return x * 0.5 * std::erfc(-x * 0.70710678118654752440);
            case ActivationKind::Swish: return x / (1.0 + std::exp(-x));
            case ActivationKind::Abs: return std::abs(x);
            case ActivationKind::Sin: return std::sin(x);
            case ActivationKind::Cos: return std::cos(x);
            case ActivationKind::Rbf: return kSqrt2 * std::sin(kSqrt2 * x + kQuarterPi);
            case ActivationKind::Step: return x > 0.0 ? 1.0 : (x < 0.0 ? 0.0 : 0.5);
        }
        return 0.0;
    }

    // First derivative (the right derivative at kinks is irrelevant: kinks have measure zero).
    inline double deriv(double x) const {
        constexpr double inv_sqrt_2pi = 0.39894228040143267794;
        switch (kind) {
            case ActivationKind::Linear: return 1.0;
            case ActivationKind::Erf: return 2.0 * inv_sqrt_2pi * std::exp(-0.5 * x * x);
            case ActivationKind::Relu: return x > 0.0 ? 1.0 : 0.0;
            case ActivationKind::Tanh: { double t = std::tanh(x); return 1.0 - t * t; }
            case ActivationKind::HardTanh: return (x > -1.0 && x < 1.0) ? 1.0 : 0.0;
            case ActivationKind::LeakyRelu: return x > 0.0 ? 1.0 : slope;
            case ActivationKind::Sigmoid: { double s = 1.0 / (1.0 + std::exp(-x)); return s * (1.0 - s); }
            case ActivationKind::ErfSigmoid: return inv_sqrt_2pi * std::exp(-0.5 * x * x);
            case ActivationKind::Gelu:
                return 0.5 * std::erfc(-x * 0.70710678118654752440) + x * inv_sqrt_2pi * std::exp(-0.5 * x * x);
            case ActivationKind::Swish: {
                double s = 1.0 / (1.0 + std::exp(-x));
                return s * (1.0 + x * (1.0 - s));
            }
            case ActivationKind::Abs: return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0);  // sign(0) = 0
            case ActivationKind::Sin: return std::cos(x);
            case ActivationKind::Cos: return -std::sin(x);
            case ActivationKind::Rbf: return 2.0 * std::cos(kSqrt2 * x + kQuarterPi);
            case ActivationKind::Step: return 0.0;  // almost everywhere (see the note above ActivationTraits)
        }
        return 0.0;
    }

    // Second derivative away from kinks (0 on the linear pieces of piecewise activations).
    inline double deriv2(double x) const {
        constexpr double inv_sqrt_2pi = 0.39894228040143267794;
        switch (kind) {
            case ActivationKind::Linear: return 0.0;
            case ActivationKind::Erf: return -2.0 * inv_sqrt_2pi * x * std::exp(-0.5 * x * x);
            case ActivationKind::Relu: return 0.0;
            case ActivationKind::Tanh: { double t = std::tanh(x); return -2.0 * t * (1.0 - t * t); }
            case ActivationKind::HardTanh: return 0.0;
            case ActivationKind::LeakyRelu: return 0.0;
            case ActivationKind::Sigmoid: {
                double s = 1.0 / (1.0 + std::exp(-x));
                return s * (1.0 - s) * (1.0 - 2.0 * s);
            }
            case ActivationKind::ErfSigmoid: return -x * inv_sqrt_2pi * std::exp(-0.5 * x * x);
            case ActivationKind::Gelu: return (2.0 - x * x) * inv_sqrt_2pi * std::exp(-0.5 * x * x);
            case ActivationKind::Swish: {
                double s = 1.0 / (1.0 + std::exp(-x));
                double ds = s * (1.0 - s);
                return 2.0 * ds + x * ds * (1.0 - 2.0 * s);
            }
            case ActivationKind::Abs: return 0.0;
            case ActivationKind::Sin: return -std::sin(x);
            case ActivationKind::Cos: return -std::cos(x);
            case ActivationKind::Rbf: return -2.0 * kSqrt2 * std::sin(kSqrt2 * x + kQuarterPi);
            case ActivationKind::Step: return 0.0;
        }
        return 0.0;
    }
};

// phi (order 0), phi' (1) or phi'' (2) at n points (std::invalid_argument for another order).
void evaluate(const Activation& g, int order, const double* x, std::int64_t n, double* out);

}  // namespace statmech_nn
