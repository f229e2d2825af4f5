// The sampled-network engine: its vocabulary (names of the options), the validation of a Spec and
// the memory estimate that refuses runs beyond Spec::memory_cap. See network.hpp.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "statmech_nn/network.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::network {

namespace {

// Weights are kept for the backward pass when they fit in these many bytes per running seed, else
// redrawn from their streams: orthogonal ones (a QR per layer) up to 256 MiB; Gaussian ones only up
// to 32 MiB, since beyond that touching fresh memory costs about as much as drawing them again
// (measured with benchmarks/network.py).
constexpr double kKeepWeightsBytes = 256.0 * 1024 * 1024;
constexpr double kKeepGaussianBytes = 32.0 * 1024 * 1024;
double weight_bytes(const Spec& s) {
    double total = 0;
    for (std::size_t l = 1; l < s.widths.size(); ++l) total += 8.0 * s.widths[l] * s.widths[l - 1];
    return total;
}

}  // namespace

Weights weights_from_name(const std::string& name) {
    if (name == "gaussian") return Weights::Gaussian;
    if (name == "orthogonal") return Weights::Orthogonal;
    throw std::invalid_argument("weights: must be 'gaussian' or 'orthogonal'; got '" + name + "'");
}

Parameterization parameterization_from_name(const std::string& name) {
    if (name == "standard") return Parameterization::Standard;
    if (name == "ntk") return Parameterization::NTK;
    throw std::invalid_argument("parameterization: must be 'standard' or 'ntk'; got '" + name + "'");
}

BatchNorm batchnorm_from_name(const std::string& name) {
    if (name == "none") return BatchNorm::None;
    if (name == "last") return BatchNorm::Last;
    if (name == "all") return BatchNorm::All;
    throw std::invalid_argument("batchnorm: must be 'none', 'last' or 'all'; got '" + name + "'");
}

InputKind input_kind_from_name(const std::string& name) {
    if (name == "given") return InputKind::Given;
    if (name == "gaussian") return InputKind::Gaussian;
    if (name == "pair") return InputKind::Pair;
    throw std::invalid_argument("input: must be 'given', 'gaussian' or 'pair'; got '" + name + "'");
}

Backward backward_from_name(const std::string& name) {
    if (name == "none") return Backward::None;
    if (name == "random") return Backward::RandomError;
    if (name == "outputs") return Backward::Outputs;
    throw std::invalid_argument("backward: must be 'none', 'random' or 'outputs'; got '" + name + "'");
}

int readouts(const Spec& s) { return s.backward == Backward::Outputs ? s.widths.back() : 1; }

bool keep_weights(const Spec& s) {
    return weight_bytes(s) <= (s.weights == Weights::Orthogonal ? kKeepWeightsBytes : kKeepGaussianBytes);
}

void validate(const Spec& s, std::size_t n_seeds) {
    if (s.widths.size() < 2) throw std::invalid_argument(s.depth_name + ": the network needs at least one layer");
    for (int w : s.widths)
        if (w < 1) throw std::invalid_argument(s.width_name + ": every width must be >= 1");
    if (s.batch < 1) throw std::invalid_argument(s.batch_name + ": must be >= 1");
    if (n_seeds < 1) throw std::invalid_argument("seeds: need at least one seed");
    if (!(s.sigma_w2 > 0.0) || !std::isfinite(s.sigma_w2)) throw std::invalid_argument("sigma_w2: must be > 0 and finite");
    if (!(s.sigma_b2 >= 0.0) || !std::isfinite(s.sigma_b2)) throw std::invalid_argument("sigma_b2: must be >= 0 and finite");
    if (s.batchnorm != BatchNorm::None && s.batch < 2)
        throw std::invalid_argument(s.batch_name + ": batch norm needs a batch of at least 2");
    if (s.batchnorm == BatchNorm::All && s.backward == Backward::Outputs)
        throw std::invalid_argument("batchnorm: per-output gradients are not defined with batch norm in every layer "
                                    "(the batch couples the inputs); use a random output error");
    if (s.batchnorm == BatchNorm::All && s.jacobian)
        throw std::invalid_argument("jacobian: the input-output Jacobian of one input is not defined with batch norm "
                                    "in every layer");
    if (s.gram && s.backward != Backward::Outputs) throw std::logic_error("gram needs Backward::Outputs");
    if (s.gram && !s.post_stats) throw std::logic_error("gram needs post_stats");
    const InputSpec& in = s.input;
    if (in.kind == InputKind::Given && (in.x.rows() != s.widths[0] || in.x.cols() != s.batch))
        throw std::invalid_argument("x: the inputs must be M_0 x B");
    if (in.kind == InputKind::Gaussian && in.cov_factor.size() != 0 &&
        (in.cov_factor.rows() != s.batch || in.cov_factor.cols() != s.batch))
        throw std::invalid_argument("Sigma0: the input covariance must be B x B");
    if (in.kind == InputKind::Pair) {
        if (s.batch != 2) throw std::logic_error("a Pair input has B = 2");
        if (!(in.q_in > 0) || !std::isfinite(in.q_in)) throw std::invalid_argument("q_in: must be > 0 and finite");
        if (!(in.c_in >= -1.0 && in.c_in <= 1.0)) throw std::invalid_argument("c_in: must be in [-1, 1]");
    }
}

