#include "bindings.hpp"

namespace statmech_nn::bindings {

void register_meanfield(py::module_& m) {
    auto sub = m.def_submodule("meanfield", "meanfield (filled in by its capability)");
    (void)sub;
}

}  // namespace statmech_nn::bindings
