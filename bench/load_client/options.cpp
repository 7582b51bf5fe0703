#include "bench/load_client/load.hpp"

#include <cstdlib>
#include <iostream>

namespace bench::load {

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "load_client: " << why << "\n"
            << "usage: load_client --port N [--mode sse|ws|read|attach] [--target "
               "service|floor|node|proxy]\n"
               "  [--host H] [--key K] [--streams N] [--turns N] [--events N] [--bytes N]\n"
               "  [--rate R] [--ramp-ms N] [--duration S] [--session ID] [--pid PID[,PID...]]\n"
               "  [--timeout S] [--label L] [--out FILE] [--no-stamps]\n"
               "  [--durability sync|async] (service) [--partial] (not proxy)\n"
               "  cluster (sse, service): --ports P1,P2[,...] [--forward turn|attach]\n"
               "  [--attach-settle-ms N]\n";
  std::exit(2);
}

/// The integers of a comma-separated list.
std::vector<int> int_list(const std::string& text) {
  std::vector<int> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(std::stoi(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--no-stamps" || k == "--partial") {  // the flags without a value
      if (k == "--no-stamps")
        o.stamps = false;
      else
        o.partial = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) usage("missing value of " + k);
    std::string v = argv[i + 1];
    try {
      if (k == "--mode")
        o.mode = v;
      else if (k == "--target")
        o.target = v;
      else if (k == "--host")
        o.host = v;
      else if (k == "--port")
        o.port = static_cast<unsigned short>(std::stoi(v));
      else if (k == "--ports")
        for (int port : int_list(v)) o.ports.push_back(static_cast<unsigned short>(port));
      else if (k == "--forward")
        o.forward = v;
      else if (k == "--attach-settle-ms")
        o.settle_ms = std::stoi(v);
      else if (k == "--key")
        o.key = v;
      else if (k == "--streams")
        o.streams = std::stoi(v);
      else if (k == "--turns")
        o.turns = std::stoi(v);
      else if (k == "--events")
        o.events = std::stoll(v);
      else if (k == "--bytes")
        o.bytes = std::stoll(v);
      else if (k == "--rate")
        o.rate = std::stod(v);
      else if (k == "--ramp-ms")
        o.ramp_ms = std::stoi(v);
      else if (k == "--duration")
        o.duration_s = std::stod(v);
      else if (k == "--session")
        o.session_id = v;
      else if (k == "--pid")
        o.pids = int_list(v);
      else if (k == "--timeout")
        o.timeout_s = std::stod(v);
      else if (k == "--label")
        o.label = v;
      else if (k == "--out")
        o.out = v;
      else if (k == "--durability")
        o.durability = v;
      else
        usage("unknown option " + k);
    } catch (const std::exception&) {
      usage("bad value of " + k + ": " + v);
    }
  }
  if (o.port == 0 && !o.ports.empty()) o.port = o.ports.front();
  if (o.port == 0) usage("--port is required");
  if (!o.ports.empty()) {
    if (o.ports.size() < 2) usage("--ports needs at least two nodes");
    if (o.mode != "sse" || o.target != "service")
      usage("--ports is for --mode sse --target service");
    if (o.forward != "turn" && o.forward != "attach") usage("unknown --forward " + o.forward);
  }
  if (o.mode != "sse" && o.mode != "ws" && o.mode != "read" && o.mode != "attach")
    usage("unknown mode " + o.mode);
  if (o.streams < 1 || o.turns < 1) usage("--streams and --turns must be >= 1");
  if (!o.durability.empty() && o.durability != "sync" && o.durability != "async")
    usage("unknown --durability " + o.durability);
  if (!o.durability.empty() && o.target != "service") usage("--durability is for --target service");
  // claude-max-api-proxy always asks its CLI for partial messages; it has no switch for them.
  if (o.partial && o.target == "proxy") usage("--partial is not for --target proxy");
  return o;
}

}  // namespace bench::load
