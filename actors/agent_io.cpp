#include "actors/agent_io.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

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
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { io_.run(); });
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

void agent_io::launch(std::function<void()> job) {
  boost::asio::post(launch_io_, std::move(job));
}

}  // namespace caa
