#pragma once

// File checkpoints (API.md `GET .../checkpoints`, `POST .../rewind`): a turn run with file
// checkpointing is a checkpoint whose id is its prompt uuid. Rows live in `turns` (migration
// 003); every statement matches the session's tenant.

#include "storage/types.hpp"

#include <caf/expected.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// One checkpoint of a session.
struct checkpoint_record {
  std::string id;          ///< the prompt uuid (the CLI's checkpoint id)
  int turn = 0;            ///< the turn number
  std::string created_at;  ///< RFC 3339, UTC
  std::string files_json;  ///< JSON array of relative paths the turn modified
};

/// Marks the turn of `prompt_uuid` as a checkpoint; append it to the turn-started batch.
db_query make_checkpoint_mark_query(std::string_view tenant_id, std::string_view id,
                                    std::string_view prompt_uuid);

/// Records the files (a JSON array of strings) the checkpointed turn modified.
db_query make_checkpoint_files_query(std::string_view tenant_id, std::string_view id,
                                     std::string_view prompt_uuid, std::string_view files_json);

/// The session's checkpoints, oldest first; only `prompt_uuid` when given. Reply:
/// `parse_checkpoints`.
db_query make_checkpoint_list_query(std::string_view tenant_id, std::string_view id,
                                    const std::optional<std::string>& prompt_uuid = std::nullopt);

/// Reads the rows of `make_checkpoint_list_query`. Errors: internal (unexpected shape).
caf::expected<std::vector<checkpoint_record>> parse_checkpoints(const db_result& r);

}  // namespace caa::storage
