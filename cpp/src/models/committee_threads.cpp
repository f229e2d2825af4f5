#include "statmech_nn/committee_threads.hpp"

#include "statmech_nn/parallel.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define STATMECH_NN_CPU_RELAX() _mm_pause()
#else
#define STATMECH_NN_CPU_RELAX() std::atomic_signal_fence(std::memory_order_seq_cst)
#endif

namespace statmech_nn::committee {

namespace {
// Spins (pause instructions) before an idle worker sleeps: ~10-20 microseconds, about the gap
// between two right-hand-side evaluations of the integrator.
constexpr int kWorkerSpins = 4000;
// Spins of the caller waiting for claimed items before it starts yielding its core.
constexpr int kCallerSpins = 2000;
constexpr std::uint64_t kIndexMask = 0xffffffffULL;
}  // namespace

Team::Team(int num_threads) {
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
    std::uint32_t seen = 0;
    for (;;) {
        std::uint32_t g = generation_.load(std::memory_order_seq_cst);
        for (int spin = 0; g == seen && !stop_.load(std::memory_order_relaxed); ++spin) {
            if (spin < kWorkerSpins) {
                STATMECH_NN_CPU_RELAX();
            } else {
                std::unique_lock<std::mutex> lock(mutex_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                wake_.wait(lock, [&] {
                    return generation_.load(std::memory_order_seq_cst) != seen || stop_.load(std::memory_order_seq_cst);
                });
                sleepers_.fetch_sub(1, std::memory_order_seq_cst);
            }
            g = generation_.load(std::memory_order_seq_cst);
        }
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
    for (int spin = 0; done_.load(std::memory_order_acquire) < n; ++spin) {
        if (spin < kCallerSpins) STATMECH_NN_CPU_RELAX();
        else std::this_thread::yield();
    }
    if (error_) {
        std::exception_ptr e = error_;
        error_ = nullptr;
        std::rethrow_exception(e);
    }
}

}  // namespace statmech_nn::committee
