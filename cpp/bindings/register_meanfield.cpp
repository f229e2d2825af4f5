// Thin bindings of the mean-field core (argument conversion, GIL release; maths in cpp/src).
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/deep_recursion.hpp"
#include "statmech_nn/meanfield.hpp"
#include "statmech_nn/parallel.hpp"

namespace statmech_nn::bindings {

namespace mf = statmech_nn::meanfield;

void register_meanfield(py::module_& m) {
    auto sub = m.def_submodule("meanfield", "Mean-field theory of deep random networks (core)");

    sub.def(
        "layer_moments",
        [](const std::string& name, double slope, array_f64 q, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            const py::ssize_t n = q.size();
            py::array_t<double> phi2(n), dphi2(n), dq(n);
            const double* qp = q.data();
            double *a = phi2.mutable_data(), *b = dphi2.mutable_data(), *c = dq.mutable_data();
            {
                py::gil_scoped_release release;
                mf::layer_moments_batch(act, qp, n, num_threads, a, b, c);
            }
            return py::make_tuple(phi2, dphi2, dq);
        },
        py::arg("activation"), py::arg("slope"), py::arg("q"), py::arg("num_threads") = 0);

    sub.def(
        "pair_moments",
        [](const std::string& name, double slope, array_f64 q11, array_f64 q12, array_f64 q22, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            check_same_size(q11, q12, "q12");
            check_same_size(q11, q22, "q22");
            const py::ssize_t n = q11.size();
            py::array_t<double> pp(n), dd(n);
            const double *a = q11.data(), *b = q12.data(), *c = q22.data();
            double *o1 = pp.mutable_data(), *o2 = dd.mutable_data();
            {
                py::gil_scoped_release release;
                mf::pair_moments_batch(act, a, b, c, n, num_threads, o1, o2);
            }
            return py::make_tuple(pp, dd);
        },
        py::arg("activation"), py::arg("slope"), py::arg("q11"), py::arg("q12"), py::arg("q22"),
        py::arg("num_threads") = 0);

    sub.def(
        "q_star",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, double q_init, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            check_same_size(sw2, sb2, "sigma_b2");
            const py::ssize_t n = sw2.size();
            py::array_t<double> q(n), sl(n);
            py::array_t<int> st(n);
            const double *w = sw2.data(), *b = sb2.data();
            double *qo = q.mutable_data(), *so = sl.mutable_data();
            int* sto = st.mutable_data();
            {
                py::gil_scoped_release release;
                mf::q_star_batch(act, w, b, n, q_init, num_threads, qo, so, sto);
            }
            return py::make_tuple(q, sl, st);
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q_init"),
        py::arg("num_threads") = 0);

    sub.def(
        "c_star",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, array_f64 q, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            check_same_size(sw2, sb2, "sigma_b2");
            check_same_size(sw2, q, "q");
            const py::ssize_t n = sw2.size();
            py::array_t<double> c(n), chic(n);
            py::array_t<int> st(n);
            const double *w = sw2.data(), *b = sb2.data(), *qp = q.data();
            double *co = c.mutable_data(), *xo = chic.mutable_data();
            int* sto = st.mutable_data();
            {
                py::gil_scoped_release release;
                mf::c_star_batch(act, w, b, qp, n, num_threads, co, xo, sto);
            }
            return py::make_tuple(c, chic, st);
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q"),
        py::arg("num_threads") = 0);

    sub.def(
        "chi1",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 q, int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            check_same_size(sw2, q, "q");
            const py::ssize_t n = sw2.size();
            py::array_t<double> out(n);
            const double *w = sw2.data(), *qp = q.data();
            double* o = out.mutable_data();
            {
                py::gil_scoped_release release;
                mf::chi1_batch(act, w, qp, n, num_threads, o);
            }
            return out;
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("q"), py::arg("num_threads") = 0);

    sub.def(
        "q_map_iterates",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, array_f64 q0, int depth,
           int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            check_same_size(sw2, sb2, "sigma_b2");
            check_same_size(sw2, q0, "q");
            if (depth < 0) throw std::invalid_argument("depth: must be >= 0");
            const py::ssize_t n = sw2.size();
            py::array_t<double> out({static_cast<py::ssize_t>(depth + 1), n});
            const double *w = sw2.data(), *b = sb2.data(), *qp = q0.data();
            double* o = out.mutable_data();
            {
                py::gil_scoped_release release;
                mf::q_map_iterates(act, w, b, qp, n, depth, num_threads, o);
            }
            return out;
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q"),
        py::arg("depth"), py::arg("num_threads") = 0);

    sub.def(
        "c_map_iterates",
        [](const std::string& name, double slope, double sw2, double sb2, double q, array_f64 c0, int depth,
           int num_threads) {
            const mf::Params p{Activation::from_name(name, slope), sw2, sb2};
            if (depth < 0) throw std::invalid_argument("depth: must be >= 0");
            const py::ssize_t n = c0.size();
            py::array_t<double> out({static_cast<py::ssize_t>(depth + 1), n});
            const double* cp = c0.data();
            double* o = out.mutable_data();
            {
                py::gil_scoped_release release;
                mf::c_map_iterates(p, q, cp, n, depth, num_threads, o);
            }
            return out;
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("q"),
        py::arg("c"), py::arg("depth"), py::arg("num_threads") = 0);

    sub.def(
        "forward",
        [](const std::string& name, double slope, double sw2, double sb2, int depth, double q1_a, double q1_ab,
           double q1_b, double divergence_bound) {
            const deep::LayerParams p{Activation::from_name(name, slope), sw2, sb2};
            deep::PairTrajectory t;
            deep::BackwardChain bc;
            {
                py::gil_scoped_release release;
                t = deep::forward_pair(p, depth, q1_a, q1_ab, q1_b, divergence_bound);
                bc = deep::backward_chain(p, t);
            }
            py::dict d;
            d["q_a"] = to_array(t.q_a);
            d["q_b"] = to_array(t.q_b);
            d["q_ab"] = to_array(t.q_ab);
            d["c"] = to_array(t.c);
            d["phi2_a"] = to_array(t.phi2_a);
            d["chi"] = to_array(bc.chi);
            d["q_grad"] = to_array(bc.q_grad);
            d["diverged"] = t.status == deep::RunStatus::Diverged;
            d["stop_layer"] = t.stop_layer;
            d["grad_diverged"] = bc.status == deep::RunStatus::Diverged;
            d["grad_stop_layer"] = bc.stop_layer;
            return d;
        },
        py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"), py::arg("depth"),
        py::arg("q1_a"), py::arg("q1_ab"), py::arg("q1_b"), py::arg("divergence_bound"));

    sub.def("chi1_limit", [](const std::string& name, double slope, double sw2) {
        return mf::chi1_limit(mf::Params{Activation::from_name(name, slope), sw2, 0.0});
    });

    sub.def(
        "phase_diagram",
        [](const std::string& name, double slope, array_f64 sw2, array_f64 sb2, double q_init, bool corr,
           int num_threads) {
            const Activation act = Activation::from_name(name, slope);
            const std::vector<double> w = to_vector(sw2), b = to_vector(sb2);
            mf::PhaseDiagram pd;
            {
                py::gil_scoped_release release;
                pd = mf::phase_diagram(act, w, b, q_init, corr, num_threads);
            }
            py::dict d;
            const py::ssize_t nw = pd.n_w, nb = pd.n_b;
            d["q_star"] = to_array(pd.q_star, {nw, nb});
            d["c_star"] = to_array(pd.c_star, {nw, nb});
            d["chi1"] = to_array(pd.chi1, {nw, nb});
            d["chi_c"] = to_array(pd.chi_c, {nw, nb});
            d["xi_q"] = to_array(pd.xi_q, {nw, nb});
            d["xi_c"] = to_array(pd.xi_c, {nw, nb});
            py::array_t<int> st({nw, nb});
            std::copy(pd.status.begin(), pd.status.end(), st.mutable_data());
            d["status"] = st;
            d["critical_sigma_w2"] = to_array(pd.critical_sigma_w2);
            d["critical_q_star"] = to_array(pd.critical_q_star);
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
            return py::make_tuple(to_array(v), to_array(p));
        },
        py::arg("activation"), py::arg("slope"), py::arg("q"));

    sub.def(
        "jacobian_spectrum",
        [](array_f64 value, array_f64 prob, double sw2, int depth, const std::string& weights, array_f64 x,
           int n_points, int num_threads) {
            const mf::WeightKind wk = mf::weight_kind_from_name(weights);
            const std::vector<double> v = to_vector(value), p = to_vector(prob), xs = to_vector(x);
            mf::SpectrumResult r;
            {
                py::gil_scoped_release release;
                r = mf::jacobian_spectrum(v, p, sw2, depth, wk, xs, n_points, num_threads);
            }
            py::dict d;
            d["x"] = to_array(r.x);
            d["density"] = to_array(r.density);
            d["mean"] = r.mean;
            d["variance"] = r.variance;
            d["atom_at_zero"] = r.atom_at_zero;
            d["edge"] = r.edge;
            d["failed"] = r.failed;
            d["log_mean"] = r.log_mean;
            d["log_variance"] = r.log_variance;
            d["overflow"] = r.overflow;
            return d;
        },
        py::arg("value"), py::arg("prob"), py::arg("sigma_w2"), py::arg("depth"), py::arg("weights"), py::arg("x"),
        py::arg("n_points"), py::arg("num_threads") = 0);
}

}  // namespace statmech_nn::bindings
