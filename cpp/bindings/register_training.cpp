// Thin binding of the training twins (argument conversion, GIL release; maths in
// cpp/src/models/training*.cpp, defaults and validation in python/statmech_nn/training.py).
#include <optional>
#include <stdexcept>

#include "bindings.hpp"
#include "statmech_nn/training.hpp"

namespace statmech_nn::bindings {

void register_training(py::module_& m) {
    namespace nw = statmech_nn::network;
    namespace tr = statmech_nn::training;
    auto s = m.def_submodule("training", "gradient descent on sampled networks (training twins)");

    s.def(
        "train",
        [](const std::vector<int>& widths, const std::string& activation, double slope, double sigma_w2, double sigma_b2,
           const std::string& weights, const std::string& parameterization, const std::string& batchnorm,
           int n_samples, bool gaussian_inputs, const std::string& targets, std::optional<array_f64> x_train,
           std::optional<array_f64> y_train, int n_test, std::optional<array_f64> x_test,
           std::optional<array_f64> y_test, std::optional<array_f64> x_eval, bool outputs_train, bool return_data,
           double eta, std::int64_t steps, int batch_size, const std::vector<std::int64_t>& record,
           double divergence_bound, double work_cap, const std::vector<std::uint64_t>& seeds, int num_threads,
           double memory_cap) {
            tr::Spec spec;
            spec.net.widths = widths;
            spec.net.phi.act = Activation::from_name(activation, slope);
            spec.net.sigma_w2 = sigma_w2;
            spec.net.sigma_b2 = sigma_b2;
            spec.net.weights = nw::weights_from_name(weights);
            spec.net.parameterization = nw::parameterization_from_name(parameterization);
            spec.net.batchnorm = nw::batchnorm_from_name(batchnorm);
            spec.net.num_threads = num_threads;
            spec.net.memory_cap = memory_cap;
            spec.n_samples = n_samples;
            spec.gaussian_inputs = gaussian_inputs;
            spec.targets = tr::targets_from_name(targets);
            // Arrays arrive as (points, features); the core stores one point per column.
            if (x_train) spec.x_train = to_matrix(*x_train, "x_train").transpose();
            if (y_train) spec.y_train = to_matrix(*y_train, "y_train").transpose();
            spec.n_test = n_test;
            if (x_test) spec.x_test = to_matrix(*x_test, "x_test").transpose();
            if (y_test) spec.y_test = to_matrix(*y_test, "y_test").transpose();
            if (x_eval) spec.x_eval = to_matrix(*x_eval, "x_eval").transpose();
            spec.outputs_train = outputs_train;
            spec.return_data = return_data;
            spec.eta = eta;
            spec.steps = steps;
            spec.batch_size = batch_size;
            spec.record = record;
            spec.divergence_bound = divergence_bound;
            spec.work_cap = work_cap;
            tr::Result r;
            {
                py::gil_scoped_release release;
                r = tr::train(spec, seeds);
            }
            const py::ssize_t S = r.n_seeds, R = r.n_records, L = r.L, C = r.C, n = r.n_train, nt = r.n_test,
                              ne = r.n_eval, M0 = r.M0;
            py::dict d;
            d["loss"] = to_array(r.loss, {S, R});
            if (!r.test_loss.empty()) d["test_loss"] = to_array(r.test_loss, {S, R});
            d["grad_norm"] = to_array(r.grad_norm, {S, R, L});
            if (!r.outputs.empty()) d["outputs"] = to_array(r.outputs, {S, R, ne, C});
            if (!r.outputs_train.empty()) d["outputs_train"] = to_array(r.outputs_train, {S, R, n, C});
            if (return_data) {
                d["x_train"] = to_array(r.x_train, {S, n, M0});
                d["y_train"] = to_array(r.y_train, {S, n, C});
                d["x_test"] = to_array(r.x_test, {S, nt, M0});
                d["y_test"] = to_array(r.y_test, {S, nt, C});
            }
            d["status"] = to_array(r.status);
            d["stop_step"] = to_array(r.stop_step);
            d["degenerate"] = to_array(r.degenerate);
            return d;
        },
        py::arg("widths"), py::arg("activation"), py::arg("slope"), py::arg("sigma_w2"), py::arg("sigma_b2"),
        py::arg("weights"), py::arg("parameterization"), py::arg("batchnorm"), py::arg("n_samples"),
        py::arg("gaussian_inputs"), py::arg("targets"), py::arg("x_train"), py::arg("y_train"), py::arg("n_test"),
        py::arg("x_test"), py::arg("y_test"), py::arg("x_eval"), py::arg("outputs_train"), py::arg("return_data"),
        py::arg("eta"), py::arg("steps"), py::arg("batch_size"), py::arg("record"), py::arg("divergence_bound"),
        py::arg("work_cap"), py::arg("seeds"), py::arg("num_threads"), py::arg("memory_cap"));

    // Test hook: the mini-batch indices (steps x batch) of one seed.
    testing_module(m).def(
        "training_batches",
        [](std::uint64_t seed, int L, int n, int batch, std::int64_t steps) {
            return to_array(tr::batch_schedule(seed, L, n, batch, steps),
                            {static_cast<py::ssize_t>(steps), static_cast<py::ssize_t>(batch)});
        },
        py::arg("seed"), py::arg("L"), py::arg("n"), py::arg("batch"), py::arg("steps"));
}

}  // namespace statmech_nn::bindings
