#include "runtime/event_loops.hpp"

#include <algorithm>

namespace svc::runtime {

namespace {
thread_local std::size_t t_loop_index = event_loops::k_not_a_loop;
}

event_loops::event_loops(std::size_t count) {
    count = std::max<std::size_t>(count, 1);
    contexts_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        // Concurrency hint 1: each context is only ever run by one thread, so Asio may
        // skip internal locking.
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    }
}

event_loops::~event_loops() = default;

void event_loops::run_loop(std::size_t index) {
    t_loop_index = index;
    contexts_[index]->run();
    t_loop_index = k_not_a_loop;
}

void event_loops::run() {
    std::vector<std::jthread> threads;
    threads.reserve(contexts_.size() - 1);
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
        threads.emplace_back([this, i] { run_loop(i); });
    }
    run_loop(0);
}

void event_loops::stop() {
    for (auto& context : contexts_) context->stop();
}

std::size_t event_loops::current_index() {
    return t_loop_index;
}

}  // namespace svc::runtime
