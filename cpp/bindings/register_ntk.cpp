#include "bindings.hpp"

namespace statmech_nn::bindings {

void register_ntk(py::module_& m) {
    auto sub = m.def_submodule("ntk", "ntk (filled in by its capability)");
    (void)sub;
}

}  // namespace statmech_nn::bindings
