// File checkpoints and rewind (CLI-PROTOCOL.md §7): a checkpointed turn records the files its
// edit tools touched; a rewind asks the CLI's `rewind_files` and checks with a second dry run
// that the files really were restored (the CLI answers success when its backups are gone).

#include "actors/session_control_util.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/json/json.hpp"

#include <caf/all.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "config/error_values.hpp"
#include "storage/postgres/checkpoint_queries.hpp"

#include <algorithm>

namespace caa::detail {

using rapidjson::Document;
using rapidjson::Value;

namespace {

using namespace std::chrono_literals;

/// Tools whose calls change files (the files of a checkpoint).
constexpr std::string_view edit_tools[] = {"Write", "Edit", "MultiEdit", "NotebookEdit"};

}  // namespace

void note_checkpoint_files(session_self self, const claude::cli_message& msg) {
  auto& st = self->state;
  if (!st.turn.checkpointed || msg.kind != claude::message_kind::assistant ||
      msg.raw.find("\"tool_use\"") == std::string::npos)
    return;
  Document doc;
  if (!parse_object(msg.raw, doc)) return;
  auto* message = member(doc, "message");
  auto* content = message != nullptr ? member(*message, "content") : nullptr;
  if (content == nullptr || !content->IsArray()) return;
  for (auto& block : content->GetArray()) {
    if (string_member(block, "type") != "tool_use") continue;
    auto name = string_member(block, "name");
    if (std::find(std::begin(edit_tools), std::end(edit_tools), name) == std::end(edit_tools))
      continue;
    auto* input = member(block, "input");
    if (input == nullptr) continue;
    auto path = string_member(*input, "file_path");
    if (path.empty()) path = string_member(*input, "notebook_path");
    auto prefix = st.turn.work_root + "/";
    if (path.rfind(prefix, 0) == 0) st.turn.files.insert(path.substr(prefix.size()));
  }
}

void end_turn_control(session_self self, storage::db_batch& batch) {
  auto& st = self->state;
  st.requests.pending.clear();  // the CLI cancels what it asked when its turn ends
  if (st.turn.checkpointed && !st.turn.files.empty()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartArray();
    for (auto& f : st.turn.files) w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
    w.EndArray();
    batch.queries.push_back(storage::make_checkpoint_files_query(st.who.tenant_id, st.who.id,
                                                                 st.turn.uuid, buf.GetString()));
  }
  st.turn.checkpointed = false;
}

namespace {

/// The rewind reply: the CLI's dry-run payload with paths relative to the tenant workspace.
std::string rewind_reply(const session_state& st, const std::string& checkpoint_id, bool dry_run,
                         const Value& payload) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("checkpoint_id", Value(checkpoint_id.c_str(), a), a);
  out.AddMember("dry_run", dry_run, a);
  Value files(rapidjson::kArrayType);
  if (auto* changed = member(payload, "filesChanged"); changed != nullptr && changed->IsArray())
    for (auto& f : changed->GetArray()) {
      if (!f.IsString()) continue;
      std::string path = f.GetString();
      auto prefix = st.turn.work_root + "/";
      if (path.rfind(prefix, 0) == 0)
        path.erase(0, prefix.size());
      else if (!path.empty() && path.front() == '/')
        continue;  // never a server path
      files.PushBack(Value(path.c_str(), a), a);
    }
  out.AddMember("files_changed", files, a);
  auto count = [&](const char* name) {
    auto* v = member(payload, name);
    return v != nullptr && v->IsInt64() ? v->GetInt64() : int64_t{0};
  };
  out.AddMember("insertions", count("insertions"), a);
  out.AddMember("deletions", count("deletions"), a);
  return json::to_string(out);
}

/// The number of files the CLI would still change to reach the checkpoint.
std::size_t files_to_change(const Value& payload) {
  auto* changed = member(payload, "filesChanged");
  return changed != nullptr && changed->IsArray() ? changed->Size() : 0;
}

/// The rewind is over (either way): the session is idle again.
void rewind_done(session_self self) {
  auto& st = self->state;
  st.phase = session_phase::idle;
  if (st.cli.proc) {
    set_status(self, session_status::idle);
    self->send(st.deps.admission, atom::idle_v, session_actor{self});
  }
}

/// Dry run, then (unless `dry_run`) the rewind and a second dry run that must find nothing left
/// to change: the CLI answers success even when its backups are gone and nothing was restored.
void do_rewind(session_self self, const std::string& checkpoint, bool dry_run,
               caf::typed_response_promise<std::string> rp) {
  auto& st = self->state;
  auto fail = [self, rp](std::string why) mutable {
    log::warn("rewind failed",
              {.component = "session", .session_id = self->state.who.id, .error_code = why});
    rewind_done(self);
    rp.deliver(make_error(errc::agent_error, std::move(why)));
  };
  auto id = st.cli.request_ids.next();
  send_control(self, id, claude::rewind_files(id, checkpoint, true),
               [self, checkpoint, dry_run, rp, fail](bool ok, const std::string& payload) mutable {
                 Document plan;
                 if (!ok || !parse_object(payload, plan)) {
                   fail("the agent refused the rewind");
                   return;
                 }
                 auto* can = member(plan, "canRewind");
                 if (can == nullptr || !can->IsBool() || !can->GetBool()) {
                   fail("the agent cannot rewind to this checkpoint");
                   return;
                 }
                 auto reply = rewind_reply(self->state, checkpoint, dry_run, plan);
                 if (dry_run) {
                   rewind_done(self);
                   rp.deliver(std::move(reply));
                   return;
                 }
                 auto& s = self->state;
                 auto id2 = s.cli.request_ids.next();
                 send_control(
                     self, id2, claude::rewind_files(id2, checkpoint, false),
                     [self, checkpoint, rp, fail, reply](bool ok2, const std::string&) mutable {
                       if (!ok2) {
                         fail("the agent refused the rewind");
                         return;
                       }
                       auto& s2 = self->state;
                       auto id3 = s2.cli.request_ids.next();
                       send_control(
                           self, id3, claude::rewind_files(id3, checkpoint, true),
                           [self, rp, fail, reply](bool ok3, const std::string& check) mutable {
                             Document left;
                             if (!ok3 || !parse_object(check, left) || files_to_change(left) > 0) {
                               fail("the files were not restored");
                               return;
                             }
                             rewind_done(self);
                             rp.deliver(std::move(reply));
                           });
                     });
               });
}

}  // namespace

