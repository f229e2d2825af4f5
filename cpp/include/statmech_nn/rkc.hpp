// Building blocks of the second-order Runge–Kutta–Chebyshev method (RKC) used by integrate_ode:
// the stage coefficients of the damped Chebyshev recursion and the nonlinear power iteration that
// estimates the spectral radius of the Jacobian. Facts from B. P. Sommeijer, L. F. Shampine and
// J. G. Verwer, "RKC: An explicit solver for parabolic PDEs", J. Comput. Appl. Math. 88, 315 (1997)
// and J. G. Verwer, W. H. Hundsdorfer and B. P. Sommeijer, "Convergence properties of the
// Runge–Kutta–Chebyshev method", Numer. Math. 57, 157 (1990).
//
// One step of s stages from (t, y) with f = F(t, y):
//   Y_0 = y,  Y_1 = y + mu1 h f,
//   Y_j = (1 - mu_j - nu_j) y + mu_j Y_{j-1} + nu_j Y_{j-2} + mus_j h F(t + c_{j-1} h, Y_{j-1}) + gam_j h f,
//   y_new = Y_s.
// With damping eps = 2/13 its real stability interval is [-beta(s), 0], beta(s) ~ 0.653 s^2, so
// the number of stages grows like the square root of h times the spectral radius.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <vector>

namespace statmech_nn::rkc {

// The smallest s >= 2 whose stability interval covers h * rho (s = 1 + floor(sqrt(1 + 1.54 h rho))).
int stages_for(double h_rho);
// The largest h * rho that s stages cover with the rule above.
double max_h_rho(int stages);

struct StageCoefficients {
    double mu1 = 0.0;                          // Y_1 = y + mu1 h f
    std::vector<double> mu, nu, mus, gam, c;   // indexed by j = 0..s (entries 0, 1 unused except c)
};
StageCoefficients stage_coefficients(int stages);

// Nonlinear power iteration for the spectral radius of dF/dy at (t, y) with f = F(t, y): iterates
// z <- y + delta (F(t, z) - f) / |F(t, z) - f| (|z - y| = delta ~ sqrt(eps) |y|) until two
// estimates agree to 1%, at most 50 evaluations (then the larger of the last two). direction (in/out) is the starting direction
// (the previous dominant direction; f or a unit vector when empty or zero). Returns 1.2 times the
// estimate (the RKC safety factor), 0 when F is constant; n_rhs counts the evaluations.
using Rhs = std::function<void(double t, const double* y, double* dydt)>;
double spectral_radius(const Rhs& rhs, double t, const Eigen::VectorXd& y, const Eigen::VectorXd& f,
                       Eigen::VectorXd& direction, std::int64_t& n_rhs);

}  // namespace statmech_nn::rkc
