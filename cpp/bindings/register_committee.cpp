#include "bindings.hpp"

namespace statmech_nn::bindings {

void register_committee(py::module_& m) {
    auto sub = m.def_submodule("committee", "committee (filled in by its capability)");
    (void)sub;
}

}  // namespace statmech_nn::bindings
