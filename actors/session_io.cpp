#include "actors/session_impl.hpp"
#include "config/json_parse.hpp"
#include "transport/claude/result_figures.hpp"

#include "actors/cli_start.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/postgres/event_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/json/json.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <caf/all.hpp>

#include <rapidjson/document.h>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;

/// The options of this spawn: the turn's, plus how the CLI finds (or forks) its session.
claude::query_options spawn_options(const session_state& st, const turn_spec& spec) {
  auto opts = spec.options;
  opts.session_mirror = true;  // transcript lines go to PostgreSQL too
  opts.session_id.reset();
  opts.resume.reset();
  opts.fork_session = false;
  opts.resume_session_at.reset();
  if (st.who.cli_session_started) {
    opts.resume = st.who.id;
  } else if (st.who.parent_session_id) {
    opts.resume = *st.who.parent_session_id;
    opts.fork_session = true;
    opts.resume_session_at = st.who.fork_at_message;
    opts.session_id = st.who.id;  // the fork's CLI id is our id (verified with 2.1.197)
  } else {
    opts.session_id = st.who.id;
  }
  // Tools that need approval are asked of the client (a `permission_request`), except where
  // the mode decides alone: bypass runs everything, dontAsk denies what is not pre-approved.
  auto mode = opts.permission_mode.value_or("default");
  opts.permission_prompt_stdio = mode != "bypassPermissions" && mode != "dontAsk";
  return opts;
}

/// Stores the entries of a `transcript_mirror` frame (fire and forget, in order per session).
void store_transcript(session_self self, const std::string& raw) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(raw, doc) || !doc.HasMember("entries") ||
      !doc["entries"].IsArray())
    return;
  std::string subpath;
  if (doc.HasMember("filePath") && doc["filePath"].IsString()) {
    std::string path = doc["filePath"].GetString();
    auto pos = path.find("/subagents/");
    if (pos != std::string::npos)
      subpath = path.substr(pos + 1, path.size() - pos - 1 - 6);  // "subagents/agent-x"
  }
  std::vector<std::string> lines;
  for (auto& e : doc["entries"].GetArray()) lines.push_back(json::to_string(e));
  if (lines.empty()) return;
  auto& st = self->state;
  auto& next = st.transcript_lines[subpath];
  auto q =
      storage::make_append_transcript_query(st.who.id, subpath, static_cast<uint64_t>(next), lines);
  next += static_cast<int64_t>(lines.size());
  if (!q) return;
  self->request(st.deps.pg, st.deps.db_timeout, std::move(*q))
      .then([](storage::db_result&) {},
            [=](caf::error& e) {
              log::warn("transcript write failed", {.component = "session",
                                                    .session_id = self->state.who.id,
                                                    .error_code = to_string(errc_of(e))});
            });
}

/// Keeps the cost, usage and model of this turn's result for the turn row (validated: the line
/// is the tenant's input).
void remember_result(session_state& st, const std::string& data) {
  auto figures = claude::read_result_figures(data);
  if (figures.cost_usd)
    st.turn_cost_usd = *figures.cost_usd;
  if (figures.usage)
    st.turn_usage_json = std::move(*figures.usage);
  if (figures.model)
    st.turn_model = std::move(*figures.model);
}

}  // namespace

bool spawn_process(session_self self, const turn_spec& spec) {
  auto& st = self->state;
  auto opts = spawn_options(st, spec);
  auto gen = ++st.gen;
  auto route = std::make_shared<cli_route>();
  route->set(self->address(), gen);
  st.work_root = work_root_of(spec);
  auto hooks = register_hooks(self, spec);
  auto proc = caa::start_cli(*st.deps.io, opts, spec, route, hooks, st.request_ids.next());
  if (!proc) return false;
  st.proc = std::move(proc);
  st.proc_options_json = spec.options_json;
  st.mapper.process_cost_usd = 0;
  st.starting = true;
  log::info("agent CLI started",
            {.component = "session", .session_id = st.who.id, .pid = uint64_t(st.proc->pid())});
  return true;
}

void adopt_process(session_self self, const warm_process& warm) {
  auto& st = self->state;
  auto gen = ++st.gen;
  warm.route->set(self->address(), gen);
  st.proc = warm.proc;
  st.holds_slot = true;  // the pool's slot became this session's (admission was told)
  st.proc_options_json = warm.spec->options_json;
  st.mapper.process_cost_usd = 0;
  st.work_root = work_root_of(*warm.spec);
  (void)register_hooks(self, *warm.spec);
  log::info("agent CLI taken from the warm pool",
            {.component = "session", .session_id = st.who.id, .pid = uint64_t(st.proc->pid())});
}

void start_over(session_self self) {
  auto& st = self->state;
  if (!st.starting) return;
  st.starting = false;
  self->send(st.deps.admission, atom::ready_v, session_actor{self});
}

