// Threading, interruption and error transport for the core.
//
// * parallel_for() runs body(i) for i in [0, n) on the process's thread pool (thread_pool.hpp: the
//   calling thread takes part and never waits for a worker that has not started, so two threads
//   are not slower than one on a machine shared with other work); the first exception thrown by
//   any iteration is captured and rethrown on the calling thread, and the remaining iterations
//   are skipped. OpenMP only supplies the default thread count (OMP_NUM_THREADS).
// * Interrupts: the bindings install a checker (it takes the GIL and asks Python whether SIGINT
//   arrived). Only the calling ("master") thread ever calls it, throttled to about every 10 ms;
//   when it reports Ctrl-C the master raises a shared stop flag. Every other thread's
//   check_interrupt() reads that flag (a relaxed atomic load, cheap in a hot loop), so all
//   threads stop within one poll interval instead of finishing their iterations. A master that has
//   run out of iterations keeps polling while the other threads finish theirs.
// * A loop started inside another (on a worker, or inside an iteration on the caller) runs serially.
// * Progress: a sink installed for the calling thread (set_progress_sink, by the bindings) is
//   claimed by the outermost parallel_for on that thread, which reports the iterations done
//   through it from the master thread -- at most every ~100 ms, next to the interrupt poll, and
//   once at the end. Loops nested inside (or on other threads) never see it.
// * Results never depend on the thread count: every iteration owns its data and its random stream.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>

#include "statmech_nn/thread_pool.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace statmech_nn {

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted by the user (KeyboardInterrupt)") {}
};

using InterruptChecker = bool (*)();
void set_interrupt_checker(InterruptChecker checker);

namespace detail {
bool& helper_thread();  // thread-local: set on threads the core starts itself (not OpenMP threads)
}
// Marks the calling thread as one the core started (e.g. a persistent team's worker): it then only
// reads the shared stop flag and never calls the Python interrupt checker, as OpenMP workers.
inline void mark_helper_thread() { detail::helper_thread() = true; }

// True on the thread that called into the core (not on a pool worker or another helper thread).
inline bool is_master_thread() { return !detail::helper_thread(); }

// ---- progress ---------------------------------------------------------------------------------------
// fn(context, done, total) is called on the thread that installed the sink (the master thread).
using ProgressFn = void (*)(void* context, std::int64_t done, std::int64_t total);
struct ProgressSink {
    ProgressFn fn = nullptr;
    void* context = nullptr;
};
// Installs `sink` (nullptr: none) for loops started on the calling thread; returns the previous one.
ProgressSink* set_progress_sink(ProgressSink* sink);

namespace detail {
ProgressSink*& progress_sink();  // the calling thread's sink (thread-local)

// The sink claimed by one loop for its duration (nested loops see none), reporting at most every
// ~100 ms.
class ProgressClaim {
public:
    explicit ProgressClaim(std::int64_t total) : sink_(progress_sink()), total_(total) {
        if (sink_) progress_sink() = nullptr;
    }
    ~ProgressClaim() {
        if (sink_) progress_sink() = sink_;
    }
    ProgressClaim(const ProgressClaim&) = delete;
    ProgressClaim& operator=(const ProgressClaim&) = delete;
    bool active() const { return sink_ != nullptr; }
    void maybe_report(std::int64_t done) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        sink_->fn(sink_->context, done, total_);
    }
    void report(std::int64_t done) { sink_->fn(sink_->context, done, total_); }

private:
    ProgressSink* sink_;
    std::int64_t total_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};
}  // namespace detail

namespace detail {
// The shared stop flag: raised by the master when the checker reports an interrupt, read by the
// other threads; cleared when a top-level parallel_for starts.
std::atomic<bool>& stop_flag();
}  // namespace detail

// Master: polls the installed checker at most every ~10 ms (raising the stop flag when it fires).
// Other threads: read the stop flag. Cheap to call in a hot loop.
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

// The default team size of the calling thread (resolve_threads(0)); n >= 1.
inline void set_default_threads(int n) {
#ifdef _OPENMP
    if (n >= 1) omp_set_num_threads(n);
#else
    (void)n;
#endif
}


