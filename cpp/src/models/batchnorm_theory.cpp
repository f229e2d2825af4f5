// Batch-norm mean field: sphere averages, BSB1 fixed point, gradient explosion rate, covariance map.
// See batchnorm.hpp for the model and the formulas.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "statmech_nn/batchnorm.hpp"
#include "statmech_nn/gaussian.hpp"
#include "statmech_nn/gaussian_moments.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::batchnorm {

namespace {

constexpr double kPi = 3.14159265358979323846;

void check_B(int B) {
    if (B < 2) throw std::invalid_argument("B: the batch size must be >= 2 (BN over one sample is undefined); got " +
                                           std::to_string(B));
}

// Averages over the BSB1 sphere by quadrature with `nodes` Gauss–Legendre nodes per panel.
SphereMoments sphere_quadrature(const Phi& phi, int B, int nodes) {
    SphereMoments m;
    m.method = "quadrature";
    const std::vector<double> kinks = phi.kinks();
    auto accumulate_pair = [&](double x1, double x2, double w) {
        const double f1 = phi.value(x1), f2 = phi.value(x2), d1 = phi.deriv(x1), d2 = phi.deriv(x2);
        m.phi12 += w * f1 * f2;
        m.dphi12 += w * d1 * d2;
        m.dphix12 += w * d1 * x1 * d2 * x2;
    };
    auto accumulate_diag = [&](double x1, double w) {
        const double f1 = phi.value(x1), d1 = phi.deriv(x1);
        m.phi2 += w * f1 * f1;
        m.dphi2 += w * d1 * d1;
        m.dphix2 += w * d1 * d1 * x1 * x1;
    };
    if (B == 2) {  // x = +-(1, -1)
        for (double s : {1.0, -1.0}) {
            accumulate_diag(s, 0.5);
            accumulate_pair(s, -s, 0.5);
        }
        return m;
    }
    const double Bd = B;
    const double r1 = std::sqrt(Bd - 1.0);
    const double cx2 = std::sqrt(Bd * (Bd - 2.0) / (Bd - 1.0));
    // theta rule: density ~ sin^{B-3}(theta) on [0, pi], peak width ~ 1/sqrt(B-3).
    const double n_theta = Bd - 3.0;
    double half = kPi / 2, width = kPi / 8;
    if (n_theta > 0) {
        half = std::min(kPi / 2, 12.0 / std::sqrt(n_theta));
        width = std::min(kPi / 8, 2.0 / std::sqrt(n_theta));
    }
    std::vector<double> tb;
    for (double k : kinks) {
        if (std::abs(k) < r1) tb.push_back(std::acos(k / r1));
        // theta where the kink of phi(x2) reaches the end of the gamma range (x2 = A +- C = k): the
        // inner integral is not smooth in theta there. P cos(theta) + Q sin(theta) = k, |(P, Q)| = r1.
        for (double Q : {cx2, -cx2}) {
            const double P = -1.0 / r1, psi = std::atan2(Q, P), rho = std::sqrt(P * P + Q * Q);
            if (std::abs(k) >= rho) continue;
            for (double sgn : {1.0, -1.0}) {
                double t = psi + sgn * std::acos(k / rho);
                for (double shift : {-2 * kPi, 0.0, 2 * kPi})
                    if (t + shift > 0 && t + shift < kPi) tb.push_back(t + shift);
            }
        }
    }
    std::vector<double> th, wth;
    weighted_composite_rule(kPi / 2 - half, kPi / 2 + half, tb, width, nodes,
                   [&](double t) { return n_theta > 0 ? n_theta * std::log(std::sin(t)) : 0.0; }, th, wth,
                   /*graded=*/B == 4);
    // gamma rule: density ~ cos^{B-4}(gamma) on [-pi/2, pi/2].
    const double n_gamma = Bd - 4.0;
    double ghalf = kPi / 2, gwidth = kPi / 8;
    if (n_gamma > 0) {
        ghalf = std::min(kPi / 2, 12.0 / std::sqrt(n_gamma));
        gwidth = std::min(kPi / 8, 2.0 / std::sqrt(n_gamma));
    }
    std::vector<double> ga, wga, gb;
    for (std::size_t i = 0; i < th.size(); ++i) {
        const double ct = std::cos(th[i]), st = std::sin(th[i]);
        const double x1 = r1 * ct;
        accumulate_diag(x1, wth[i]);
        const double A = -ct / r1, C = cx2 * st;
        if (B == 3) {  // sin(gamma) = +-1
            accumulate_pair(x1, A + C, 0.5 * wth[i]);
            accumulate_pair(x1, A - C, 0.5 * wth[i]);
            continue;
        }
        gb.clear();
        for (double k : kinks) {
            const double sg = (k - A) / C;
            if (std::abs(sg) < 1.0) gb.push_back(std::asin(sg));
        }
        weighted_composite_rule(-ghalf, ghalf, gb, gwidth, nodes,
                       [&](double g) { return n_gamma > 0 ? n_gamma * std::log(std::cos(g)) : 0.0; }, ga, wga);
        for (std::size_t j = 0; j < ga.size(); ++j) accumulate_pair(x1, A + C * std::sin(ga[j]), wth[i] * wga[j]);
    }
    return m;
}

SphereMoments sphere_closed_form(const Phi& phi, int B) {
    double a, b, alpha;
    if (!phi.homogeneous(a, b, alpha))
        throw std::invalid_argument("method: no closed form for activation '" + phi.name() +
                                    "' (not positively homogeneous); use method='quadrature' or 'auto'");
    SphereMoments m;
    m.method = "closed_form";
    const double c = -1.0 / (B - 1.0);
    const double f = sphere_moment_factor(B, alpha);
    m.phi2 = f * (a * a + b * b) * arccos_kernel(alpha, 1.0);
    m.phi12 = f * ((a * a + b * b) * arccos_kernel(alpha, c) - 2 * a * b * arccos_kernel(alpha, -c));
    m.dphix2 = alpha * alpha * m.phi2;  // phi'(x) x = alpha phi(x)
    m.dphix12 = alpha * alpha * m.phi12;
    // phi' = alpha a rho_{alpha-1}(x) + alpha b rho_{alpha-1}(-x): degree alpha - 1, (a', b') = (alpha a, -alpha b).
    const double beta = alpha - 1.0;
    if (beta > -0.5) {
        const double ap = alpha * a, bp = -alpha * b, fd = sphere_moment_factor(B, beta);
        m.dphi2 = fd * (ap * ap + bp * bp) * arccos_kernel(beta, 1.0);
        m.dphi12 = fd * ((ap * ap + bp * bp) * arccos_kernel(beta, c) - 2 * ap * bp * arccos_kernel(beta, -c));
    } else {
        m.dphi2 = m.dphi12 = std::numeric_limits<double>::infinity();
    }
    return m;
}

double max_abs_diff(const SphereMoments& x, const SphereMoments& y) {
    double e = 0;
    for (auto [u, v] : {std::pair{x.phi2, y.phi2}, {x.phi12, y.phi12}, {x.dphi2, y.dphi2}, {x.dphi12, y.dphi12},
                        {x.dphix2, y.dphix2}, {x.dphix12, y.dphix12}})
        e = std::max(e, std::abs(u - v));
    return e;
}

// log1p(u) - u without cancellation for small u.
double log1p_minus(double u) {
    if (std::fabs(u) >= 0.1) return std::log1p(u) - u;
    double term = -u * u / 2.0, sum = term;  // -u^2/2 + u^3/3 - ...
    for (int k = 3; k < 40; ++k) {
        term *= -u * (k - 1.0) / k;
        sum += term;
        if (std::fabs(term) < 1e-18 * std::fabs(sum)) break;
    }
    return sum;
}

// Stirling's correction s(x) = lgamma(x) - (x - 1/2) log x + x - log(2 pi)/2 for x >= 30 (error < 1e-17).
double stirling_correction(double x) {
    const double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)));
}

