#include "statmech_nn/ntk_kernels.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {

namespace {

double dot(const double* a, const double* b, std::int64_t d) {
    double s = 0.0;
    for (std::int64_t k = 0; k < d; ++k) s += a[k] * b[k];
    return s;
}

// (I2, J2) on [[v1, c], [c, v2]]; c clipped into the PSD cone (round-off for parallel inputs).
void averages(const Activation& g, double v1, double c, double v2, double& i2, double& j2) {
    const double bound = std::sqrt(std::max(v1 * v2, 0.0));
    c = std::clamp(c, -bound, bound);
    Eigen::Matrix2d C;
    C << v1, c, c, v2;
    i2 = I2(g, C);
    j2 = J2(g, C);
}

}  // namespace

void ntk_kernels(const Activation& g, const double* x1, std::int64_t n1, const double* x2, std::int64_t n2,
                 std::int64_t d, const NtkKernelSpec& spec, int num_threads, double* nngp_layers,
                 double* ntk_layers) {
    if (spec.depth < 0) throw std::invalid_argument("depth must be >= 0");
    if (!(spec.sigma_w2 > 0)) throw std::invalid_argument("sigma_w2 must be > 0");
    if (!(spec.sigma_b2 >= 0)) throw std::invalid_argument("sigma_b2 must be >= 0");
    if (spec.standard && !(spec.width >= 1)) throw std::invalid_argument("width must be >= 1");
    if (n1 < 1 || d < 1) throw std::invalid_argument("x1 must be a non-empty (n, d) array");
    const bool same = (x2 == nullptr);
    if (same) {
        x2 = x1;
        n2 = n1;
    }
    const double sw2 = spec.sigma_w2, sb2 = spec.sigma_b2;
    const std::int64_t nn = n1 * n2;
    // Per-input diagonal recursion: variance v and Theta(x, x).
    std::vector<double> v1(n1), t1(n1), v2(n2), t2(n2);
    auto init_diag = [&](const double* x, std::int64_t n, std::vector<double>& v, std::vector<double>& t) {
        for (std::int64_t i = 0; i < n; ++i) {
            const double xx = dot(x + i * d, x + i * d, d);
            v[i] = sw2 * xx / double(d) + sb2;
            t[i] = spec.standard ? xx + 1.0 : v[i];
        }
    };
    init_diag(x1, n1, v1, t1);
    if (!same) init_diag(x2, n2, v2, t2);
    // Layer 1 (cross block).
    double* S = nngp_layers;
    double* Th = ntk_layers;
    parallel_for(n1, num_threads, [&](std::int64_t i) {
        for (std::int64_t j = 0; j < n2; ++j) {
            if (same && i == j) {
                S[i * n2 + j] = v1[i];
                Th[i * n2 + j] = t1[i];
                continue;
            }
            const double xx = dot(x1 + i * d, x2 + j * d, d);
            S[i * n2 + j] = sw2 * xx / double(d) + sb2;
            Th[i * n2 + j] = spec.standard ? xx + 1.0 : S[i * n2 + j];
        }
    });
    std::vector<double> nv1(n1), nt1(n1), nv2(same ? 0 : n2), nt2(same ? 0 : n2);
    auto step_diag = [&](const std::vector<double>& v, const std::vector<double>& t, std::vector<double>& nv,
                         std::vector<double>& nt) {
        parallel_for(static_cast<std::int64_t>(v.size()), num_threads, [&](std::int64_t i) {
            double i2, j2;
            averages(g, v[i], v[i], v[i], i2, j2);
            nv[i] = sw2 * i2 + sb2;
            const double w = spec.standard ? spec.width * i2 + 1.0 : nv[i];
            nt[i] = w + sw2 * j2 * t[i];
        });
    };
    for (int l = 1; l <= spec.depth; ++l) {
        const double* Sp = nngp_layers + (l - 1) * nn;
        const double* Tp = ntk_layers + (l - 1) * nn;
        double* Sn = nngp_layers + l * nn;
        double* Tn = ntk_layers + l * nn;
        step_diag(v1, t1, nv1, nt1);
        if (!same) step_diag(v2, t2, nv2, nt2);
        const std::vector<double>& V2p = same ? v1 : v2;
        parallel_for(n1, num_threads, [&](std::int64_t i) {
            for (std::int64_t j = same ? i : 0; j < n2; ++j) {
                const std::int64_t k = i * n2 + j;
                if (same && i == j) {
                    Sn[k] = nv1[i];
                    Tn[k] = nt1[i];
                    continue;
                }
                double i2, j2;
                averages(g, v1[i], Sp[k], V2p[j], i2, j2);
                Sn[k] = sw2 * i2 + sb2;
                const double w = spec.standard ? spec.width * i2 + 1.0 : Sn[k];
                Tn[k] = w + sw2 * j2 * Tp[k];
                if (same) {
                    Sn[j * n2 + i] = Sn[k];
                    Tn[j * n2 + i] = Tn[k];
                }
            }
        });
        v1.swap(nv1);
        t1.swap(nt1);
        if (!same) {
            v2.swap(nv2);
            t2.swap(nt2);
        }
    }
}

}  // namespace statmech_nn