void on_line(session_self self, std::string line) {
  auto& st = self->state;
  start_over(self);
  auto msg = claude::classify(std::move(line));
  using claude::message_kind;
  switch (msg.kind) {
    case message_kind::transcript_mirror:
      store_transcript(self, msg.raw);
      return;
    case message_kind::control_request:
      on_cli_request(self, msg);
      return;
    case message_kind::control_response:
    case message_kind::control_cancel:
      on_cli_control_reply(self, msg);
      return;
    case message_kind::assistant:
      note_checkpoint_files(self, msg);
      break;
    case message_kind::system_init:
      st.who.cli_session_started = true;
      break;
    default:
      break;
  }
  if (!st.in_turn) return;  // stray output between turns carries nothing for clients
  bool is_result = msg.kind == message_kind::result;
  for (auto& ev : map_cli_message(msg, st.mapper)) {
    if (ev.name == "result") remember_result(st, ev.data);
    emit(self, std::move(ev));
  }
  if (is_result) {
    st.turn_saw_result = true;
    finish_turn(self, st.interrupt_requested ? "interrupted" : "completed");
  }
}

void on_exit(session_self self, uint64_t gen, int32_t code, const std::string& cap) {
  auto& st = self->state;
  if (gen == st.gen) start_over(self);
  if (st.retiring.erase(gen) > 0) {
    // A hibernated process is gone: its slot serves a waiting turn, or goes back.
    if (st.waiting && st.retiring.empty()) {
      proceed(self);
    } else if (!st.proc && st.retiring.empty() && st.holds_slot) {
      st.holds_slot = false;
      self->send(st.deps.admission, atom::release_v, session_actor{self});
    }
    return;
  }
  if (gen != st.gen) return;
  st.proc.reset();
  st.pending.clear();
  for (auto& [id, reply] : std::exchange(st.awaiting, {})) reply(false, "the agent process ended");
  if (st.holds_slot && !st.waiting) {
    st.holds_slot = false;
    self->send(st.deps.admission, atom::release_v, session_actor{self});
  }
  log::info(
      "agent CLI ended",
      {.component = "session", .session_id = st.who.id, .count = uint64_t(code < 0 ? 0 : code)});
  if (st.in_turn) {
    if (!st.interrupt_requested && !cap.empty())
      emit(self,
           error_event("AGENT_LIMIT",
                       "The agent's processes were stopped by the sandbox's " + cap + " cap (" +
                           (cap == "memory" ? "AGENT_MEMORY_MAX" : "AGENT_PIDS_MAX") +
                           "); the session stays usable."));
    else if (!st.interrupt_requested)
      emit(self, error_event("AGENT_ERROR", "The agent process ended unexpectedly."));
    finish_turn(self, st.interrupt_requested ? "interrupted" : "error");
  }
  if (st.status != session_status::error) set_status(self, session_status::hibernated);
}
void stop_process(session_self self) {
  auto& st = self->state;
  if (!st.proc) return;
  (void)st.proc->write_line(claude::end_session(st.request_ids.next()));
  st.proc->stop(std::chrono::duration_cast<std::chrono::milliseconds>(st.deps.stop_grace));
  st.retiring[st.gen] = std::move(st.proc);
  st.proc.reset();
}
}  // namespace caa::detail

namespace caa {

std::shared_ptr<claude::agent_process> start_cli(agent_io& io, const claude::query_options& opts,
                                                 const turn_spec& spec,
                                                 std::shared_ptr<cli_route> route,
                                                 std::string_view hooks_json,
                                                 std::string_view request_id) {
  auto sspec = claude::make_spawn_spec(opts, spec.driver);
  if (auto* box = io.sandbox()) {
    if (auto err = box->prepare(sspec, spec.driver)) {
      log::error("cannot prepare the agent sandbox",
                 {.component = "session", .error_code = to_string(errc_of(err))});
      return nullptr;
    }
  }
  claude::process_callbacks cb;
  cb.on_line = [route](std::string line) {
    auto [addr, gen] = route->get();
    if (auto a = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(a, atom::line_v, gen, std::move(line));
  };
  cb.on_exit = [route](claude::exit_info info) {
    auto [addr, gen] = route->get();
    if (auto a = caf::actor_cast<caf::actor>(addr)) {
      int32_t code = info.exit_code >= 0 ? info.exit_code : 128 + info.signal;
      if (code != 0 && !info.stderr_tail.empty())  // the tenant's output: debug only
        log::debug("agent CLI stderr", {.component = "session", .detail = info.stderr_tail});
      caf::anon_send(a, atom::exited_v, gen, code, std::move(info.cap_hit));
    }
  };
  cb.on_oversized = [](std::size_t) {
    log::warn("agent output line over the limit", {.component = "session"});
  };
  // Spawned on a CAF worker thread: it lives as long as the actor system, which is what
  // PR_SET_PDEATHSIG and bwrap's --die-with-parent need.
  auto p = claude::agent_process::spawn(io.context(), sspec, std::move(cb));
  if (!p) {
    log::error("cannot start the agent CLI",
               {.component = "session", .error_code = to_string(errc_of(p.error()))});
    return nullptr;
  }
  auto proc = std::make_shared<claude::agent_process>(std::move(*p));
  auto init = claude::initialize(request_id, hooks_json, claude::agents_json(opts.agents));
  if (!init || proc->write_line(std::move(*init))) {
    proc->kill();
    return nullptr;
  }
  return proc;
}

claude::query_options fresh_session_options(const turn_spec& spec, const std::string& id) {
  detail::session_state blank;
  blank.who.id = id;
  return detail::spawn_options(blank, spec);
}

}  // namespace caa
