#include "statmech_nn/parallel.hpp"

#include <chrono>

namespace statmech_nn {

namespace {
std::atomic<InterruptChecker> g_checker{nullptr};
}

namespace detail {
std::atomic<bool>& stop_flag() {
    static std::atomic<bool> flag{false};
    return flag;
}
bool& helper_thread() {
    thread_local bool helper = false;
    return helper;
}
ProgressSink*& progress_sink() {
    thread_local ProgressSink* sink = nullptr;
    return sink;
}
}  // namespace detail

ProgressSink* set_progress_sink(ProgressSink* sink) {
    ProgressSink* previous = detail::progress_sink();
    detail::progress_sink() = sink;
    return previous;
}

void set_interrupt_checker(InterruptChecker checker) { g_checker.store(checker); }

bool interrupt_requested() {
    if (!is_master_thread()) return detail::stop_flag().load(std::memory_order_relaxed);
    InterruptChecker checker = g_checker.load(std::memory_order_relaxed);
    if (!checker) return false;
    using clock = std::chrono::steady_clock;
    thread_local clock::time_point last = clock::now();
    const auto now = clock::now();
    if (now - last < std::chrono::milliseconds(10)) return false;
    last = now;
    if (!checker()) return false;
    detail::stop_flag().store(true, std::memory_order_relaxed);
    return true;
}

}  // namespace statmech_nn
