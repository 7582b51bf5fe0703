#include "actors/agent_io.hpp"

#include "actors/inline_unit.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <mutex>

namespace caa {

namespace {

using guard_type = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

void delete_guard(void* p) {
  delete static_cast<guard_type*>(p);
}

}  // namespace

agent_io::agent_io(unsigned threads, unsigned launch_threads)
    : guard_(new guard_type(io_.get_executor()), delete_guard),
      launch_guard_(new guard_type(launch_io_.get_executor()), delete_guard) {
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { serve(); });
  for (unsigned i = 0; i < std::max(1u, launch_threads); ++i)
    threads_.emplace_back([this] { launch_io_.run(); });
}

agent_io::~agent_io() {
  guard_.reset();
  launch_guard_.reset();
  launch_io_.stop();
  io_.stop();
  for (auto& t : threads_) t.join();
}

void agent_io::serve() {
  // A session woken by a line read here runs here, once the handler that read it returns
  // (the handler holds its process's callback lock): see inline_unit.
  inline_unit::scope unit;
  auto& here = *inline_unit::current();
  while (io_.run_one() != 0) {
    if (here.waiting() == 0) continue;
    std::shared_lock<std::shared_mutex> gate{inline_gate_};
    if (inline_open_)
      here.drain();
    else
      here.hand_over();
  }
}

void agent_io::stop_inline() {
  std::unique_lock<std::shared_mutex> gate{inline_gate_};  // waits out the drains under way
  inline_open_ = false;
}

void agent_io::launch(std::function<void()> job) {
  boost::asio::post(launch_io_, std::move(job));
}

}  // namespace caa
