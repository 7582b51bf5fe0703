#include "actors/session_impl.hpp"
#include "config/json_parse.hpp"
#include "transport/claude/result_figures.hpp"

#include "actors/cli_start.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/postgres/event_queries.hpp"
#include "storage/postgres/session_queries.hpp"
#include "transport/json/api_events.hpp"
#include "transport/json/json.hpp"

#include <caf/all.hpp>

#include <rapidjson/document.h>

namespace caa::detail {

namespace {

using namespace std::chrono_literals;

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
  auto& next = st.transcript.lines[subpath];
  auto q =
      storage::make_append_transcript_query(st.who.id, subpath, static_cast<uint64_t>(next), lines);
  next += static_cast<int64_t>(lines.size());
  if (!q) return;
  request_write(self, std::move(*q), [self](const caf::error& e) {
    if (e)
      log::warn("transcript write failed", {.component = "session",
                                            .session_id = self->state.who.id,
                                            .error_code = to_string(errc_of(e))});
  });
}

/// Keeps the cost, usage and model of this turn's result for the turn row (validated: the line
/// is the tenant's input).
void remember_result(session_turn& turn, const std::string& data) {
  auto figures = claude::read_result_figures(data);
  if (figures.cost_usd) turn.cost_usd = *figures.cost_usd;
  if (figures.usage) turn.usage_json = std::move(*figures.usage);
  if (figures.model) turn.model = std::move(*figures.model);
}

}  // namespace

void spawn_process(session_self self, const turn_spec& spec) {
  auto& st = self->state;
  auto opts = session_spawn_options(st.who, spec);
  auto budget = process_budget_for(st, spec, 0);
  opts.max_budget_usd = budget.usd;
  auto gen = ++st.cli.gen;
  auto route = std::make_shared<cli_route>();
  route->set(self->address(), gen);
  st.turn.work_root = work_root_of(spec);
  auto ticket =
      start_cli_for(*st.deps.launcher, opts, spec, std::move(route), register_hooks(self, spec),
                    st.cli.request_ids.next(), self->address(), gen);
  st.cli.launching =
      cli_launch{gen, std::move(ticket), spec.options_json, budget.usd, budget.is_cap};
}

void on_launched(session_self self, uint64_t gen) {
  auto& st = self->state;
  if (!st.cli.launching || st.cli.launching->gen != gen) return;  // forgotten: killed
  auto launch = std::move(*st.cli.launching);
  st.cli.launching.reset();
  auto proc = launch.ticket.serve();
  if (proc && !st.turn.waiting) {
    // Nothing wants it any more: it retires, and its exit gives the slot back.
    proc->kill();
    st.cli.retiring[gen] = std::move(proc);
    return;
  }
  if (!proc) {
    launch_failed(self);
    return;
  }
  st.cli.proc = std::move(proc);
  st.cli.proc_options_json = std::move(launch.options_json);
  st.cli.bound_by(launch.budget_usd, launch.budget_is_cap);
  st.mapper.process_cost_usd = 0;
  st.cli.starting = true;
  log::info("agent CLI started",
            {.component = "session", .session_id = st.who.id, .pid = uint64_t(st.cli.proc->pid())});
  st.turn.take_waiting().ready();
}

void adopt_process(session_self self, const warm_process& warm) {
  auto& st = self->state;
  auto gen = ++st.cli.gen;
  warm.route->set(self->address(), gen);
  st.cli.proc = warm.proc;
  st.cli.holds_slot = true;  // the pool's slot became this session's (admission was told)
  st.cli.proc_options_json = warm.spec->options_json;
  st.cli.bound_by(warm.spec->options.max_budget_usd, false);
  st.mapper.process_cost_usd = 0;
  st.turn.work_root = work_root_of(*warm.spec);
  (void)register_hooks(self, *warm.spec);
  log::info("agent CLI taken from the warm pool",
            {.component = "session", .session_id = st.who.id, .pid = uint64_t(st.cli.proc->pid())});
}

void start_over(session_self self) {
  auto& st = self->state;
  if (!st.cli.starting) return;
  st.cli.starting = false;
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
  if (st.phase != session_phase::in_turn)
    return;  // stray output between turns carries nothing for clients
  bool is_result = msg.kind == message_kind::result;
  for (auto& ev : map_cli_message(msg, st.mapper)) {
    if (ev.name == "result") remember_result(st.turn, ev.data);
    emit(self, std::move(ev));
  }
  if (!is_result) return;
  if (msg.subtype == "error_max_budget_usd") {
    // The CLI fails every later turn of this process at once: the next turn gets a new one.
    st.cli.proc_budget_hit = true;
    if (st.cli.proc_budget_is_cap && st.turn.hard_cap) {
      const auto& cap = *st.turn.hard_cap;
      emit(self, budget_reached_event(cap.cap, cap.limit_usd, cap.spent_usd + st.turn.cost_usd,
                                      cap.resets_at));
      finish_turn(self, "interrupted");
      return;
    }
  }
  finish_turn(self, st.turn.interrupt_requested ? "interrupted" : "completed");
}

void on_lines(session_self self, uint64_t gen, std::vector<std::string>& lines) {
  auto& st = self->state;
  st.holding_delivery = true;
  for (auto& line : lines) {
    if (gen != st.cli.gen) break;
    on_line(self, std::move(line));
  }
  st.holding_delivery = false;
  if (std::exchange(st.delivery_held, false)) deliver(self);
}

namespace {

/// The current process ended: forget it and what it was asked; end its turn.
void on_current_exit(session_self self, int32_t code, const std::string& cap) {
  auto& st = self->state;
  st.cli.proc.reset();
  st.requests.pending.clear();
  for (auto& [id, reply] : std::exchange(st.requests.awaiting, {}))
    reply(false, "the agent process ended");
  if (!st.turn.waiting) release_slot(self);
  log::info(
      "agent CLI ended",
      {.component = "session", .session_id = st.who.id, .count = uint64_t(code < 0 ? 0 : code)});
  if (st.phase == session_phase::in_turn) {
    bool interrupted = st.turn.interrupt_requested;
    if (!interrupted && !cap.empty())
      emit(self,
           error_event("AGENT_LIMIT",
                       "The agent's processes were stopped by the sandbox's " + cap + " cap (" +
                           (cap == "memory" ? "AGENT_MEMORY_MAX" : "AGENT_PIDS_MAX") +
                           "); the session stays usable."));
    else if (!interrupted)
      emit(self, error_event("AGENT_ERROR", "The agent process ended unexpectedly."));
    finish_turn(self, interrupted ? "interrupted" : "error");
  }
  if (st.status != session_status::error) set_status(self, session_status::hibernated);
}

}  // namespace

void on_exit(session_self self, uint64_t gen, int32_t code, const std::string& cap) {
  auto& st = self->state;
  if (gen == st.cli.gen) start_over(self);
  if (st.cli.retiring.erase(gen) > 0) {
    // A hibernated process is gone: its slot serves a waiting turn, or goes back.
    if (st.turn.waiting && st.cli.retiring.empty())
      proceed(self);
    else if (!st.cli.proc && st.cli.retiring.empty())
      release_slot(self);
    return;
  }
  if (gen == st.cli.gen) on_current_exit(self, code, cap);
}

void stop_process(session_self self) {
  auto& st = self->state;
  if (!st.cli.proc) return;
  (void)st.cli.proc->write_line(claude::end_session(st.cli.request_ids.next()));
  st.cli.proc->stop(std::chrono::duration_cast<std::chrono::milliseconds>(st.deps.stop_grace));
  st.cli.retire_current();
}

}  // namespace caa::detail