// log c_B(alpha) = alpha log h + lgamma(h) - lgamma(h + alpha), h = (B - 1)/2.
double log_gamma_ratio_factor(int B, double alpha) {
    const double h = 0.5 * (B - 1.0);
    constexpr double kLog2Pi = 1.8378770664093454836;
    if (alpha >= 1e15) {
        // Huge degrees: alpha log h and lgamma(h + alpha) both overflow; Stirling's series for
        // lgamma(h + alpha) keeps the difference finite (-> -inf: c -> 0).
        const double x = h + alpha;
        return -alpha * (std::log1p(alpha / h) - 1.0) - (h - 0.5) * std::log(x) + h - 0.5 * kLog2Pi + std::lgamma(h);
    }
    if (h >= 30.0) {
        // The three terms are each ~h log h while the result is ~alpha^2 / h: written through
        // log1p(u) - u (u = alpha/h) and Stirling's corrections it stays accurate to rounding.
        const double u = alpha / h;
        return -h * log1p_minus(u) - (alpha - 0.5) * std::log1p(u) -
               (stirling_correction(h + alpha) - stirling_correction(h));
    }
    return alpha * std::log(h) + std::lgamma(h) - std::lgamma(h + alpha);
}

}  // namespace

// ---- activations ---------------------------------------------------------------------------------

