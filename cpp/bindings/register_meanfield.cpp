// Thin bindings of the mean-field core (argument conversion, GIL release; maths in cpp/src).
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/meanfield.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::bindings {

namespace mf = statmech_nn::meanfield;

namespace {

py::array_t<double> vec_out(const std::vector<double>& v) {
    py::array_t<double> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

py::array_t<double> mat_out(const std::vector<double>& v, py::ssize_t rows, py::ssize_t cols) {
    py::array_t<double> a({rows, cols});
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

std::vector<double> vec_in(const array_f64& a) { return std::vector<double>(a.data(), a.data() + a.size()); }

void same_size(const array_f64& a, const array_f64& b, const char* what) {
    if (a.size() != b.size()) throw std::invalid_argument(std::string(what) + ": arrays must have the same size");
}

}  // namespace

void register_meanfield(py::module_& m) {
    auto sub = m.def_submodule("meanfield", "Mean-field theory of deep random networks (core)");

    sub.def(
        "layer_moments",
        [](const std::string& name, double slope, array_f64 q) {
            const Activation act = Activation::from_name(name, slope);
            const py::ssize_t n = q.size();
            py::array_t<double> phi2(n), dphi2(n), dq(n);
            const double* qp = q.data();
            double *a = phi2.mutable_data(), *b = dphi2.mutable_data(), *c = dq.mutable_data();
            {
                py::gil_scoped_release release;
                for (py::ssize_t i = 0; i < n; ++i) {
                    const mf::LayerMoments lm = mf::layer_moments(act, qp[i]);
                    a[i] = lm.phi2; b[i] = lm.dphi2; c[i] = lm.slope;
                }
            }
            return py::make_tuple(phi2, dphi2, dq);
        },
        py::arg("activation"), py::arg("slope"), py::arg("q"));

    sub.def(
        "pair_moments",
        [](const std::string& name, double slope, array_f64 q11, array_f64 q12, array_f64 q22, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            same_size(q11, q12, "q12");
            same_size(q11, q22, "q22");
            const py::ssize_t n = q11.size();
            py::array_t<double> pp(n), dd(n);
            const double *a = q11.data(), *b = q12.data(), *c = q22.data();
            double *o1 = pp.mutable_data(), *o2 = dd.mutable_data();
            {
                py::gil_scoped_release release;
                parallel_for(n, num_threads, [&](std::int64_t i) {
                    const mf::PairMoments pm = mf::pair_moments(act, a[i], b[i], c[i]);
                    o1[i] = pm.phiphi;
                    o2[i] = pm.dphidphi;
                });
            }
            return py::make_tuple(pp, dd);
        },
        py::arg("activation"), py::arg("slope"), py::arg("q11"), py::arg("q12"), py::arg("q22"),
        py::arg("num_threads") = 0);

    sub.def(
        "q_star",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, double q_init, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            same_size(sw2, sb2, "sigma_b2");
            const py::ssize_t n = sw2.size();
            py::array_t<double> q(n), sl(n);
            py::array_t<int> st(n);
            const double *w = sw2.data(), *b = sb2.data();
            double *qo = q.mutable_data(), *so = sl.mutable_data();
            int* sto = st.mutable_data();
            {
                py::gil_scoped_release release;
                parallel_for(n, num_threads, [&](std::int64_t i) {
                    const mf::QStar r = mf::q_star(mf::Params{act, w[i], b[i]}, q_init);
                    qo[i] = r.q; so[i] = r.slope; sto[i] = static_cast<int>(r.status);
                });
            }
            return py::make_tuple(q, sl, st);
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q_init"),
        py::arg("num_threads") = 0);

    sub.def(
        "c_star",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, array_f64 q, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            same_size(sw2, sb2, "sigma_b2");
            same_size(sw2, q, "q");
            const py::ssize_t n = sw2.size();
            py::array_t<double> c(n), chic(n);
            py::array_t<int> st(n);
            const double *w = sw2.data(), *b = sb2.data(), *qp = q.data();
            double *co = c.mutable_data(), *xo = chic.mutable_data();
            int* sto = st.mutable_data();
            {
                py::gil_scoped_release release;
                parallel_for(n, num_threads, [&](std::int64_t i) {
                    const mf::CStar r = mf::c_star(mf::Params{act, w[i], b[i]}, qp[i]);
                    co[i] = r.c; xo[i] = r.chi_c; sto[i] = static_cast<int>(r.status);
                });
            }
            return py::make_tuple(c, chic, st);
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q"),
        py::arg("num_threads") = 0);

    sub.def("chi1_limit", [](const std::string& name, double slope, double sw2) {
        return mf::chi1_limit(mf::Params{Activation::from_name(name, slope), sw2, 0.0});
    });

    sub.def(
        "phase_diagram",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, double q_init, bool corr,
           int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            const std::vector<double> w = vec_in(sw2), b = vec_in(sb2);
            mf::PhaseDiagram pd;
            {
                py::gil_scoped_release release;
                pd = mf::phase_diagram(act, w, b, q_init, corr, num_threads);
            }
            py::dict d;
            const py::ssize_t nw = pd.n_w, nb = pd.n_b;
            d["q_star"] = mat_out(pd.q_star, nw, nb);
            d["c_star"] = mat_out(pd.c_star, nw, nb);
            d["chi1"] = mat_out(pd.chi1, nw, nb);
            d["chi_c"] = mat_out(pd.chi_c, nw, nb);
            d["xi_q"] = mat_out(pd.xi_q, nw, nb);
            d["xi_c"] = mat_out(pd.xi_c, nw, nb);
            py::array_t<int> st({nw, nb});
            std::copy(pd.status.begin(), pd.status.end(), st.mutable_data());
            d["status"] = st;
            d["critical_sigma_w2"] = vec_out(pd.critical_sigma_w2);
            d["critical_q_star"] = vec_out(pd.critical_q_star);
            py::array_t<int> cf(nb);
            std::copy(pd.critical_found.begin(), pd.critical_found.end(), cf.mutable_data());
            d["critical_found"] = cf;
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q_init"),
        py::arg("with_correlation"), py::arg("num_threads") = 0);

    sub.def(
        "derivative_law",
        [](const std::string& name, double slope, double q) {
            std::vector<double> v, p;
            mf::derivative_law(Activation::from_name(name, slope), q, v, p);
            return py::make_tuple(vec_out(v), vec_out(p));
        },
        py::arg("activation"), py::arg("slope"), py::arg("q"));

    sub.def(
        "jacobian_spectrum",
        [](array_f64 value, array_f64 prob, double sw2, int depth, const std::string& weights, array_f64 x,
           int n_points, int num_threads) {
            const mf::WeightKind wk = mf::weight_kind_from_name(weights);
            const std::vector<double> v = vec_in(value), p = vec_in(prob), xs = vec_in(x);
            mf::SpectrumResult r;
            {
                py::gil_scoped_release release;
                r = mf::jacobian_spectrum(v, p, sw2, depth, wk, xs, n_points, num_threads);
            }
            py::dict d;
            d["x"] = vec_out(r.x);
            d["density"] = vec_out(r.density);
            d["mean"] = r.mean;
            d["variance"] = r.variance;
            d["atom_at_zero"] = r.atom_at_zero;
            d["edge"] = r.edge;
            d["failed"] = r.failed;
            return d;
        },
        py::arg("value"), py::arg("prob"), py::arg("sigma_w2"), py::arg("depth"), py::arg("weights"), py::arg("x"),
        py::arg("n_points"), py::arg("num_threads") = 0);
}

}  // namespace statmech_nn::bindings
