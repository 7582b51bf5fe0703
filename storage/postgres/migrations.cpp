#include "storage/postgres/migrations.hpp"

#include "config/errc.hpp"
#include "storage/postgres/conninfo.hpp"

#include <pqxx/pqxx>

namespace caa::storage {

namespace {

/// The advisory lock key that serialises migrations across nodes ("caa_mig" in ASCII).
constexpr long long migration_lock_key = 0x6361615f6d6967LL;

constexpr const char* create_table_sql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())";

/// Applies `m` unless recorded; returns whether it ran. Each call is one transaction.
bool apply_one(pqxx::connection& conn, const migration& m) {
  pqxx::work tx{conn, "caa_migration"};
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
  tx.exec(create_table_sql);
  auto seen = tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
  if (!seen.empty()) return false;  // the destructor rolls back the empty transaction
  tx.exec(std::string{m.sql});
  tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                 std::string{m.name});
  tx.commit();
  return true;
}

int current_version(pqxx::connection& conn) {
  pqxx::work tx{conn, "caa_migration_version"};
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
  tx.exec(create_table_sql);
  auto r = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  auto version = r[0][0].as<int>();
  tx.commit();
  return version;
}

}  // namespace

caf::expected<migration_report> run_migrations(const std::string& database_url,
                                               std::span<const migration> migrations,
                                               std::chrono::seconds connect_timeout) {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(
        make_conninfo(database_url, connect_timeout, std::chrono::milliseconds{0}));
  } catch (const std::exception&) {
    return make_error(errc::unavailable, "migrations: cannot connect to postgres");
  }
  migration_report report;
  const migration* current = nullptr;
  try {
    for (const auto& m : migrations) {
      current = &m;
      if (apply_one(*conn, m)) report.applied.push_back(m.version);
    }
    current = nullptr;
    report.schema_version = current_version(*conn);
  } catch (const pqxx::broken_connection&) {
    return make_error(errc::unavailable, "migrations: connection lost");
  } catch (const pqxx::sql_error& e) {
    return make_error(errc::internal, "migration " + std::string{current ? current->name : "?"} +
                                          " failed, sqlstate " + e.sqlstate() + ": " + e.what());
  } catch (const std::exception& e) {
    return make_error(errc::internal, "migration " + std::string{current ? current->name : "?"} +
                                          " failed: " + e.what());
  }
  return report;
}

caf::expected<migration_report> run_migrations(const std::string& database_url,
                                               std::chrono::seconds connect_timeout) {
  return run_migrations(database_url, embedded_migrations(), connect_timeout);
}

}  // namespace caa::storage
