// The process's thread pool: the one mechanism behind every parallel loop of the core
// (parallel_for and run_on_pool in parallel.hpp: the loops over points, seeds and tiles, the
// committee ODE's right-hand side, the committee simulator's lanes).
//
// Why not OpenMP regions: a region ends in a barrier at which the calling thread waits for every
// thread of the team, including one the operating system has not scheduled yet. When other
// processes share the cores that costs a whole time slice (10-30 ms) per region, and two threads
// became 10-20 times slower than one on calls of a few milliseconds. Here
//  * the calling thread takes part and claims items from a shared counter like the workers, so if
//    no worker shows up it simply does all of them: it never waits for a worker that has not
//    started (asking costs one atomic store and, for a sleeping worker, one wake-up call);
//  * it waits only for items a worker has already claimed, spinning briefly, then yielding its core
//    and finally sleeping in short naps, calling `wait` (the interrupt poll, progress) meanwhile;
//  * a loop over points or seeds (parallel_for) leaves its first ~2 ms to the caller alone, so a
//    short call never has a worker holding one of its items;
//  * the workers persist for the life of the process: no thread is started or joined per call.
//    Idle workers spin for a few microseconds (the next call of a right-hand side usually follows
//    at once) and then sleep on a condition variable, taking no CPU time from other processes;
//  * one caller at a time: a call made while the pool is busy (from another thread, or nested
//    inside an item) gets `false` and runs its loop serially on its own thread, so the machine is
//    never oversubscribed by nested or concurrent loops.
// Which thread runs an item never changes its result (each item writes only its own output).
// Workers are marked as helper threads: they read the shared stop flag and never call the Python
// interrupt checker (only the calling thread does). After fork() the child starts a fresh pool.
#pragma once

#include <chrono>
#include <cstdint>

namespace statmech_nn {

namespace detail {
using PoolItem = void (*)(void* context, std::int64_t item);
using PoolWait = void (*)(void* context);

// Runs item(context, k) for k in [0, n) on the calling thread and up to `threads - 1` workers,
// which claim items only from `claim_delay` after the start (the caller claims from the start).
// Returns false, having run nothing, when the pool is in use (another caller, or nested inside an
// item); the caller then runs the items itself. The first exception thrown by an item or by
// `wait` is rethrown after every claimed item has finished; the unclaimed items are skipped.
bool pool_run(std::int64_t n, int threads, PoolItem item, void* context, PoolWait wait, void* wait_context,
              std::chrono::steady_clock::duration claim_delay);

// True on a pool worker, or on a caller while it runs a pooled loop (a loop started there is
// nested and runs serially).
bool in_pooled_loop();
}  // namespace detail

}  // namespace statmech_nn
