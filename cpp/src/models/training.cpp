// Training twins: validation and the size checks, each seed's data (inputs, teacher or noise
// targets, test split), the mini-batch schedule and the step loop with its records, divergence
// detection and Ctrl-C polling on every thread. See training.hpp.
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "statmech_nn/parallel.hpp"
#include "statmech_nn/random.hpp"
#include "statmech_nn/training.hpp"

namespace statmech_nn::training {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int layers(const Spec& s) { return static_cast<int>(s.net.widths.size()) - 1; }
int full_batch(const Spec& s) { return s.batch_size <= 0 ? s.n_samples : s.batch_size; }
int n_test_of(const Spec& s) { return s.gaussian_inputs ? s.n_test : static_cast<int>(s.x_test.cols()); }

double param_count(const Spec& s) {
    double P = 0;
    for (std::size_t l = 1; l < s.net.widths.size(); ++l) P += static_cast<double>(s.net.widths[l]) * s.net.widths[l - 1];
    return P;
}

// Consecutive slices of a random permutation of 0..n-1, redrawn (Fisher-Yates) whenever fewer than
// `batch` indices are left.
class BatchSampler {
public:
    BatchSampler(std::uint64_t seed, int L, int n, int batch)
        : rng_(seed, network::stream(L + 1, 3)), perm_(n), pos_(n), batch_(batch) {
        std::iota(perm_.begin(), perm_.end(), std::int64_t{0});
    }
    const std::int64_t* next() {
        const std::int64_t n = static_cast<std::int64_t>(perm_.size());
        if (pos_ + batch_ > n) {
            for (std::int64_t i = n - 1; i > 0; --i) {
                std::int64_t j = static_cast<std::int64_t>(rng_.uniform() * static_cast<double>(i + 1));
                if (j > i) j = i;
                std::swap(perm_[i], perm_[j]);
            }
            pos_ = 0;
        }
        const std::int64_t* out = perm_.data() + pos_;
        pos_ += batch_;
        return out;
    }

private:
    Rng rng_;
    std::vector<std::int64_t> perm_;
    std::int64_t pos_;
    std::int64_t batch_;
};

struct Data {
    Eigen::MatrixXd X, Y, Xt, Yt;  // M_0 x n, C x n, M_0 x n_test, C x n_test
};

Data make_data(const Spec& s, std::uint64_t seed, int inner_threads, const Poll& poll) {
    const int L = layers(s), M0 = s.net.widths[0], C = s.net.widths[L], n = s.n_samples, nt = n_test_of(s);
    Data d;
    if (s.gaussian_inputs) {
        network::Spec in = s.net;
        in.batch = n;
        in.input = network::InputSpec{};
        in.input.kind = network::InputKind::Gaussian;
        d.X = network::draw_input(in, seed);  // the engine's input batch of this seed
        d.Xt.resize(M0, nt);
        Rng rng(seed, network::stream(L + 1, 2));
        rng.fill_normal(d.Xt.data(), static_cast<std::size_t>(M0) * nt);
    } else {
        d.X = s.x_train;
        d.Xt = s.x_test;
    }
    switch (s.targets) {
        case Targets::Given:
            d.Y = s.y_train;
            d.Yt = s.y_test;
            break;
        case Targets::Noise: {
            d.Y.resize(C, n);
            Rng rng(seed, network::stream(L + 1, 1));
            rng.fill_normal(d.Y.data(), static_cast<std::size_t>(C) * n);
            d.Yt.resize(C, nt);
            Rng rng_t(seed, network::stream(L + 1, 4));
            rng_t.fill_normal(d.Yt.data(), static_cast<std::size_t>(C) * nt);
            break;
        }
        case Targets::Teacher: {
            network::Spec tn = s.net;
            tn.weights = network::Weights::Gaussian;
            tn.batchnorm = network::BatchNorm::None;
            Params tp;
            init_params(tn, seed ^ kTeacherSeed, inner_threads, tp);
            Pass pass;
            forward(tn, tp, d.X, pass, inner_threads, poll);
            d.Y = pass.F;
            if (nt > 0) {
                forward(tn, tp, d.Xt, pass, inner_threads, poll);
                d.Yt = pass.F;
            } else {
                d.Yt.resize(C, 0);
            }
            break;
        }
    }
    return d;
}

void copy_out(const Eigen::MatrixXd& M, double* out) { std::copy(M.data(), M.data() + M.size(), out); }

}  // namespace

