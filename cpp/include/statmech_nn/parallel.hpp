// Threading, interruption and error transport for the core.
//
// * parallel_for() runs body(i) for i in [0, n) on an OpenMP team; the first exception thrown by
//   any iteration is captured and rethrown on the calling thread after the region (exceptions never
//   escape an OpenMP region), and the remaining iterations are skipped.
// * The bindings install an interrupt checker (it takes the GIL and asks Python whether SIGINT
//   arrived); long loops call check_interrupt(), which throws Interrupted. Inside parallel_for
//   only the master thread polls, throttled to about every 20 ms.
// * Results never depend on the thread count: every iteration owns its data and its random stream.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace statmech_nn {

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted by the user (KeyboardInterrupt)") {}
};

using InterruptChecker = bool (*)();
void set_interrupt_checker(InterruptChecker checker);

// Polls the installed checker at most every ~20 ms (cheap to call in a hot loop).
bool interrupt_requested();
inline void check_interrupt() {
    if (interrupt_requested()) throw Interrupted();
}

// num_threads <= 0 means the OpenMP default (honours OMP_NUM_THREADS).
inline int resolve_threads(int num_threads) {
#ifdef _OPENMP
    return num_threads > 0 ? num_threads : omp_get_max_threads();
#else
    (void)num_threads;
    return 1;
#endif
}

inline int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

template <class Body>
void parallel_for(std::int64_t n, int num_threads, Body&& body) {
    if (n <= 0) return;
    const int nt = resolve_threads(num_threads);
    std::exception_ptr error = nullptr;
    std::atomic<bool> stop{false};
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && n > 1)
    for (std::int64_t i = 0; i < n; ++i) {
        if (stop.load(std::memory_order_relaxed)) continue;
        try {
            if (thread_id() == 0) check_interrupt();
            body(i);
        } catch (...) {
#pragma omp critical(statmech_nn_parallel_error)
            {
                if (!error) error = std::current_exception();
            }
            stop.store(true, std::memory_order_relaxed);
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace statmech_nn