Phi Phi::from_name(const std::string& name, double slope, double alpha) {
    Phi p;
    if (name == "alpha_relu") {
        if (!(alpha > 0.0) || !std::isfinite(alpha))
            throw std::invalid_argument("alpha: the alpha_relu degree must be > 0; got " + std::to_string(alpha));
        p.alpha_relu = true;
        p.alpha = alpha;
        p.act = Activation::from_name("relu");
        return p;
    }
    p.act = Activation::from_name(name, slope);
    p.alpha = 1.0;
    return p;
}

std::string Phi::name() const { return alpha_relu ? "alpha_relu" : act.name(); }

double Phi::value(double x) const {
    if (alpha_relu) return x > 0.0 ? std::pow(x, alpha) : 0.0;
    return act.value(x);
}

double Phi::deriv(double x) const {
    if (alpha_relu) return x > 0.0 ? alpha * std::pow(x, alpha - 1.0) : 0.0;
    return act.deriv(x);
}

std::vector<double> Phi::kinks() const {
    if (alpha_relu) return {0.0};
    return act.kinks();
}

bool Phi::homogeneous(double& a, double& b, double& degree) const {
    if (alpha_relu) {
        a = 1.0, b = 0.0, degree = alpha;
        return true;
    }
    return act.homogeneous(a, b, degree);  // the activation table's homogeneity
}

// ---- kernels -----------------------------------------------------------------------------------

// arccos_kernel: the Gaussian layer's (gaussian_closed_forms.cpp).

double sphere_moment_factor(int B, double alpha) {
    check_B(B);
    return std::exp(log_gamma_ratio_factor(B, alpha));
}

// ---- BSB1 sphere averages, fixed point, gradient rate -----------------------------------------

SphereMoments sphere_moments(const Phi& phi, int B, const std::string& method, int nodes) {
    check_B(B);
    if (nodes < 4 || nodes > 256) throw std::invalid_argument("nodes: must be in [4, 256]; got " + std::to_string(nodes));
    double a, b, alpha;
    if (method == "closed_form" || (method == "auto" && phi.homogeneous(a, b, alpha))) return sphere_closed_form(phi, B);
    if (method != "auto" && method != "quadrature")
        throw std::invalid_argument("method: unknown '" + method + "'; choose auto, closed_form or quadrature");
    SphereMoments coarse = sphere_quadrature(phi, B, nodes);
    SphereMoments fine = sphere_quadrature(phi, B, 2 * nodes);
    fine.error = max_abs_diff(coarse, fine);
    return fine;
}

FixedPoint fixed_point(const Phi& phi, int B, double sigma_w2, double sigma_b2, const std::string& method, int nodes) {
    check_B(B);
    if (!(sigma_w2 > 0) || !std::isfinite(sigma_w2))
        throw std::invalid_argument("sigma_w2: must be > 0; got " + std::to_string(sigma_w2));
    if (!(sigma_b2 >= 0) || !std::isfinite(sigma_b2))
        throw std::invalid_argument("sigma_b2: must be >= 0; got " + std::to_string(sigma_b2));
    FixedPoint fp;
    fp.moments = sphere_moments(phi, B, method, nodes);
    fp.q_star = sigma_w2 * fp.moments.phi2 + sigma_b2;
    fp.c_star = fp.q_star > 0 ? (sigma_w2 * fp.moments.phi12 + sigma_b2) / fp.q_star : 1.0;
    if (!std::isfinite(fp.q_star) || !std::isfinite(fp.c_star) || !std::isfinite(fp.moments.phi2) ||
        !std::isfinite(fp.moments.phi12)) {
        fp.status = "diverged";  // E phi^2 overflows float64 (never reported as a value)
        fp.q_star = fp.c_star = std::numeric_limits<double>::quiet_NaN();
    } else {
        fp.status = fp.moments.error <= 1e-9 * std::max(1.0, std::abs(fp.moments.phi2)) ? "ok" : "inaccurate";
    }
    return fp;
}

