#pragma once

#include "storage/postgres/key_repository.hpp"
#include "transport/api/auth.hpp"
#include "transport/http/router.hpp"

#include <memory>

namespace caa::api {

/// Adds the admin routes of API keys: `POST /api/v1/keys` (201, the key shown once),
/// `GET /api/v1/keys` (prefix only, paged) and `DELETE /api/v1/keys/{id}` (204).
/// The `admin` scope is the operator's: admin keys exist only in tenant `default` (asking for one
/// in another tenant is a 422), and an admin key manages the keys of every tenant.
void add_key_routes(http::router& r, std::shared_ptr<storage::key_repository> keys,
                    std::shared_ptr<auth::key_authenticator> auth);

}  // namespace caa::api
