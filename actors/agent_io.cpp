#include "actors/agent_io.hpp"

#include <boost/asio/executor_work_guard.hpp>

namespace caa {

namespace {

using guard_type = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

}  // namespace

agent_io::agent_io(unsigned threads)
    : guard_(new guard_type(io_.get_executor()),
             [](void* p) { delete static_cast<guard_type*>(p); }) {
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { io_.run(); });
}

agent_io::~agent_io() {
  guard_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
}

}  // namespace caa