double gradient_explosion_rate_limit(const Phi& phi) {
    double a, b, alpha;
    double e_d2, e_f2, e_f;
    if (phi.homogeneous(a, b, alpha)) {
        const double beta = alpha - 1.0;
        if (!(beta > -0.5)) return std::numeric_limits<double>::infinity();
        e_d2 = alpha * alpha * (a * a + b * b) * arccos_kernel(beta, 1.0);
        e_f2 = (a * a + b * b) * arccos_kernel(alpha, 1.0);
        e_f = (a - b) * std::pow(2.0, 0.5 * alpha - 1.0) * std::tgamma(0.5 * (alpha + 1.0)) / std::sqrt(kPi);
    } else {
        // z ~ N(0,1): composite Gauss–Legendre on [-12, 12] (tail mass 4e-33), panels <= 0.5 wide and
        // split at the kinks; ~1e-15 for the smooth activations (plain 48-node Gauss–Hermite is only
        // ~1e-6 for tanh, whose poles at +-i pi/2 are close to the real axis).
        std::vector<double> xs, ws;
        weighted_composite_rule(-12.0, 12.0, phi.kinks(), 0.5, 24, [](double x) { return -0.5 * x * x; }, xs, ws);
        e_d2 = e_f2 = e_f = 0;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            const double f = phi.value(xs[i]), d = phi.deriv(xs[i]);
            e_d2 += ws[i] * d * d;
            e_f2 += ws[i] * f * f;
            e_f += ws[i] * f;
        }
    }
    return e_d2 / (e_f2 - e_f * e_f);
}

double gradient_explosion_rate(const Phi& phi, int B, const std::string& method, int nodes) {
    if (B <= 0) return gradient_explosion_rate_limit(phi);
    if (B <= 3)
        throw std::invalid_argument(
            "B: the gradient explosion rate needs B >= 4 (for B = 3 it is infinite, E|z|^-2 over a 2-dim Gaussian "
            "diverges; for B = 2 the BN output is +-(1,-1) and its Jacobian vanishes); got " +
            std::to_string(B));
    const SphereMoments m = sphere_moments(phi, B, method, nodes);
    if (!std::isfinite(m.phi2) || !std::isfinite(m.phi12) || !std::isfinite(m.dphi2) || !std::isfinite(m.dphi12) ||
        !std::isfinite(m.dphix2) || !std::isfinite(m.dphix12))
        throw std::invalid_argument("alpha: the moments E phi(x)^2, E phi'(x)^2 over the BN sphere overflow float64 "
                                    "for this activation and batch size (alpha too large)");
    const double Bd = B;
    // mu (B-1) = E tr[P D G D P], P = G - y y^T, D = diag phi'(x), reduced to the sphere marginals.
    const double trace = (1.0 - 2.0 / Bd) * Bd * m.dphi2 + (Bd * m.dphi2 + Bd * (Bd - 1) * m.dphi12) / (Bd * Bd) -
                         m.dphix2 + (m.dphix2 + (Bd - 1) * m.dphix12) / Bd;
    const double mu = trace / (Bd - 1.0);
    const double var = m.phi2 - m.phi12;
    if (!(var > 0)) throw std::invalid_argument("activation: phi(BN(h)) has zero batch variance; lambda_G undefined");
    return Bd * mu / ((Bd - 3.0) * var);
}

// ---- covariance map ------------------------------------------------------------------------------

