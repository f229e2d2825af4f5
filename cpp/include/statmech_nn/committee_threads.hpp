// A persistent team of threads for the committee ODE's right-hand side: created once per solve,
// it runs the K(K+1)/2 second-order sums of every evaluation without opening a parallel region
// per evaluation.
//
// Why not parallel_for: an OpenMP region per evaluation (tens of microseconds of work) ends in a
// barrier; when other processes share the cores, a thread that is descheduled holds every other
// thread there (spinning, by default) for a whole time slice, and 2 threads became 10-100 times
// slower than 1. Here
//  * the calling thread never waits for a worker that has not started: items are claimed one by
//    one from a shared counter, and the caller claims them too, so if no worker shows up it simply
//    does all of them (the cost of asking is one atomic store and, for a sleeping worker, one
//    wake-up call);
//  * it waits only for items a worker has already claimed (one pair's sum), spinning briefly and
//    then yielding its core;
//  * idle workers spin for a few microseconds (the next evaluation usually follows at once) and
//    then sleep on a condition variable, so they take no CPU time from other processes between
//    solves or when the integrator is busy.
// Which thread runs an item never changes its result (each item writes only its own output).
// Workers never call the interrupt checker (only the calling thread does).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace statmech_nn::committee {

class Team {
public:
    // A team of `num_threads` threads in all: the caller plus num_threads - 1 workers.
    explicit Team(int num_threads);
    ~Team();
    Team(const Team&) = delete;
    Team& operator=(const Team&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // body(k) for k in [0, n), spread over the team; returns when all are done. The first
    // exception thrown by any item (or by the interrupt check of the caller) is rethrown here after
    // every claimed item has finished; the remaining items are skipped.
    template <class Body>
    void run(std::int64_t n, Body& body) {
        run_erased(n, [](void* ctx, std::int64_t k) { (*static_cast<Body*>(ctx))(k); }, &body);
    }

private:
    using Fn = void (*)(void*, std::int64_t);
    void run_erased(std::int64_t n, Fn fn, void* ctx);
    void worker_loop();
    // Claims and runs items of generation g until none are left; returns the number it ran.
    void work(std::uint32_t g, bool caller);
    void record_error();

    std::vector<std::thread> workers_;
    // (generation << 32) | next item: claiming is one compare-and-swap that fails once the
    // generation has moved on.
    std::atomic<std::uint64_t> ticket_{0};
    std::atomic<std::uint32_t> generation_{0};
    std::atomic<std::int64_t> n_{0}, done_{0};
    Fn fn_ = nullptr;
    void* ctx_ = nullptr;
    std::atomic<bool> abort_{false}, stop_{false};
    std::atomic<int> sleepers_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::exception_ptr error_;
};

}  // namespace statmech_nn::committee
