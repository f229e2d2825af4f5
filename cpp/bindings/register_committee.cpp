#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/committee_ode.hpp"
#include "statmech_nn/committee_sim.hpp"

namespace statmech_nn::bindings {

namespace {

using namespace statmech_nn::committee;

Eigen::MatrixXd to_matrix(const array_f64& a, py::ssize_t rows, py::ssize_t cols, const char* name) {
    if (a.size() != rows * cols) throw std::invalid_argument(std::string(name) + ": wrong size");
    Eigen::MatrixXd m(rows, cols);
    for (py::ssize_t i = 0; i < rows; ++i)
        for (py::ssize_t j = 0; j < cols; ++j) m(i, j) = a.data()[i * cols + j];
    return m;
}

Normalization norm_from_name(const std::string& s) {
    if (s == "none") return Normalization::None;
    if (s == "batchnorm") return Normalization::BatchNorm;
    if (s == "batchnorm_full") return Normalization::BatchNormFull;
    throw std::invalid_argument("normalization: unknown '" + s + "' (none, batchnorm, batchnorm_full)");
}

Model make_model(const std::string& activation, int K, int M, int O, const array_f64& v, double eta, double eta_w,
                 double sigma, double noise, int batch_size, const std::string& norm) {
    Model m;
    m.act = Activation::from_name(activation);
    m.K = K;
    m.M = M;
    m.O = O;
    m.v = to_matrix(v, M, O, "v");
    m.eta = eta;
    m.eta_w = eta_w;
    m.sigma = sigma;
    m.noise = noise;
    m.batch_size = batch_size;
    m.norm = norm_from_name(norm);
    return m;
}


}  // namespace

void register_committee(py::module_& m) {
    auto sub = m.def_submodule("committee", "soft committee machine: order-parameter ODEs and simulation");

    sub.def(
        "ode",
        [](array_f64 Q0, array_f64 R0, array_f64 T, array_f64 g0, array_f64 w0, array_f64 v, double eta, double eta_w,
           double sigma, double noise, int batch_size, const std::string& norm, const std::string& activation,
           array_f64 t, const std::string& method, double rtol, double atol, double dt, double max_step,
           double divergence_bound, int num_threads) {
            const int K = static_cast<int>(Q0.shape(0)), M = static_cast<int>(T.shape(0));
            const int O = static_cast<int>(v.shape(1));
            Model model = make_model(activation, K, M, O, v, eta, eta_w, sigma, noise, batch_size, norm);
            State s0;
            s0.Q = to_matrix(Q0, K, K, "Q0");
            s0.R = to_matrix(R0, K, M, "R0");
            s0.g = to_matrix(g0, K, 1, "g0");
            s0.w = to_matrix(w0, K, O, "w");
            const Eigen::MatrixXd Tm = to_matrix(T, M, M, "T");
            const OdeOptions opt = make_ode_options(method, rtol, atol, dt, max_step, 100000000, divergence_bound);
            std::vector<double> times(t.data(), t.data() + t.size());
            OdeSolution r;
            {
                py::gil_scoped_release release;
                r = solve(model, Tm, s0, times, opt, num_threads);
            }
            const py::ssize_t n = r.n_out;
            py::dict d;
            d["t"] = to_array(r.t, {n});
            d["Q"] = to_array(r.Q, {n, K, K});
            d["R"] = to_array(r.R, {n, K, M});
            d["g"] = to_array(r.g, {n, K});
            d["w"] = to_array(r.w, {n, K, O});
            d["eg"] = to_array(r.eg, {n});
            d["status"] = r.status;
            d["t_stop"] = r.t_stop;
            d["n_rhs"] = r.n_rhs;
            d["n_steps"] = r.n_steps;
            return d;
        },
        py::arg("Q0"), py::arg("R0"), py::arg("T"), py::arg("g0"), py::arg("w0"), py::arg("v"), py::arg("eta"),
        py::arg("eta_w"), py::arg("sigma"), py::arg("noise"), py::arg("batch_size"), py::arg("normalization"),
        py::arg("activation"), py::arg("t"), py::arg("method"), py::arg("rtol"), py::arg("atol"), py::arg("dt"),
        py::arg("max_step"), py::arg("divergence_bound"), py::arg("num_threads"));

    sub.def(
        "derivatives",
        [](array_f64 Q, array_f64 R, array_f64 T, array_f64 g, array_f64 w, array_f64 v, double eta, double eta_w,
           double sigma, double noise, int batch_size, const std::string& norm, const std::string& activation,
           int num_threads) {
            const int K = static_cast<int>(Q.shape(0)), M = static_cast<int>(T.shape(0));
            const int O = static_cast<int>(v.shape(1));
            Model model = make_model(activation, K, M, O, v, eta, eta_w, sigma, noise, batch_size, norm);
            State s;
            s.Q = to_matrix(Q, K, K, "Q");
            s.R = to_matrix(R, K, M, "R");
            s.g = to_matrix(g, K, 1, "g");
            s.w = to_matrix(w, K, O, "w");
            const Eigen::MatrixXd Tm = to_matrix(T, M, M, "T");
            State d;
            Workspace ws;
            double eg;
            {
                py::gil_scoped_release release;
                derivatives_into(model, Tm, s, num_threads, d, ws);
                eg = generalisation_error(model, field_covariance(model, s.Q, s.R, Tm, field_scales(model, s.Q, s.g)),
                                          s.w);
            }
            auto mat = [](const Eigen::MatrixXd& a) {
                py::array_t<double> out({a.rows(), a.cols()});
                for (Eigen::Index i = 0; i < a.rows(); ++i)
                    for (Eigen::Index j = 0; j < a.cols(); ++j) out.mutable_at(i, j) = a(i, j);
                return out;
            };
            py::dict out;
            out["Q"] = mat(d.Q);
            out["R"] = mat(d.R);
            out["g"] = mat(d.g);
            out["w"] = mat(d.w);
            out["eg"] = eg;
            out["S"] = mat(ws.S);
            out["P"] = mat(ws.P);
            out["c"] = mat(ws.c);
            return out;
        },
        py::arg("Q"), py::arg("R"), py::arg("T"), py::arg("g"), py::arg("w"), py::arg("v"), py::arg("eta"),
        py::arg("eta_w"), py::arg("sigma"), py::arg("noise"), py::arg("batch_size"), py::arg("normalization"),
        py::arg("activation"), py::arg("num_threads"));

    sub.def(
        "simulate",
        [](int N, int K, int M, array_f64 w0, array_f64 v, array_f64 g0, double eta, double eta_w, double sigma,
           double noise, int batch_size, const std::string& norm, const std::string& activation,
           array_f64 student_scale, array_f64 teacher_scale, py::object J0, py::object B0,
           std::vector<std::int64_t> record_steps, std::vector<std::uint64_t> seeds, int test_samples,
           double divergence_bound, bool projected, int num_threads) {
            const int O = static_cast<int>(v.shape(1));
            SimSettings S;
            S.model = make_model(activation, K, M, O, v, eta, eta_w, sigma, noise, batch_size, norm);
            S.N = N;
            S.w0 = to_matrix(w0, K, O, "w");
            S.g0 = to_matrix(g0, K, 1, "g0");
            S.student_scale = to_matrix(student_scale, K, 1, "student_scale");
            S.teacher_scale = to_matrix(teacher_scale, M, 1, "teacher_scale");
            if (!J0.is_none()) S.J0 = to_matrix(J0.cast<array_f64>(), K, N, "J0");
            if (!B0.is_none()) S.B0 = to_matrix(B0.cast<array_f64>(), M, N, "B0");
            S.record_steps = std::move(record_steps);
            S.seeds = std::move(seeds);
            S.test_samples = test_samples;
            S.divergence_bound = divergence_bound;
            S.projected = projected;
            SimOutput r;
            {
                py::gil_scoped_release release;
                r = simulate(S, num_threads);
            }
            const py::ssize_t ns = r.n_seeds, nr = r.n_rec;
            py::dict d;
            d["Q"] = to_array(r.Q, {ns, nr, K, K});
            d["R"] = to_array(r.R, {ns, nr, K, M});
            d["g"] = to_array(r.g, {ns, nr, K});
            d["w"] = to_array(r.w, {ns, nr, K, O});
            d["eg"] = to_array(r.eg, {ns, nr});
            d["eg_mc"] = to_array(r.eg_mc, {ns, nr});
            d["T"] = to_array(r.T, {ns, M, M});
            d["status"] = r.status;
            d["stop_step"] = r.stop_step;
            return d;
        },
        py::arg("N"), py::arg("K"), py::arg("M"), py::arg("w0"), py::arg("v"), py::arg("g0"), py::arg("eta"),
        py::arg("eta_w"), py::arg("sigma"), py::arg("noise"), py::arg("batch_size"), py::arg("normalization"),
        py::arg("activation"), py::arg("student_scale"), py::arg("teacher_scale"), py::arg("J0"), py::arg("B0"),
        py::arg("record_steps"), py::arg("seeds"), py::arg("test_samples"), py::arg("divergence_bound"),
        py::arg("projected"), py::arg("num_threads"));

    sub.def(
        "normal_fill_seconds",
        [](std::int64_t n) {
            py::gil_scoped_release release;
            return normal_fill_seconds(n);
        },
        py::arg("n"), "seconds to draw n standard normals with the simulator's generator (one thread)");
}

}  // namespace statmech_nn::bindings
