#include "statmech_nn/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "statmech_nn/parallel.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define STATMECH_NN_HAVE_ATFORK 1
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define STATMECH_NN_CPU_RELAX() _mm_pause()
#else
#define STATMECH_NN_CPU_RELAX() std::atomic_signal_fence(std::memory_order_seq_cst)
#endif

namespace statmech_nn::detail {

namespace {
using Clock = std::chrono::steady_clock;
// How long an idle worker spins before it sleeps: a few times the gap between two right-hand-side
// evaluations of an ODE solve, short enough to cost other processes nothing noticeable.
constexpr auto kWorkerSpin = std::chrono::microseconds(30);
// How the caller waits for items still running on workers: spin, then yield its core, then nap.
constexpr auto kCallerSpin = std::chrono::microseconds(20);
constexpr auto kCallerYield = std::chrono::milliseconds(1);
constexpr auto kCallerNap = std::chrono::microseconds(200);
constexpr std::uint64_t kIndexMask = 0xffffffffULL;
constexpr std::int64_t kMaxItems = 0x7fffffffLL;

thread_local int t_pooled_depth = 0;  // > 0 while this thread runs a pooled loop

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

class Pool {
public:
    // Never destroyed: the workers are detached and live as long as the process.
    static Pool& instance();

    bool run(std::int64_t n, int threads, PoolItem item, void* context, PoolWait wait, void* wait_context,
             Clock::duration claim_delay) {
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        add_workers(threads - 1);
        ++t_pooled_depth;
        struct Leave {
            ~Leave() { --t_pooled_depth; }
        } leave;
        item_ = item;
        context_ = context;
        abort_.store(false, std::memory_order_relaxed);
        error_ = nullptr;
        done_.store(0, std::memory_order_relaxed);
        n_.store(n, std::memory_order_relaxed);
        participants_.store(threads - 1, std::memory_order_relaxed);
        not_before_.store((Clock::now() + claim_delay).time_since_epoch().count(), std::memory_order_relaxed);
        delayed_.store(claim_delay > Clock::duration::zero(), std::memory_order_relaxed);
        const std::uint32_t g = generation_.load(std::memory_order_relaxed) + 1;
        ticket_.store(static_cast<std::uint64_t>(g) << 32, std::memory_order_release);
        generation_.store(g, std::memory_order_seq_cst);
        // Wake sleeping workers without taking the mutex: a worker that was just woken may hold it,
        // and if it is descheduled there, taking it would stall this call for a time slice. A
        // wake-up lost in the race with a worker falling asleep costs nothing: that worker misses
        // this call, whose items the caller does itself.
        if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_.notify_all();
        work(g, wait, wait_context);
        // Every item is claimed: wait for those still running on workers, answering `wait`.
        auto running = [&] { return done_.load(std::memory_order_acquire) < n; };
        if (!spin_while(running, kCallerSpin)) {
            const auto start = Clock::now();
            while (running()) {
                if (wait) {
                    try {
                        wait(wait_context);
                    } catch (...) {
                        record_error();
                    }
                }
                if (Clock::now() - start < kCallerYield)
                    std::this_thread::yield();
                else
                    std::this_thread::sleep_for(kCallerNap);
            }
        }
        if (error_) {
            std::exception_ptr e = error_;
            error_ = nullptr;
            std::rethrow_exception(e);
        }
        return true;
    }

private:
    Pool() = default;

    void add_workers(int count) {
        while (static_cast<int>(workers_) < count) {
            const int index = static_cast<int>(workers_);
            std::thread([this, index] { worker_loop(index); }).detach();
            ++workers_;
        }
    }

    void record_error() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        abort_.store(true, std::memory_order_relaxed);
    }