namespace detail {
// How long a parallel_for's workers leave the loop to the caller alone before they claim
// iterations: a loop shorter than that never has a worker holding an iteration. On a machine shared
// with other work, a worker descheduled while it holds one stalls the loop for a time slice
// (5-30 ms), which only a loop much longer than that can afford.
constexpr auto kClaimDelay = std::chrono::milliseconds(2);
inline void poll_interrupt(void*) { check_interrupt(); }
// A loop started inside another parallel loop (on a pool worker, or on its caller) runs serially.
inline bool nested_loop() { return in_pooled_loop() || helper_thread(); }
}  // namespace detail

// body(k) for k in [0, n) on up to `threads` threads of the process's pool (thread_pool.hpp), the
// caller included, which polls for Ctrl-C between its items; serially (polling between items) when
// threads <= 1, n == 1, nested in another parallel loop, or the pool is in use. For short items
// such as a right-hand side's pair sums: no progress, no chunking.
template <class Body>
void run_on_pool(std::int64_t n, int threads, Body& body) {
    if (n <= 0) return;
    if (threads > 1 && n > 1 && !detail::nested_loop() &&
        detail::pool_run(
            n, threads, [](void* ctx, std::int64_t k) { (*static_cast<Body*>(ctx))(k); }, &body,
            detail::poll_interrupt, nullptr, std::chrono::steady_clock::duration::zero()))
        return;
    for (std::int64_t k = 0; k < n; ++k) {
        check_interrupt();
        body(k);
    }
}

// body(i) for i in [0, n) on up to resolve_threads(num_threads) threads of the process's pool;
// see the top of this file. Iterations are handed out in chunks of about n / (8 threads): one
// atomic operation per chunk, not per iteration, so that many tiny iterations do not bounce a
// shared cache line between cores. Which thread runs an iteration never changes its result.
template <class Body>
void parallel_for(std::int64_t n, int num_threads, Body&& body) {
    if (n <= 0) return;
    const int nt = resolve_threads(num_threads);
    detail::ProgressClaim progress(n);
    const bool report = progress.active();
    if (nt > 1 && n > 1 && !detail::nested_loop()) {
        detail::stop_flag().store(false, std::memory_order_relaxed);  // a new top-level loop
        std::atomic<std::int64_t> finished{0};  // iterations done, counted one by one only for progress
        const std::int64_t chunk = std::max<std::int64_t>(1, n / (8 * static_cast<std::int64_t>(nt)));
        const std::int64_t n_chunks = (n + chunk - 1) / chunk;
        auto run_chunk = [&](std::int64_t c) {
            const std::int64_t begin = c * chunk, end = std::min(n, begin + chunk);
            for (std::int64_t i = begin; i < end; ++i) {
                check_interrupt();
                body(i);
                if (report) {
                    const std::int64_t k = finished.fetch_add(1, std::memory_order_relaxed) + 1;
                    if (is_master_thread()) progress.maybe_report(k);
                }
            }
        };
        // While the caller waits for the workers' last chunks: Ctrl-C and progress.
        auto wait = [&]() {
            check_interrupt();
            if (report) progress.maybe_report(finished.load(std::memory_order_relaxed));
        };
        using Chunk = decltype(run_chunk);
        using Wait = decltype(wait);
        if (detail::pool_run(
                n_chunks, nt, [](void* ctx, std::int64_t c) { (*static_cast<Chunk*>(ctx))(c); }, &run_chunk,
                [](void* ctx) { (*static_cast<Wait*>(ctx))(); }, &wait, detail::kClaimDelay)) {
            if (report) progress.report(n);
            return;
        }
    }
    for (std::int64_t i = 0; i < n; ++i) {
        check_interrupt();
        body(i);
        if (report) progress.maybe_report(i + 1);
    }
    if (report) progress.report(n);
}

// A parallel loop over independent runs (seeds) whose iterations poll inside: poll() is
// check_interrupt(), and once any iteration has thrown (Ctrl-C, a bad_alloc, ...) the next poll of
// every other running iteration throws too, so they stop instead of finishing their runs.
class PollingLoop {
public:
    void poll() const {
        if (failed_.load(std::memory_order_relaxed)) throw Interrupted();
        check_interrupt();
    }
    template <class Body>
    void run(std::int64_t n, int num_threads, Body&& body) {
        parallel_for(n, num_threads, [&](std::int64_t i) {
            try {
                body(i);
            } catch (...) {
                failed_.store(true, std::memory_order_relaxed);
                throw;
            }
        });
    }

private:
    std::atomic<bool> failed_{false};
};

}  // namespace statmech_nn