namespace {

Eigen::MatrixXd center(const Eigen::MatrixXd& S) {
    Eigen::MatrixXd C = S;
    const Eigen::VectorXd rm = C.rowwise().mean();
    C.colwise() -= rm;
    const Eigen::RowVectorXd cm = C.colwise().mean();
    C.rowwise() -= cm;
    return 0.5 * (C + C.transpose());
}

// V(Sigma) for degree-alpha homogeneous phi by the Laplace transform in s, trapezoid rule in log s.
Eigen::MatrixXd v_laplace(double a, double b, double alpha, const Eigen::MatrixXd& SG) {
    const int B = static_cast<int>(SG.rows());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(SG);
    const Eigen::VectorXd lam_all = es.eigenvalues();
    const double lmax = lam_all.maxCoeff();
    std::vector<int> idx;
    for (int k = 0; k < B; ++k)
        if (lam_all[k] > 1e-12 * lmax) idx.push_back(k);
    const int r = static_cast<int>(idx.size());
    Eigen::MatrixXd U(B, r);
    Eigen::VectorXd lam(r);
    for (int k = 0; k < r; ++k) {
        U.col(k) = es.eigenvectors().col(idx[k]);
        lam[k] = lam_all[idx[k]];
    }
    const double lbar = lam.mean(), lmin = lam.minCoeff();
    const double h = 0.125;
    const double tau_lo = -40.0 / alpha - 2.0;
    const double tau_hi = 85.0 / r + std::log(lbar / lmin) + 2.0;
    Eigen::MatrixXd V = Eigen::MatrixXd::Zero(B, B);
    Eigen::MatrixXd S(B, B);
    Eigen::VectorXd d(r);
    for (double tau = tau_lo; tau <= tau_hi; tau += h) {
        const double s = std::exp(tau) / lbar;
        double logdet = 0;
        for (int k = 0; k < r; ++k) {
            d[k] = lam[k] / (1.0 + 2.0 * s * lam[k]);
            logdet += std::log1p(2.0 * s * lam[k]);
        }
        const double weight = std::exp(alpha * std::log(s) - 0.5 * logdet);
        if (weight == 0.0) continue;
        S.noalias() = U * d.asDiagonal() * U.transpose();
        for (int i = 0; i < B; ++i)
            for (int j = i; j < B; ++j) {
                const double sii = S(i, i), sjj = S(j, j);
                if (!(sii > 0 && sjj > 0)) continue;
                const double c = S(i, j) / std::sqrt(sii * sjj);
                const double K = (a * a + b * b) * arccos_kernel(alpha, c) - 2 * a * b * arccos_kernel(alpha, -c);
                V(i, j) += weight * std::pow(sii * sjj, 0.5 * alpha) * K;
            }
    }
    V *= h * std::pow(static_cast<double>(B), alpha) / std::tgamma(alpha);
    for (int i = 0; i < B; ++i)
        for (int j = 0; j < i; ++j) V(i, j) = V(j, i);
    return V;
}

}  // namespace

Eigen::MatrixXd v_monte_carlo(const Phi& phi, const Eigen::MatrixXd& Sigma, std::int64_t n_samples, std::uint64_t seed,
                              int num_threads, Eigen::MatrixXd* std_error);

Eigen::MatrixXd covariance_map(const Phi& phi, const Eigen::MatrixXd& Sigma, double sigma_w2, double sigma_b2,
                               std::int64_t n_samples, std::uint64_t seed, int num_threads, Eigen::MatrixXd* mc_error,
                               std::string* method) {
    const int B = static_cast<int>(Sigma.rows());
    if (Sigma.cols() != B) throw std::invalid_argument("Sigma: must be square");
    check_B(B);
    if (!(sigma_w2 > 0) || !std::isfinite(sigma_w2)) throw std::invalid_argument("sigma_w2: must be > 0");
    if (!(sigma_b2 >= 0) || !std::isfinite(sigma_b2)) throw std::invalid_argument("sigma_b2: must be >= 0");
    const Eigen::MatrixXd SG = center(Sigma);
    const double tr = SG.trace();
    const double scale = std::max(1e-300, Sigma.cwiseAbs().maxCoeff());
    if (!(tr > 1e-13 * scale))
        throw std::invalid_argument(
            "Sigma: G Sigma G = 0 (every batch entry identical), so BN(h) = Gh/|Gh| is undefined");
    if (mc_error) *mc_error = Eigen::MatrixXd::Zero(B, B);
    Eigen::MatrixXd V;
    double a, b, alpha;
    const Eigen::MatrixXd G = Eigen::MatrixXd::Identity(B, B) - Eigen::MatrixXd::Constant(B, B, 1.0 / B);
    const double t = tr / (B - 1.0);
    if (phi.homogeneous(a, b, alpha)) {
        V = v_laplace(a, b, alpha, SG / t);
        if (method) *method = "laplace";
    } else if ((SG - t * G).cwiseAbs().maxCoeff() <= 1e-12 * t) {
        const SphereMoments m = sphere_moments(phi, B, "quadrature", 24);
        V = Eigen::MatrixXd::Constant(B, B, m.phi12);
        V.diagonal().setConstant(m.phi2);
        if (method) *method = "sphere_quadrature";
    } else {
        V = v_monte_carlo(phi, Sigma, n_samples, seed, num_threads, mc_error);
        if (mc_error) *mc_error *= sigma_w2;
        if (method) *method = "monte_carlo";
    }
    return sigma_w2 * V + Eigen::MatrixXd::Constant(B, B, sigma_b2);
}

}  // namespace statmech_nn::batchnorm
