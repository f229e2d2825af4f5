// The committee ODE's right-hand side written the direct way: every Saad–Solla average I3 and I4
// evaluated on its own 3x3 / 4x4 block of the field covariance by the Gaussian layer. Kept as the
// reference that tests compare the fast right-hand side (committee_ode.cpp) against; not used by
// solve().
#include <cmath>

#include "statmech_nn/committee_ode.hpp"
#include "statmech_nn/gaussian.hpp"

namespace statmech_nn::committee {

namespace {

// I4 over the fields (i, j, p, q) of the covariance C (repeated fields are exact in the shared
// closed forms, including ReLU's triple coincidences).
double field_I4(const Activation& act, const Eigen::MatrixXd& C, int i, int j, int p, int q) {
    const int id[4] = {i, j, p, q};
    Eigen::Matrix4d c4;
    for (int r = 0; r < 4; ++r)
        for (int u = 0; u < 4; ++u) c4(r, u) = C(id[r], id[u]);
    return I4(act, c4);
}

}  // namespace

void derivatives_into_reference(const Model& m, const Eigen::MatrixXd& T, const State& s, State& d, Workspace& ws) {
    const int K = m.K, M = m.M, L = K + M;
    const Activation& act = m.act;
    field_scales(m, s.Q, s.g, ws.c);
    field_covariance(m, s.Q, s.R, T, ws.c, ws.C);
    const Eigen::MatrixXd& C = ws.C;
    ws.D.noalias() = s.w * s.w.transpose();
    ws.E.noalias() = s.w * m.v.transpose();
    const Eigen::MatrixXd& D = ws.D;
    // delta_i = phi'(xhat_i) sum_p A_ip phi(z_p): A = [-D, E] (K x L).
    Eigen::MatrixXd& A = ws.A;
    A.resize(K, L);
    A.leftCols(K) = -D;
    A.rightCols(M) = ws.E;

    // First order: S_ib = <delta_i z_b> = sum_p A_ip I3(xhat_i, z_b, z_p).
    Eigen::MatrixXd& S = ws.S;
    S.setZero(K, L);
    // Second order: P_ij = <delta_i delta_j> = sum_pq A_ip A_jq I4(xhat_i, xhat_j, z_p, z_q).
    Eigen::MatrixXd& P = ws.P;
    P.setZero(K, K);
    const int n_pairs = K * (K + 1) / 2;
    std::vector<std::pair<int, int>>& pairs = ws.pairs;
    if (static_cast<int>(pairs.size()) != n_pairs) {
        pairs.clear();
        for (int i = 0; i < K; ++i)
            for (int j = i; j < K; ++j) pairs.emplace_back(i, j);
    }

    auto first_order = [&](std::int64_t ib) {
        const int i = static_cast<int>(ib / L), b = static_cast<int>(ib % L);
        Eigen::Matrix3d c3;
        const int idx[3] = {i, b, 0};
        double acc = 0.0;
        for (int p = 0; p < L; ++p) {
            if (A(i, p) == 0.0) continue;
            const int id[3] = {idx[0], idx[1], p};
            for (int r = 0; r < 3; ++r)
                for (int q = 0; q < 3; ++q) c3(r, q) = C(id[r], id[q]);
            acc += A(i, p) * I3(act, c3);
        }
        S(i, b) = acc;
    };
    auto second_order = [&](std::int64_t k) {
        const int i = pairs[k].first, j = pairs[k].second;
        double acc = 0.0;
        for (int p = 0; p < L; ++p) {
            for (int q = p; q < L; ++q) {
                // I4 is symmetric in its last two fields: pair (p, q) with (q, p).
                const double coef = (p == q) ? A(i, p) * A(j, p) : A(i, p) * A(j, q) + A(i, q) * A(j, p);
                if (coef == 0.0) continue;
                acc += coef * field_I4(act, C, i, j, p, q);
            }
        }
        if (m.noise > 0.0 && D(i, j) != 0.0) {
            Eigen::Matrix2d c2;
            c2 << C(i, i), C(i, j), C(i, j), C(j, j);
            acc += m.noise * m.noise * D(i, j) * J2(act, c2);
        }
        P(i, j) = P(j, i) = acc;
    };
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(K) * L; ++k) first_order(k);
    for (std::int64_t k = 0; k < n_pairs; ++k) second_order(k);

    assemble_derivatives(m, s, ws, d);  // the same last step as the fast path
}

RhsReport derivatives_report_reference(const Model& m, const Eigen::MatrixXd& T, const State& s) {
    check_state(m, T, s);
    RhsReport out;
    Workspace ws;
    derivatives_into_reference(m, T, s, out.d, ws);
    out.S = ws.S;
    out.P = ws.P;
    out.c = ws.c;
    out.eg = generalisation_error(m, ws.C, s.w);
    return out;
}

}  // namespace statmech_nn::committee
