#pragma once
// Thread-per-core runtime: N independent io_contexts, each run by exactly one thread.
//
// Code running on loop i touches only loop i's objects (its acceptor, its sessions, its
// slice of the database pool), so the hot path needs no locks and no strands. Shared
// state between loops is immutable configuration or atomics (metrics).

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace svc::runtime {

class event_loops {
public:
    // Creates `count` loops (at least one). Nothing runs until run().
    explicit event_loops(std::size_t count);
    ~event_loops();
    event_loops(const event_loops&) = delete;
    event_loops& operator=(const event_loops&) = delete;

    std::size_t size() const { return contexts_.size(); }
    boost::asio::io_context& context(std::size_t index) { return *contexts_.at(index); }

    // Runs every loop on its own thread (loop 0 on the calling thread) and returns when all
    // of them have run out of work or stop() was called.
    void run();

    // Stops every loop at once. Thread-safe; callable from any thread or signal handler task.
    void stop();

    // The index of the loop the calling thread runs, or `k_not_a_loop` off-loop
    // (e.g. on the SQLite worker pool or in a unit test).
    static std::size_t current_index();
    static constexpr std::size_t k_not_a_loop = static_cast<std::size_t>(-1);

private:
    void run_loop(std::size_t index);

    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
};

}  // namespace svc::runtime