Targets targets_from_name(const std::string& name) {
    if (name == "given") return Targets::Given;
    if (name == "teacher") return Targets::Teacher;
    if (name == "noise") return Targets::Noise;
    throw std::invalid_argument("targets: must be 'teacher' or 'noise'; got '" + name + "'");
}

void validate(const Spec& s, std::size_t n_seeds) {
    const network::Spec& net = s.net;
    if (net.widths.size() < 2) throw std::invalid_argument(net.depth_name + ": the network needs at least one layer");
    for (int w : net.widths)
        if (w < 1) throw std::invalid_argument(net.width_name + ": every width must be >= 1");
    if (n_seeds < 1) throw std::invalid_argument("seeds: need at least one seed");
    if (!(net.sigma_w2 > 0.0) || !std::isfinite(net.sigma_w2)) throw std::invalid_argument("sigma_w2: must be > 0 and finite");
    if (!(net.sigma_b2 >= 0.0) || !std::isfinite(net.sigma_b2)) throw std::invalid_argument("sigma_b2: must be >= 0 and finite");
    if (s.n_samples < 1) throw std::invalid_argument("n_samples: must be >= 1");
    if (s.batch_size < 0 || s.batch_size > s.n_samples)
        throw std::invalid_argument("batch_size: must be between 1 and n_samples");
    if (!(s.eta > 0.0) || !std::isfinite(s.eta)) throw std::invalid_argument("eta: must be > 0 and finite");
    if (s.steps < 0) throw std::invalid_argument("steps: must be >= 0");
    if (s.record.empty()) throw std::invalid_argument("record: at least one step must be recorded");
    for (std::size_t i = 0; i < s.record.size(); ++i) {
        if (s.record[i] < 0 || s.record[i] > s.steps) throw std::invalid_argument("record: steps must lie in [0, steps]");
        if (i && s.record[i] <= s.record[i - 1]) throw std::invalid_argument("record: steps must be strictly increasing");
    }
    if (!(s.divergence_bound > 1.0)) throw std::invalid_argument("divergence_bound: must be > 1");
    const int L = layers(s), M0 = net.widths[0], C = net.widths[L];
    if (s.gaussian_inputs) {
        if (s.n_test < 0) throw std::invalid_argument("n_test: must be >= 0");
    } else {
        if (s.x_train.rows() != M0 || s.x_train.cols() != s.n_samples)
            throw std::invalid_argument("data: the training inputs must be n_samples x input dimension");
        if (s.x_test.size() && s.x_test.rows() != M0) throw std::invalid_argument("data: the test inputs have the wrong dimension");
    }
    if (s.targets == Targets::Given) {
        if (s.y_train.rows() != C || s.y_train.cols() != s.n_samples)
            throw std::invalid_argument("data: the training targets must be n_samples x n_outputs");
        if (s.y_test.rows() != C || s.y_test.cols() != n_test_of(s))
            throw std::invalid_argument("data: the test targets must be n_test x n_outputs");
    }
    if (s.x_eval.size() && s.x_eval.rows() != M0) throw std::invalid_argument("x_eval: must have the input dimension");
    if (net.batchnorm != network::BatchNorm::None) {
        if (full_batch(s) < 2) throw std::invalid_argument("batch_size: batch norm needs a batch of at least 2");
        if (n_test_of(s) == 1) throw std::invalid_argument("n_test: batch norm needs at least 2 test points");
        if (s.x_eval.cols() == 1) throw std::invalid_argument("x_eval: batch norm needs at least 2 points");
    }
}