double memory_bytes(const Spec& s, std::size_t n_seeds) {
    const int L = static_cast<int>(s.widths.size()) - 1;
    const double B = s.batch, RB = static_cast<double>(readouts(s)) * s.batch;
    double max_w = 0, max_m = 0, sum_m = 0;
    for (int l = 0; l <= L; ++l) {
        max_m = std::max(max_m, static_cast<double>(s.widths[l]));
        sum_m += s.widths[l];
        if (l) max_w = std::max(max_w, 8.0 * s.widths[l] * s.widths[l - 1]);
    }
    double weights = keep_weights(s) ? weight_bytes(s) : max_w;
    if (s.weights == Weights::Orthogonal) weights += 2 * max_w;  // the QR factors
    double acts = 8.0 * B * (sum_m * (s.batchnorm == BatchNorm::All ? 2 : 1) + 2 * max_m);
    if (s.backward != Backward::None) acts += 8.0 * 2 * max_m * RB;
    double jac = s.jacobian ? 8.0 * (3.0 * max_m * max_m) : 0.0;
    double per_seed = 8.0 * ((L + 1) * 2 * B * B + (s.backward != Backward::None ? (L + 1) * (RB * RB + 1) : 0) +
                             (s.gram ? 2 * RB * RB : 0) + (s.outputs ? B * s.widths[L] : 0) +
                             (s.jacobian ? s.widths[L] : 0));
    const double running = std::min<double>(static_cast<double>(n_seeds), resolve_threads(s.num_threads));
    return running * (weights + acts + jac) + static_cast<double>(n_seeds) * per_seed;
}

void check_memory(const Spec& spec, std::size_t n_seeds) {
    const double need = memory_bytes(spec, n_seeds);
    if (need > spec.memory_cap) {
        // Name the parameter that dominates: the weight matrices (width), the stored
        // activations over depth, or the per-seed Grams (batch).
        const int L = static_cast<int>(spec.widths.size()) - 1;
        double max_w = 0;
        for (int l = 1; l <= L; ++l) max_w = std::max(max_w, 8.0 * spec.widths[l] * spec.widths[l - 1]);
        const double RB = static_cast<double>(readouts(spec)) * spec.batch;
        const double grams = 8.0 * n_seeds * (L + 2) * (RB * RB + 2.0 * spec.batch * spec.batch);
        std::string name = spec.width_name;
        if (grams > max_w && grams >= 0.5 * need) name = readouts(spec) > spec.batch ? spec.readout_name : spec.batch_name;
        else if (max_w < 0.1 * need) name = spec.depth_name;
        std::ostringstream msg;
        msg.precision(3);
        msg << name << ": the simulation needs about " << need / (1024.0 * 1024 * 1024) << " GiB (cap "
            << spec.memory_cap / (1024.0 * 1024 * 1024) << " GiB); reduce " << spec.width_name << ", "
            << spec.depth_name << ", " << spec.batch_name << ", the number of seeds or num_threads";
        throw std::invalid_argument(msg.str());
    }
}

}  // namespace statmech_nn::network
