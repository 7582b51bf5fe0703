#include "server.hpp"

#include "listener.hpp"
#include "request_log.hpp"
#include "router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <exception>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

namespace scripted_model {

namespace {

namespace net = boost::asio;

bool write_port_file(const std::string& path, unsigned short port) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;  // readers never see a partial file
}

}  // namespace

int run_server(const options& opts) {
  try {
    request_log log{opts.log_file};
    net::io_context ioc{static_cast<int>(opts.threads)};
    const net::ip::tcp::endpoint endpoint{net::ip::make_address(opts.host), opts.port};
    auto r = std::make_shared<router>(log, opts.delay);
    auto l = std::make_shared<listener>(ioc, endpoint, r);
    net::signal_set signals{ioc, SIGINT, SIGTERM};
    signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
    l->run();
    if (!opts.port_file.empty() && !write_port_file(opts.port_file, l->port())) {
      std::cerr << "scripted_model: cannot write " << opts.port_file << '\n';
      return 1;
    }
    std::cout << "LISTENING " << l->port() << std::endl;
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < opts.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : threads) t.join();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "scripted_model: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace scripted_model
