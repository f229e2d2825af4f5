#include "bindings.hpp"

namespace statmech_nn::bindings {

void register_perceptron(py::module_& m) {
    auto sub = m.def_submodule("perceptron", "perceptron (filled in by its capability)");
    (void)sub;
}

}  // namespace statmech_nn::bindings