    // Claims and runs items of generation g until none are left.
    void work(std::uint32_t g, PoolWait wait, void* wait_context) {
        for (;;) {
            std::uint64_t t = ticket_.load(std::memory_order_acquire);
            if ((t >> 32) != g) return;
            const std::int64_t k = static_cast<std::int64_t>(t & kIndexMask);
            // n_ may already belong to a later generation only if generation g is finished, and
            // then the compare-and-swap below fails.
            if (k >= n_.load(std::memory_order_acquire)) return;
            if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire))
                continue;
            // Item k of generation g is claimed and not done: the caller is still inside run(), so
            // item_ and context_ are this generation's.
            if (!abort_.load(std::memory_order_relaxed)) {
                try {
                    if (wait) wait(wait_context);  // the caller's poll, between its items
                    item_(context_, k);
                } catch (...) {
                    record_error();
                }
            }
            done_.fetch_add(1, std::memory_order_acq_rel);
        }
    }

    // Waits until the job of generation g may be claimed (not_before_); false if it finished or
    // moved on meanwhile. delayed_ and not_before_ are stored before the generation is published;
    // a late worker may read a later job's values, but then generation g is over and it claims
    // nothing (the ticket check).
    bool wait_for_claim(std::uint32_t g) {
        const Clock::time_point not_before{Clock::duration(not_before_.load(std::memory_order_relaxed))};
        for (;;) {
            const std::uint64_t t = ticket_.load(std::memory_order_acquire);
            if ((t >> 32) != g || static_cast<std::int64_t>(t & kIndexMask) >= n_.load(std::memory_order_acquire))
                return false;
            const auto now = Clock::now();
            if (now >= not_before) return true;
            std::this_thread::sleep_for(std::min<Clock::duration>(not_before - now, std::chrono::microseconds(250)));
        }
    }

    void worker_loop(int index) {
        mark_helper_thread();  // anything polling for Ctrl-C on a worker reads the stop flag only
        t_pooled_depth = 1;    // loops started inside an item run serially
        std::uint32_t seen = generation_.load(std::memory_order_seq_cst);
        for (;;) {
            auto idle = [&] { return generation_.load(std::memory_order_seq_cst) == seen; };
            if (!spin_while(idle, kWorkerSpin)) {
                std::unique_lock<std::mutex> lock(mutex_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                wake_.wait(lock, [&] { return !idle(); });
                sleepers_.fetch_sub(1, std::memory_order_seq_cst);
            }
            const std::uint32_t g = generation_.load(std::memory_order_seq_cst);
            seen = g;
            if (index >= participants_.load(std::memory_order_seq_cst)) continue;
            if (delayed_.load(std::memory_order_relaxed) && !wait_for_claim(g)) continue;
            work(g, nullptr, nullptr);
        }
    }

    std::mutex busy_;         // held by the caller of run()
    unsigned workers_ = 0;    // started so far (only grows; guarded by busy_)
    // (generation << 32) | next item: claiming is one compare-and-swap that fails once the
    // generation has moved on.
    std::atomic<std::uint64_t> ticket_{0};
    std::atomic<std::uint32_t> generation_{0};
    std::atomic<std::int64_t> n_{0}, done_{0};
    std::atomic<int> participants_{0};  // workers 0 .. participants_ - 1 take part
    std::atomic<Clock::rep> not_before_{0};  // workers claim items from then on (clock ticks) ...
    std::atomic<bool> delayed_{false};       // ... if this is set
    PoolItem item_ = nullptr;
    void* context_ = nullptr;
    std::atomic<bool> abort_{false};
    std::atomic<int> sleepers_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::exception_ptr error_;
};

std::atomic<Pool*> g_pool{nullptr};
std::mutex g_pool_create;

#ifdef STATMECH_NN_HAVE_ATFORK
// The child of a fork has none of the parent's workers: it starts a pool of its own (the parent's
// copy is left alone, never used again).
void forget_pool_in_child() { g_pool.store(nullptr); new (&g_pool_create) std::mutex(); }
#endif

Pool& Pool::instance() {
    Pool* p = g_pool.load(std::memory_order_acquire);
    if (p) return *p;
    std::lock_guard<std::mutex> lock(g_pool_create);
    p = g_pool.load(std::memory_order_acquire);
    if (!p) {
#ifdef STATMECH_NN_HAVE_ATFORK
        static const bool registered = [] { return pthread_atfork(nullptr, nullptr, forget_pool_in_child) == 0; }();
        (void)registered;
#endif
        p = new Pool();
        g_pool.store(p, std::memory_order_release);
    }
    return *p;
}
}  // namespace

bool pool_run(std::int64_t n, int threads, PoolItem item, void* context, PoolWait wait, void* wait_context,
              Clock::duration claim_delay) {
    if (n <= 1 || threads <= 1 || n > kMaxItems || t_pooled_depth > 0) return false;
    return Pool::instance().run(n, threads, item, context, wait, wait_context, claim_delay);
}

bool in_pooled_loop() { return t_pooled_depth > 0; }

}  // namespace statmech_nn::detail
