#include "statmech_nn/committee_threads.hpp"

#include <chrono>

#include "statmech_nn/parallel.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define STATMECH_NN_CPU_RELAX() _mm_pause()
#else
#define STATMECH_NN_CPU_RELAX() std::atomic_signal_fence(std::memory_order_seq_cst)
#endif

namespace statmech_nn::committee {

namespace {
using Clock = std::chrono::steady_clock;
// How long an idle worker spins before it sleeps: a few times the gap between two right-hand-side
// evaluations of the integrator, short enough to cost other processes nothing noticeable.
constexpr auto kWorkerSpin = std::chrono::microseconds(30);
// How long the caller spins on items still running on workers before it yields its core.
constexpr auto kCallerSpin = std::chrono::microseconds(20);
constexpr std::uint64_t kIndexMask = 0xffffffffULL;

// Spins while pending() for up to `budget` (the clock read every 64 pauses); false when the
// budget ran out first.
template <class Pending>
bool spin_while(Pending pending, Clock::duration budget) {
    const auto start = Clock::now();
    for (;;) {
        for (int k = 0; k < 64; ++k) {
            if (!pending()) return true;
            STATMECH_NN_CPU_RELAX();
        }
        if (Clock::now() - start > budget) return !pending();
    }
}
}  // namespace

Team::Team(int num_threads) {
    // A new solve: forget a stop raised by an earlier, interrupted call (as a top-level parallel_for).
    if (is_master_thread()) detail::stop_flag().store(false, std::memory_order_relaxed);
    for (int k = 1; k < num_threads; ++k) workers_.emplace_back([this] { worker_loop(); });
}

Team::~Team() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true, std::memory_order_seq_cst);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void Team::record_error() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
    abort_.store(true, std::memory_order_relaxed);
}

void Team::work(std::uint32_t g, bool caller) {
    for (;;) {
        std::uint64_t t = ticket_.load(std::memory_order_acquire);
        if ((t >> 32) != g) return;
        const std::int64_t k = static_cast<std::int64_t>(t & kIndexMask);
        // n_ may already belong to a later generation only if generation g is finished, and then
        // the compare-and-swap below fails.
        if (k >= n_.load(std::memory_order_acquire)) return;
        if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        // Item k of generation g is claimed and not done: the caller is still inside run_erased,
        // so fn_ and ctx_ are this generation's.
        if (!abort_.load(std::memory_order_relaxed)) {
            try {
                if (caller) check_interrupt();
                fn_(ctx_, k);
            } catch (...) {
                record_error();
            }
        }
        done_.fetch_add(1, std::memory_order_acq_rel);
    }
}

void Team::worker_loop() {
    mark_helper_thread();  // anything polling for Ctrl-C on a worker reads the stop flag only
    std::uint32_t seen = 0;
    for (;;) {
        auto idle = [&] {
            return generation_.load(std::memory_order_seq_cst) == seen && !stop_.load(std::memory_order_seq_cst);
        };
        if (!spin_while(idle, kWorkerSpin)) {
            std::unique_lock<std::mutex> lock(mutex_);
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            wake_.wait(lock, [&] { return !idle(); });
            sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        }
        const std::uint32_t g = generation_.load(std::memory_order_seq_cst);
        if (stop_.load(std::memory_order_seq_cst)) return;
        seen = g;
        work(g, false);
    }
}

void Team::run_erased(std::int64_t n, Fn fn, void* ctx) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1) {
        for (std::int64_t k = 0; k < n; ++k) {
            check_interrupt();
            fn(ctx, k);
        }
        return;
    }
    fn_ = fn;
    ctx_ = ctx;
    abort_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    n_.store(n, std::memory_order_relaxed);
    const std::uint32_t g = generation_.load(std::memory_order_relaxed) + 1;
    ticket_.store(static_cast<std::uint64_t>(g) << 32, std::memory_order_release);
    generation_.store(g, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
        { std::lock_guard<std::mutex> lock(mutex_); }
        wake_.notify_all();
    }
    work(g, true);
    // Every item is claimed; wait for those still running on workers.
    auto running = [&] { return done_.load(std::memory_order_acquire) < n; };
    if (!spin_while(running, kCallerSpin))
        while (running()) std::this_thread::yield();
    if (error_) {
        std::exception_ptr e = error_;
        error_ = nullptr;
        std::rethrow_exception(e);
    }
}

}  // namespace statmech_nn::committee
