// The one status vocabulary of the core, in order of severity (combining two statuses keeps the
// larger). The Python facade maps the integer codes to the words of statmech_nn.STATUSES, which
// lists the same words in the same order.
#pragma once

namespace statmech_nn {

enum class Status : int {
    Ok = 0,            // finished as asked
    Event = 1,         // an ODE run stopped at the event it was watching for
    Marginal = 2,      // a fixed point at criticality (approached algebraically)
    NotReached = 3,    // finished without reaching the asked-for target
    Inaccurate = 4,    // finished, but the accuracy target was not met
    Degenerate = 5,    // the model is ill-defined here (e.g. a batch with zero variance)
    MaxSteps = 6,      // the step budget was used up
    StepTooSmall = 7,  // the adaptive step fell below the rounding level of t
    Diverged = 8,      // the state overflowed or left its domain
};

inline const char* status_name(Status s) {
    switch (s) {
        case Status::Ok: return "ok";
        case Status::Event: return "event";
        case Status::Marginal: return "marginal";
        case Status::NotReached: return "not_reached";
        case Status::Inaccurate: return "inaccurate";
        case Status::Degenerate: return "degenerate";
        case Status::MaxSteps: return "max_steps";
        case Status::StepTooSmall: return "step_too_small";
        case Status::Diverged: return "diverged";
    }
    return "diverged";
}

// The more severe of two statuses.
inline Status worst(Status a, Status b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

}  // namespace statmech_nn