double memory_bytes(const Spec& s, std::size_t n_seeds) {
    const int L = layers(s), M0 = s.net.widths[0], C = s.net.widths[L];
    const double n = s.n_samples, nt = n_test_of(s), ne = static_cast<double>(s.x_eval.cols());
    double sum_m = 0, max_m = 0, max_w = 0;
    for (int l = 0; l < L; ++l) {
        sum_m += s.net.widths[l];
        max_m = std::max(max_m, static_cast<double>(s.net.widths[l]));
        max_w = std::max(max_w, static_cast<double>(s.net.widths[l + 1]) * s.net.widths[l]);
    }
    const double B = std::max({n, nt, ne});
    double per_running = 2 * param_count(s) + (s.net.weights == network::Weights::Orthogonal ? 2 * max_w : 0.0) +
                         2 * (2 * sum_m + C + 2 * max_m) * B + (M0 + C) * (n + nt) + 2.0 * network::kRowBlock * max_m;
    const double R = static_cast<double>(s.record.size());
    double stored = R * (2 + L + C * (ne + (s.outputs_train ? n : 0.0)));
    if (s.return_data) stored += (M0 + C) * (n + nt);
    const double running = std::min<double>(static_cast<double>(n_seeds), resolve_threads(s.net.num_threads));
    return 8.0 * (running * per_running + static_cast<double>(n_seeds) * stored);
}

double work_flops(const Spec& s, std::size_t n_seeds) {
    const double P = param_count(s), n = s.n_samples, b = full_batch(s);
    const double nt = n_test_of(s), ne = static_cast<double>(s.x_eval.cols());
    const double R = static_cast<double>(s.record.size()), steps = static_cast<double>(s.steps);
    const double per_seed = steps * 6 * P * b + R * (6 * P * n + 2 * P * (nt + ne)) + 2 * P * (n + nt);
    return static_cast<double>(n_seeds) * per_seed;
}

std::vector<std::int64_t> batch_schedule(std::uint64_t seed, int L, int n, int batch, std::int64_t steps) {
    if (n < 1 || batch < 1 || batch > n) throw std::invalid_argument("batch_size: must be between 1 and n_samples");
    if (steps < 0) throw std::invalid_argument("steps: must be >= 0");
    BatchSampler sampler(seed, L, n, batch);
    std::vector<std::int64_t> out;
    out.reserve(static_cast<std::size_t>(steps) * batch);
    for (std::int64_t k = 0; k < steps; ++k) {
        const std::int64_t* idx = sampler.next();
        out.insert(out.end(), idx, idx + batch);
    }
    return out;
}

