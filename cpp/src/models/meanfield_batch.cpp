// Batched mean-field evaluations: the loops over points that the bindings must not hold.
#include <algorithm>
#include <cmath>
#include <limits>

#include "statmech_nn/meanfield.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn {
namespace meanfield {

void layer_moments_batch(const Activation& g, const double* q, std::int64_t n, int num_threads, double* phi2,
                         double* dphi2, double* slope) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const LayerMoments m = layer_moments(g, q[i]);
        phi2[i] = m.phi2;
        dphi2[i] = m.dphi2;
        slope[i] = m.slope;
    });
}

void pair_moments_batch(const Activation& g, const double* q11, const double* q12, const double* q22, std::int64_t n,
                        int num_threads, double* phiphi, double* dphidphi) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const PairMoments m = pair_moments(g, q11[i], q12[i], q22[i]);
        phiphi[i] = m.phiphi;
        dphidphi[i] = m.dphidphi;
    });
}

void chi1_batch(const Activation& g, const double* sigma_w2, const double* q, std::int64_t n, int num_threads,
                double* out) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const Params p{g, sigma_w2[i], 0.0};
        out[i] = std::isinf(q[i]) ? chi1_limit(p) : chi1(p, q[i]);
    });
}

void q_star_batch(const Activation& g, const double* sigma_w2, const double* sigma_b2, std::int64_t n, double q_init,
                  int num_threads, double* q, double* q_map_derivative, int* status) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const QStar r = q_star(Params{g, sigma_w2[i], sigma_b2[i]}, q_init);
        q[i] = r.q;
        q_map_derivative[i] = r.q_map_derivative;
        status[i] = static_cast<int>(r.status);
    });
}

void c_star_batch(const Activation& g, const double* sigma_w2, const double* sigma_b2, const double* q, std::int64_t n,
                  int num_threads, double* c, double* chi_c, int* status) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const CStar r = c_star(Params{g, sigma_w2[i], sigma_b2[i]}, q[i]);
        c[i] = r.c;
        chi_c[i] = r.chi_c;
        status[i] = static_cast<int>(r.status);
    });
}

void q_map_iterates(const Activation& g, const double* sigma_w2, const double* sigma_b2, const double* q0,
                    std::int64_t n, int depth, int num_threads, double* out) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        const Params p{g, sigma_w2[i], sigma_b2[i]};
        double q = q0[i];
        out[i] = q;
        for (int l = 1; l <= depth; ++l) {
            check_interrupt();  // depth up to 1e5 maps of one point: poll per layer
            q = std::isfinite(q) ? q_map(p, q) : std::numeric_limits<double>::infinity();
            out[l * n + i] = q;
        }
    });
}

void c_map_iterates(const Params& p, double q, const double* c0, std::int64_t n, int depth, int num_threads,
                    double* out) {
    parallel_for(n, num_threads, [&](std::int64_t i) {
        double c = c0[i];
        out[i] = c;
        for (int l = 1; l <= depth; ++l) {
            check_interrupt();
            c = std::clamp(c_map(p, q, c), -1.0, 1.0);
            out[l * n + i] = c;
        }
    });
}

}  // namespace meanfield
}  // namespace statmech_nn
