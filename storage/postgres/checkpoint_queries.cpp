#include "storage/postgres/checkpoint_queries.hpp"

#include "config/errc.hpp"
#include "storage/postgres/pg_text.hpp"
#include "storage/postgres/statements.hpp"

namespace caa::storage {

db_query make_checkpoint_mark_query(std::string_view tenant_id, std::string_view id,
                                    std::string_view prompt_uuid) {
  return db_query{std::string{stmt::checkpoint_mark},
                  {uuid_param(tenant_id), uuid_param(id), uuid_param(prompt_uuid)}};
}

db_query make_checkpoint_files_query(std::string_view tenant_id, std::string_view id,
                                     std::string_view prompt_uuid, std::string_view files_json) {
  return db_query{
      std::string{stmt::checkpoint_files},
      {uuid_param(tenant_id), uuid_param(id), uuid_param(prompt_uuid), jsonb_safe(files_json)}};
}

db_query make_checkpoint_list_query(std::string_view tenant_id, std::string_view id,
                                    const std::optional<std::string>& prompt_uuid) {
  db_value which = prompt_uuid ? uuid_param(*prompt_uuid) : db_value{caf::none};
  return db_query{std::string{stmt::checkpoint_list},
                  {uuid_param(tenant_id), uuid_param(id), std::move(which)}};
}

caf::expected<std::vector<checkpoint_record>> parse_checkpoints(const db_result& r) {
  std::vector<checkpoint_record> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    if (row.size() != 4 || !row[0] || !row[2] || !row[3])
      return make_error(errc::internal, "checkpoint row shape");
    auto turn = to_int64(row[1]);
    if (!turn) return turn.error();
    out.push_back({*row[0], static_cast<int>(*turn), *row[2], *row[3]});
  }
  return out;
}

}  // namespace caa::storage