Result train(const Spec& spec, const std::vector<std::uint64_t>& seeds) {
    validate(spec, seeds.size());
    {
        const double need = memory_bytes(spec, seeds.size());
        if (need > spec.net.memory_cap) {
            std::ostringstream msg;
            msg.precision(3);
            msg << spec.net.width_name << ": training needs about " << need / (1024.0 * 1024 * 1024) << " GiB (cap "
                << spec.net.memory_cap / (1024.0 * 1024 * 1024) << " GiB); reduce " << spec.net.width_name
                << ", depth, n_samples, the number of records or seeds, or num_threads";
            throw std::invalid_argument(msg.str());
        }
        const double work = work_flops(spec, seeds.size());
        if (work > spec.work_cap) {
            std::ostringstream msg;
            msg.precision(3);
            msg << "steps: training needs about " << work << " floating-point operations (cap " << spec.work_cap
                << "); reduce steps, " << spec.net.width_name << ", depth, n_samples or the number of seeds";
            throw std::invalid_argument(msg.str());
        }
    }
    const network::Spec& net = spec.net;
    const int L = layers(spec), M0 = net.widths[0], C = net.widths[L], n = spec.n_samples;
    const int nt = n_test_of(spec), ne = static_cast<int>(spec.x_eval.cols()), b = full_batch(spec);
    const bool full = b == n;
    const std::int64_t S = static_cast<std::int64_t>(seeds.size()), R = static_cast<std::int64_t>(spec.record.size());

    Result res;
    res.n_seeds = static_cast<int>(S);
    res.L = L;
    res.n_records = static_cast<int>(R);
    res.C = C;
    res.M0 = M0;
    res.n_train = n;
    res.n_test = nt;
    res.n_eval = ne;
    res.loss.assign(S * R, kNaN);
    if (nt > 0) res.test_loss.assign(S * R, kNaN);
    res.grad_norm.assign(S * R * L, kNaN);
    if (ne > 0) res.outputs.assign(S * R * ne * C, kNaN);
    if (spec.outputs_train) res.outputs_train.assign(S * R * n * C, kNaN);
    if (spec.return_data) {
        res.x_train.assign(S * n * M0, kNaN);
        res.y_train.assign(S * n * C, kNaN);
        res.x_test.assign(S * nt * M0, kNaN);
        res.y_test.assign(S * nt * C, kNaN);
    }
    res.status.assign(S, static_cast<int>(Status::Ok));
    res.stop_step.assign(S, spec.steps);
    res.degenerate.assign(S, 0);

    const int inner_threads = S >= resolve_threads(net.num_threads) ? 1 : net.num_threads;
    // Every thread polls; once one seed has stopped (Ctrl-C or an error) the others stop too.
    PollingLoop loop;
    const Poll poll = [&loop]() { loop.poll(); };

    auto run_seed = [&](std::int64_t si) {
        const std::uint64_t seed = seeds[si];
        const Data data = make_data(spec, seed, inner_threads, poll);
        if (spec.return_data) {
            copy_out(data.X, res.x_train.data() + si * n * M0);
            copy_out(data.Y, res.y_train.data() + si * n * C);
            copy_out(data.Xt, res.x_test.data() + si * nt * M0);
            copy_out(data.Yt, res.y_test.data() + si * nt * C);
        }
        Params p;
        init_params(net, seed, inner_threads, p);
        Pass pass, other;
        double* loss = res.loss.data() + si * R;
        double* gn = res.grad_norm.data() + si * R * L;
        std::int64_t ri = 0;
        double scale = 0;
        auto stop = [&](std::int64_t k) {
            res.status[si] = static_cast<int>(Status::Diverged);
            res.stop_step[si] = k;
        };
        auto diverges = [&](double l) { return !std::isfinite(l) || l > spec.divergence_bound * scale; };
        BatchSampler sampler(seed, L, n, b);
        Eigen::MatrixXd Xb(M0, b), Yb(C, b);
        std::int64_t degenerate = 0;
        for (std::int64_t k = 0;; ++k) {
            poll();
            const bool rec = ri < R && spec.record[ri] == k;
            const bool update_here = full && k < spec.steps;
            if (k == 0 || rec || update_here) {
                forward(net, p, data.X, pass, inner_threads, poll);
                degenerate += pass.degenerate;
                const double l = mse(pass.F, data.Y);
                if (k == 0) scale = std::max({l, 0.5 * data.Y.squaredNorm() / n, DBL_MIN});
                if (diverges(l)) {
                    stop(k);
                    break;
                }
                if (rec) {
                    loss[ri] = l;
                    if (spec.outputs_train) {
                        copy_out(pass.F, res.outputs_train.data() + (si * R + ri) * n * C);
                    }
                    if (nt > 0) {
                        forward(net, p, data.Xt, other, inner_threads, poll);
                        degenerate += other.degenerate;
                        res.test_loss[si * R + ri] = mse(other.F, data.Yt);
                    }
                    if (ne > 0) {
                        forward(net, p, spec.x_eval, other, inner_threads, poll);
                        degenerate += other.degenerate;
                        copy_out(other.F, res.outputs.data() + (si * R + ri) * ne * C);
                    }
                }
                if (rec || update_here)
                    backward(net, p, pass, data.Y, update_here ? spec.eta : 0.0, rec ? gn + ri * L : nullptr,
                             inner_threads, poll);
                if (rec) ++ri;
            }
            if (k == spec.steps) break;
            if (!full) {
                const std::int64_t* idx = sampler.next();
                for (int j = 0; j < b; ++j) {
                    Xb.col(j) = data.X.col(idx[j]);
                    Yb.col(j) = data.Y.col(idx[j]);
                }
                forward(net, p, Xb, pass, inner_threads, poll);
                degenerate += pass.degenerate;
                if (diverges(mse(pass.F, Yb))) {
                    stop(k);
                    break;
                }
                backward(net, p, pass, Yb, spec.eta, nullptr, inner_threads, poll);
            }
        }
        res.degenerate[si] = degenerate;
        if (degenerate > 0 && res.status[si] == static_cast<int>(Status::Ok))
            res.status[si] = static_cast<int>(Status::Degenerate);
    };
    loop.run(S, net.num_threads, run_seed);
    return res;
}

}  // namespace statmech_nn::training
