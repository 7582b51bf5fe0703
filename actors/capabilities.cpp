#include "actors/capabilities.hpp"
#include "config/json_parse.hpp"

#include "transport/sandbox/sandbox.hpp"

#include "config/logging.hpp"
#include "transport/claude/control.hpp"
#include "transport/claude/process.hpp"
#include "transport/json/json.hpp"
#include "transport/sandbox/workspace.hpp"

#include <caf/all.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <map>
#include <utility>

namespace caa {

namespace {

using clock_type = std::chrono::steady_clock;

/// One running probe of one tenant.
struct probe {
  std::string tenant_id;
  int64_t agent_slot = -1;
  std::shared_ptr<cli_process> proc;
  /// The start under way: `launched` arrives once it ended (never when it was abandoned).
  std::shared_ptr<pending_start> starting;
  std::string init_request_id;
  std::string initialize_json;  // the `response` payload of initialize
  std::vector<caf::typed_response_promise<std::string>> waiting;
  bool holds_slot = false;  // admission granted it a process slot
};

struct cached {
  std::string json;
  clock_type::time_point at;
};

struct caps_state {
  static inline const char* name = "capabilities";
  capabilities_deps deps;
  std::map<std::string, cached> cache;
  std::map<uint64_t, probe> probes;
  std::map<std::string, uint64_t> probe_of_tenant;
  uint64_t next_id = 1;
  claude::request_id_generator ids;
};

using self_ptr = capabilities_actor::stateful_pointer<caps_state>;

/// The engine's offer from the initialize response and the `init` line.
std::string combine(const std::string& initialize_json, const std::string& init_line) {
  rapidjson::Document ini;
  json::parse_untrusted_object(initialize_json, ini);
  rapidjson::Document init;
  json::parse_untrusted_object(init_line, init);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  auto copy = [&](const rapidjson::Document& d, const char* key, const char* out) {
    w.Key(out);
    if (d.IsObject() && d.HasMember(key))
      d[key].Accept(w);
    else
      w.Null();
  };
  copy(init, "tools", "tools");
  copy(init, "slash_commands", "slash_commands");
  copy(init, "skills", "skills");
  copy(init, "plugins", "plugins");
  copy(init, "mcp_servers", "mcp_servers");
  copy(init, "claude_code_version", "claude_code_version");
  copy(ini, "commands", "commands");
  copy(ini, "agents", "agents");
  copy(ini, "models", "models");
  copy(ini, "output_style", "output_style");
  copy(ini, "available_output_styles", "available_output_styles");
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void finish(self_ptr self, uint64_t id, caf::expected<std::string> outcome) {
  auto& st = self->state;
  auto it = st.probes.find(id);
  if (it == st.probes.end()) return;
  auto p = std::move(it->second);
  st.probes.erase(it);
  st.probe_of_tenant.erase(p.tenant_id);
  if (p.proc) {
    (void)p.proc->write_line(claude::end_session(st.ids.next()));
    p.proc->stop(std::chrono::seconds{2});
  }
  if (p.holds_slot) {
    auto give_back = [admission = st.deps.admission, id] {
      caf::anon_send(admission, atom::release_v, atom::probe_v, id);
    };
    // The slot goes back once the process is reaped, never while it still runs.
    if (p.proc)
      p.proc->when_reaped(std::move(give_back));
    else if (p.starting)
      p.starting->abandon(std::move(give_back));
    else
      give_back();
  }
  if (outcome) st.cache[p.tenant_id] = {*outcome, clock_type::now()};
  for (auto& w : p.waiting) {
    if (outcome)
      w.deliver(*outcome);
    else
      w.deliver(outcome.error());
  }
}

/// Has the launcher start the probe's process off this actor's thread (the sandbox's preparation
/// and the spawn block for milliseconds); `launched` follows.
bool start_probe(self_ptr self, uint64_t id, probe& p) {
  auto& st = self->state;
  const auto& cfg = *st.deps.cfg;
  uint32_t uid = agent_uid_of(cfg.sandbox, p.agent_slot);
  if (cfg.sandbox.strict && uid == 0) return false;
  auto dirs = st.deps.workspace->ensure(p.tenant_id, uid);
  if (!dirs) return false;
  claude::driver_config dc;
  dc.cli_path = st.deps.cfg->agent.cli_path;
  dc.config_dir = dirs->config;
  dc.writable_dir = dirs->root;
  dc.hidden_dir = std::filesystem::path{dirs->root}.parent_path().string();
  dc.home_dir = dirs->home;
  dc.tmp_dir = dirs->tmp;
  dc.tenant_id = p.tenant_id;
  dc.agent_uid = uid;
  if (cfg.agent.anthropic_api_key && uid == 0)
    dc.anthropic_api_key = cfg.agent.anthropic_api_key->reveal();
  if (cfg.agent.anthropic_base_url && uid == 0)
    dc.anthropic_base_url = *cfg.agent.anthropic_base_url;
  claude::query_options opts;
  opts.cwd = dirs->work;
  auto start = std::make_shared<pending_start>();
  p.starting = start;
  st.deps.launcher->start(opts, dc, [start, addr = self->address(), id](cli_start_result r) {
    if (!start->complete(std::move(r))) return;  // the probe ended meanwhile
    if (auto a = caf::actor_cast<caf::actor>(addr)) caf::anon_send(a, atom::launched_v, id);
  });
  return true;
}

/// The probe's process started: serves it and asks for the engine's offer.
bool serve_probe(self_ptr self, uint64_t id, probe& p) {
  auto& st = self->state;
  auto starting = std::exchange(p.starting, nullptr);
  if (!starting) return false;
  auto* started = &starting->result();
  if (!started->cli) {
    log::warn("cannot start the capabilities probe",
              {.component = "capabilities", .error_code = to_string(errc_of(started->error))});
    return false;
  }
  auto addr = self->address();
  claude::process_callbacks cb;
  cb.on_line = [addr, id](std::string line) {
    if (auto a = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(a, atom::line_v, id, std::move(line));
  };
  cb.on_exit = [addr, id](const claude::exit_info&) {
    if (auto a = caf::actor_cast<caf::actor>(addr)) caf::anon_send(a, atom::timeout_v, id);
  };
  auto proc = started->cli->serve(std::move(cb));
  if (!proc) return false;
  p.proc = std::move(*proc);
  p.init_request_id = st.ids.next();
  auto ini = claude::initialize(p.init_request_id, "", "");
  return ini && !p.proc->write_line(std::move(*ini));
}

void on_probe_line(self_ptr self, uint64_t id, std::string line) {
  auto& st = self->state;
  auto it = st.probes.find(id);
  if (it == st.probes.end()) return;
  auto& p = it->second;
  auto msg = claude::classify(std::move(line));
  if (msg.kind == claude::message_kind::control_response && msg.request_id == p.init_request_id) {
    rapidjson::Document d;
    if (json::parse_untrusted_object(msg.raw, d) && d.HasMember("response") &&
        d["response"].IsObject() && d["response"].HasMember("response"))
      p.initialize_json = json::to_string(d["response"]["response"]);
    // No model call: the message is only appended, yet the CLI reports its `init`.
    (void)p.proc->write_line(R"({"type":"user","message":{"role":"user","content":"capabilities"},)"
                             R"("parent_tool_use_id":null,"session_id":"","shouldQuery":false})");
  } else if (msg.kind == claude::message_kind::system_init) {
    finish(self, id, combine(p.initialize_json, msg.raw));
  }
}

/// Starts probe `id` (its slot granted) and arms its deadline.
void launch(self_ptr self, uint64_t id) {
  auto it = self->state.probes.find(id);
  if (it == self->state.probes.end()) return;
  if (!start_probe(self, id, it->second)) {
    finish(self, id, make_error(errc::unavailable, "the engine could not start"));
    return;
  }
  self->delayed_send(self, self->state.deps.deadline, atom::timeout_v, id);
}

capabilities_actor::behavior_type capabilities(self_ptr self, capabilities_deps deps) {
  self->state.deps = std::move(deps);
  return {
      [=](atom::find, std::string& tenant_id, int64_t agent_slot) -> caf::result<std::string> {
        auto& st = self->state;
        if (auto c = st.cache.find(tenant_id);
            c != st.cache.end() && clock_type::now() - c->second.at < st.deps.ttl)
          return c->second.json;
        auto rp = self->make_response_promise<std::string>();
        if (auto running = st.probe_of_tenant.find(tenant_id);
            running != st.probe_of_tenant.end()) {
          st.probes[running->second].waiting.push_back(rp);
          return rp;
        }
        auto id = st.next_id++;
        auto& p = st.probes[id];
        p.tenant_id = tenant_id;
        p.agent_slot = agent_slot;
        p.waiting.push_back(rp);
        st.probe_of_tenant[tenant_id] = id;
        if (!st.deps.admission) {
          launch(self, id);
          return rp;
        }
        // A probe is an agent process like any other: it takes a slot of the budget (and of
        // the tenant's share) first.
        self->request(st.deps.admission, st.deps.admission_wait + std::chrono::seconds{2},
                      atom::acquire_v, atom::probe_v, id, tenant_id)
            .then(
                [=](bool) {
                  auto it = self->state.probes.find(id);
                  if (it == self->state.probes.end()) {
                    self->send(self->state.deps.admission, atom::release_v, atom::probe_v, id);
                    return;
                  }
                  it->second.holds_slot = true;
                  launch(self, id);
                },
                [=](caf::error& e) { finish(self, id, std::move(e)); });
        return rp;
      },
      [=](atom::line, uint64_t id, std::string& line) { on_probe_line(self, id, std::move(line)); },
      [=](atom::line, uint64_t id, std::vector<std::string>& lines) {
        for (auto& line : lines) on_probe_line(self, id, std::move(line));
      },
      [=](atom::timeout, uint64_t id) {
        finish(self, id, make_error(errc::unavailable, "the engine did not answer"));
      },
      [=](atom::launched, uint64_t id) {
        auto it = self->state.probes.find(id);
        if (it == self->state.probes.end()) return;  // ended meanwhile: the start is dropped
        if (!serve_probe(self, id, it->second))
          finish(self, id, make_error(errc::unavailable, "the engine could not start"));
      },
  };
}

}  // namespace

capabilities_actor spawn_capabilities(caf::actor_system& sys, capabilities_deps deps) {
  return sys.spawn(capabilities, deps);
}

}  // namespace caa
