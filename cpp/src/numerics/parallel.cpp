#include "statmech_nn/parallel.hpp"

#include <chrono>

namespace statmech_nn {

namespace {
std::atomic<InterruptChecker> g_checker{nullptr};
}

void set_interrupt_checker(InterruptChecker checker) { g_checker.store(checker); }

bool interrupt_requested() {
    InterruptChecker checker = g_checker.load(std::memory_order_relaxed);
    if (!checker) return false;
    // Only the master thread of a team (the Python caller) polls; workers stop through
    // parallel_for's flag once the master has thrown.
    if (thread_id() != 0) return false;
    using clock = std::chrono::steady_clock;
    thread_local clock::time_point last = clock::now();
    const auto now = clock::now();
    if (now - last < std::chrono::milliseconds(20)) return false;
    last = now;
    return checker();
}

}  // namespace statmech_nn
