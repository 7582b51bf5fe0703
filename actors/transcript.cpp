#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/postgres/event_queries.hpp"
#include "transport/sandbox/tenant_files.hpp"

#include <caf/all.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace caa::detail {

namespace {

/// The CLI's project directory name of `cwd`: every non-alphanumeric character becomes '-'
/// (CLI-PROTOCOL §6; names over 200 characters get a hash suffix we do not reproduce).
std::string encode_project(const std::string& cwd) {
  std::string out = cwd;
  for (auto& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  return out;
}

/// The transcript file of session `sid` (and `subpath`) relative to `spec`'s config dir.
std::string transcript_rel(const turn_spec& spec, const std::string& sid, const std::string& sub) {
  std::string dir = "projects/" + encode_project(spec.options.cwd) + "/";
  if (sub.empty()) return dir + sid + ".jsonl";
  return dir + sid + "/" + sub + ".jsonl";
}

/// Writes `lines` into the tenant's config tree unless the file exists: confined beneath the
/// config dir, through no symlink, owned by the tenant's sandbox uid.
bool write_missing(const turn_spec& spec, const std::string& rel,
                   const std::vector<const std::string*>& lines) {
  std::string text;
  for (auto* l : lines) text.append(*l).push_back('\n');
  return !sandbox::write_new_file_beneath(spec.driver.config_dir, rel, text, spec.driver.agent_uid);
}

}  // namespace

bool needs_transcript(const session_state& st) {
  return !st.transcript.loaded && (st.who.cli_session_started || st.who.parent_session_id);
}

void restore_transcript(session_self self, const std::function<void()>& then) {
  auto& st = self->state;
  st.transcript.loaded = true;
  bool own = st.who.cli_session_started;
  auto sid = own ? st.who.id : *st.who.parent_session_id;
  self->request(st.deps.pg, st.deps.db_timeout,
                storage::make_read_transcript_query(st.who.tenant_id, sid))
      .then(
          [=](storage::db_result& r) {
            auto& s = self->state;
            auto lines = storage::parse_transcript(r);
            if (lines && s.turn.waiting_spec) {
              std::map<std::string, std::vector<const std::string*>> files;
              for (auto& l : *lines) {
                files[l.subpath].push_back(&l.entry);
                if (own)
                  s.transcript.lines[l.subpath] =
                      std::max<int64_t>(s.transcript.lines[l.subpath], int64_t(l.line_no) + 1);
              }
              for (auto& [sub, entries] : files)
                if (!write_missing(*s.turn.waiting_spec,
                                   transcript_rel(*s.turn.waiting_spec, sid, sub), entries))
                  log::warn("cannot restore a transcript file",
                            {.component = "session", .session_id = s.who.id});
            }
            then();
          },
          [=](caf::error& e) {
            // Without a stored transcript the CLI may still find its own file on disk.
            log::warn("cannot read the stored transcript", {.component = "session",
                                                            .session_id = self->state.who.id,
                                                            .error_code = to_string(errc_of(e))});
            then();
          });
}

}  // namespace caa::detail
