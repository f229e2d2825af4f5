#include "bindings.hpp"

namespace statmech_nn::bindings {

void register_fisher(py::module_& m) {
    auto sub = m.def_submodule("fisher", "fisher (filled in by its capability)");
    (void)sub;
}

}  // namespace statmech_nn::bindings
