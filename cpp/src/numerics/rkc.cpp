#include "statmech_nn/rkc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace statmech_nn::rkc {

namespace {
constexpr double kDamping = 2.0 / 13.0;  // eps: w0 = 1 + eps / s^2
constexpr double kStageRule = 1.54;      // ~ 1 / 0.653
}  // namespace

int stages_for(double h_rho) {
    if (!(h_rho > 0.0)) return 2;
    const double s = 1.0 + std::floor(std::sqrt(1.0 + kStageRule * h_rho));
    return s >= 1e9 ? 1000000000 : std::max(2, static_cast<int>(s));
}

double max_h_rho(int stages) {
    // stages_for(x) <= s  <=>  sqrt(1 + 1.54 x) < s  <=>  x < (s^2 - 1) / 1.54; keep 1% room.
    const double s = static_cast<double>(stages);
    return 0.99 * (s * s - 1.0) / kStageRule;
}

StageCoefficients stage_coefficients(int s) {
    StageCoefficients k;
    const double w0 = 1.0 + kDamping / (static_cast<double>(s) * s);
    // Chebyshev polynomials T_j and their first two derivatives at w0.
    std::vector<double> T(s + 1), dT(s + 1), d2T(s + 1);
    T[0] = 1.0; dT[0] = 0.0; d2T[0] = 0.0;
    T[1] = w0;  dT[1] = 1.0; d2T[1] = 0.0;
    for (int j = 2; j <= s; ++j) {
        T[j] = 2.0 * w0 * T[j - 1] - T[j - 2];
        dT[j] = 2.0 * w0 * dT[j - 1] - dT[j - 2] + 2.0 * T[j - 1];
        d2T[j] = 2.0 * w0 * d2T[j - 1] - d2T[j - 2] + 4.0 * dT[j - 1];
    }
    const double w1 = dT[s] / d2T[s];
    // b_j = T_j''(w0) / T_j'(w0)^2 (j >= 2), b_0 = b_1 = b_2 (second order at every stage count).
    std::vector<double> b(s + 1);
    for (int j = 2; j <= s; ++j) b[j] = d2T[j] / (dT[j] * dT[j]);
    b[0] = b[1] = b[2];
    k.mu.assign(s + 1, 0.0);
    k.nu.assign(s + 1, 0.0);
    k.mus.assign(s + 1, 0.0);
    k.gam.assign(s + 1, 0.0);
    k.c.assign(s + 1, 0.0);
    k.mu1 = b[1] * w1;
    k.c[1] = k.mu1;
    for (int j = 2; j <= s; ++j) {
        const double a_prev = 1.0 - b[j - 1] * T[j - 1];
        k.mu[j] = 2.0 * w0 * b[j] / b[j - 1];
        k.nu[j] = -b[j] / b[j - 2];
        k.mus[j] = 2.0 * w1 * b[j] / b[j - 1];
        k.gam[j] = -a_prev * k.mus[j];
        // Stage times: the recursion applied to y' = 1 (integrated exactly).
        k.c[j] = k.mu[j] * k.c[j - 1] + k.nu[j] * k.c[j - 2] + k.mus[j] + k.gam[j];
    }
    return k;
}

double spectral_radius(const Rhs& rhs, double t, const Eigen::VectorXd& y, const Eigen::VectorXd& f,
                       Eigen::VectorXd& direction, std::int64_t& n_rhs) {
    const Eigen::Index n = y.size();
    const double sqrt_eps = std::sqrt(std::numeric_limits<double>::epsilon());
    const double ynrm = y.norm();
    const double delta = ynrm > 0.0 && std::isfinite(ynrm) ? ynrm * sqrt_eps : sqrt_eps;
    Eigen::VectorXd v = direction;
    if (v.size() != n || !v.allFinite() || !(v.norm() > 0.0)) v = f;
    if (!v.allFinite() || !(v.norm() > 0.0)) v = Eigen::VectorXd::Ones(n);
    Eigen::VectorXd z = y + (delta / v.norm()) * v, fz(n);
    double sigma = 0.0, sigma_prev = 0.0;
    for (int it = 1; it <= 50; ++it) {
        rhs(t, z.data(), fz.data());
        ++n_rhs;
        fz -= f;
        const double dfnrm = fz.norm();
        if (!std::isfinite(dfnrm)) break;  // keep the last finite estimate
        sigma_prev = sigma;
        sigma = dfnrm / delta;
        if (dfnrm > 0.0) {
            z = y + (delta / dfnrm) * fz;
        } else {
            // F(z) = F(y): turn the direction (one component at a time) and try again.
            const Eigen::Index i = static_cast<Eigen::Index>(it) % n;
            z[i] = y[i] - (z[i] - y[i]);
            if (z[i] == y[i]) z[i] = y[i] + delta;
        }
        if (it >= 2 && std::abs(sigma - sigma_prev) <= 0.01 * std::max(sigma, 1e-300)) break;
    }
    direction = z - y;
    // Without convergence (e.g. a non-normal Jacobian) the last two estimates bracket it better
    // than the last one alone.
    return 1.2 * std::max(sigma, sigma_prev);
}

}  // namespace statmech_nn::rkc