caf::result<std::string> on_rewind(session_self self, std::string checkpoint_id, bool dry_run,
                                   const turn_spec_ptr& spec) {
  auto& st = self->state;
  if (st.busy())
    return caa::with_retry_after(make_error(errc::session_locked, "a turn is running"), 1s);
  if (!spec) return make_error(errc::internal, "rewind without options");
  auto rp = self->make_response_promise<std::string>();
  st.phase = session_phase::rewinding;
  st.turn.work_root = work_root_of(*spec);
  self->request(st.deps.pg, st.deps.db_timeout,
                storage::make_checkpoint_list_query(st.who.tenant_id, st.who.id, checkpoint_id))
      .then(
          [=](storage::db_result& r) mutable {
            auto found = storage::parse_checkpoints(r);
            if (!found || found->empty()) {
              self->state.phase = session_phase::idle;
              rp.deliver(make_error(errc::checkpoint_not_found, "no such checkpoint"));
              return;
            }
            auto& s = self->state;
            auto ready = [=]() mutable { do_rewind(self, checkpoint_id, dry_run, rp); };
            if (s.cli.proc) {
              ready();
              return;
            }
            // Hibernated: a process (resumed with the stored options) does the rewind.
            s.turn.waiting_spec = spec;
            s.turn.waiting = waiting_work{ready, [=](caf::error e) mutable {
                                            self->state.phase = session_phase::idle;
                                            rp.deliver(std::move(e));
                                          }};
            proceed(self);
          },
          [=](caf::error& e) mutable {
            self->state.phase = session_phase::idle;
            rp.deliver(std::move(e));
          });
  return rp;
}

}  // namespace caa::detail
