// Pure parts of the storage layer: conninfo, Redis URLs, key request builders and parsers,
// the statement catalogue, the embedded migrations and the reconnect backoff.

#include "config/errc.hpp"
#include "storage/backoff.hpp"
#include "storage/postgres/conninfo.hpp"
#include "storage/postgres/key_queries.hpp"
#include "storage/postgres/migrations.hpp"
#include "storage/postgres/statements.hpp"
#include "storage/redis/redis_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

using namespace caa::storage;
using namespace std::chrono_literals;
using caa::errc;
using caa::errc_of;

TEST(conninfo, adds_timeouts_to_uris_and_keyword_strings) {
  auto uri = make_conninfo("postgresql://u@h:5/db", 2s, 3000ms);
  EXPECT_TRUE(uri.starts_with("postgresql://u@h:5/db?connect_timeout=2&"));
  EXPECT_NE(uri.find("&tcp_user_timeout=3000"), std::string::npos);
  auto with_query = make_conninfo("postgres://h/db?sslmode=disable", 0s, 0ms);
  EXPECT_NE(with_query.find("sslmode=disable&connect_timeout=1&"), std::string::npos);
  auto kv = make_conninfo("host=h dbname=db", 2s, 0ms);
  EXPECT_TRUE(kv.starts_with("host=h dbname=db connect_timeout=2 "));
}

TEST(conninfo, with_database_replaces_the_path) {
  EXPECT_EQ(with_database("postgresql://u@h:5/db", "x"), "postgresql://u@h:5/x");
  EXPECT_EQ(with_database("postgresql://u@h:5", "x"), "postgresql://u@h:5/x");
  EXPECT_EQ(with_database("postgresql://h/db?a=b", "x"), "postgresql://h/x?a=b");
  EXPECT_EQ(with_database("host=h dbname=db", "x"), "host=h dbname=db dbname=x");
}

TEST(statements, names_are_unique_and_known) {
  std::set<std::string_view> names;
  for (const auto& s : statement_catalogue()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_EQ(find_statement(s.name), &s);
  }
  EXPECT_EQ(find_statement("DROP TABLE tenants"), nullptr);
  for (auto name : {stmt::ping, stmt::tenant_ensure, stmt::key_create, stmt::key_list,
                    stmt::key_revoke, stmt::key_find_by_hash, stmt::key_touch,
                    stmt::bootstrap_upsert, stmt::bootstrap_revoke_others})
    EXPECT_NE(find_statement(name), nullptr) << name;
}

// The pool pipelines point reads together, each its own transaction, one after the other in one
// server process: a statement marked as one must write nothing, lock nothing and call nothing
// that does (writes commit alone, so that their fsyncs overlap), and the long reads (lists,
// reports, a session's events or transcript) stay out (they would hold up the others).
TEST(statements, point_reads_are_plain_selects) {
  std::size_t reads = 0;
  for (const auto& s : statement_catalogue()) {
    if (!s.point_read) continue;
    ++reads;
    std::string sql{s.sql};
    std::transform(sql.begin(), sql.end(), sql.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    EXPECT_TRUE(sql.starts_with("SELECT ") || sql.starts_with("WITH ")) << s.name;
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    auto has_word = [&](std::string_view word) {  // not inside a longer name (updated_at)
      for (auto at = sql.find(word); at != std::string::npos; at = sql.find(word, at + 1)) {
        auto end = at + word.size();
        if ((at == 0 || !ident(sql[at - 1])) && (end == sql.size() || !ident(sql[end])))
          return true;
      }
      return false;
    };
    for (auto word : {"INSERT", "UPDATE", "DELETE", "SHARE", "CAA_FENCE", "NEXTVAL", "SETVAL",
                      "PG_ADVISORY_LOCK", "PG_ADVISORY_XACT_LOCK"})
      EXPECT_FALSE(has_word(word)) << s.name << " has " << word;
  }
  EXPECT_GE(reads, 5u);
  EXPECT_TRUE(find_statement(stmt::session_get)->point_read);
  EXPECT_TRUE(find_statement(stmt::ping)->point_read);
  for (auto other : {stmt::events_append, stmt::session_create, stmt::lease_fence, stmt::key_touch,
                     stmt::tenant_ensure, stmt::session_list, stmt::usage_report, stmt::events_read,
                     stmt::transcript_read, stmt::key_list})
    EXPECT_FALSE(find_statement(other)->point_read) << other;
}

TEST(migrations, embedded_in_ascending_order) {
  auto ms = embedded_migrations();
  ASSERT_FALSE(ms.empty());
  EXPECT_EQ(ms[0].version, 1);
  EXPECT_EQ(ms[0].name, "001_tenants_keys");
  EXPECT_NE(ms[0].sql.find("CREATE TABLE api_keys"), std::string_view::npos);
  for (std::size_t i = 1; i < ms.size(); ++i) EXPECT_LT(ms[i - 1].version, ms[i].version);
}

TEST(key_queries, tenant_names) {
  EXPECT_TRUE(valid_tenant_name("default"));
  EXPECT_TRUE(valid_tenant_name("a"));
  EXPECT_TRUE(valid_tenant_name("0-a_b"));
  EXPECT_TRUE(valid_tenant_name(std::string(63, 'a')));
  EXPECT_FALSE(valid_tenant_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_tenant_name(""));
  EXPECT_FALSE(valid_tenant_name("-a"));
  EXPECT_FALSE(valid_tenant_name("A"));
  EXPECT_FALSE(valid_tenant_name("a b"));
  EXPECT_FALSE(valid_tenant_name("a'; DROP TABLE x; --"));
}

TEST(key_queries, create_validates_and_normalises_scopes) {
  auto key = generate_key_material();
  auto q = make_create_key_query("t", {"agent", "admin", "agent"}, "n", key);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->statement_name, stmt::key_create);
  ASSERT_EQ(q->params.size(), 5u);
  EXPECT_EQ(*q->params[2], "admin,agent");
  EXPECT_EQ(*q->params[3], key.hash_hex);
  EXPECT_EQ(*q->params[4], key.prefix);
  for (const auto& p : q->params)
    EXPECT_EQ(p->find(key.plaintext.reveal()), std::string::npos);  // never the key itself
  EXPECT_EQ(errc_of(make_create_key_query("t", {}, "n", key).error()), errc::validation);
  EXPECT_EQ(errc_of(make_create_key_query("t", {"root"}, "n", key).error()), errc::validation);
  EXPECT_EQ(errc_of(make_create_key_query("t", {"agent"}, "", key).error()), errc::validation);
  EXPECT_EQ(errc_of(make_create_key_query("t", {"agent"}, "a\nb", key).error()), errc::validation);
  EXPECT_EQ(errc_of(make_create_key_query("T", {"agent"}, "n", key).error()), errc::validation);
}

TEST(key_queries, malformed_ids_become_null) {
  EXPECT_FALSE(static_cast<bool>(make_revoke_key_query("x").params[0]));
  auto q = make_revoke_key_query("0f8fad5b-d9cb-469f-a165-70867728950e");
  ASSERT_EQ(q.params.size(), 1u);
  EXPECT_TRUE(static_cast<bool>(q.params[0]));
  EXPECT_FALSE(static_cast<bool>(make_touch_last_used_query("'; --").params[0]));
}

TEST(key_queries, list_clamps_the_page) {
  auto q = make_list_keys_query(key_filter{std::nullopt, 5000, 7});
  ASSERT_EQ(q.params.size(), 3u);
  EXPECT_FALSE(static_cast<bool>(q.params[0]));
  EXPECT_EQ(*q.params[1], "100");
  EXPECT_EQ(*q.params[2], "7");
  EXPECT_EQ(*make_list_keys_query(key_filter{"t", 0, 0}).params[1], "1");
}

TEST(key_queries, parse_key_record_reads_the_columns) {
  db_result r;
  r.rows.push_back({std::string{"id"}, std::string{"tid"}, std::string{"acme"}, std::string{"ci"},
                    std::string{"admin,agent"}, std::string{"caa_12345678"},
                    std::string{"2024-01-01T00:00:00.000Z"}, caf::none,
                    std::string{"2024-01-02T00:00:00.000Z"}, std::string{"7"}});
  auto rec = parse_key_record(r);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->tenant_name, "acme");
  EXPECT_EQ(rec->agent_slot, 7);
  EXPECT_EQ(rec->scopes, (std::vector<std::string>{"admin", "agent"}));
  EXPECT_TRUE(rec->has_scope("admin"));
  EXPECT_FALSE(rec->last_used_at);
  EXPECT_TRUE(rec->revoked());
  r.rows[0].back() = caf::none;  // no slot: the tenant cannot run sandboxed agents
  EXPECT_EQ(parse_key_record(r)->agent_slot, -1);
  r.rows[0].pop_back();
  EXPECT_EQ(errc_of(parse_key_record(r).error()), errc::internal);
  EXPECT_FALSE(parse_optional_key(db_result{})->has_value());
}

TEST(key_queries, bootstrap_batch_is_one_transaction_of_two_statements) {
  auto b = make_seed_bootstrap_batch(caa::secret{"bootstrap-secret"});
  ASSERT_TRUE(b);
  ASSERT_EQ(b->queries.size(), 2u);
  EXPECT_EQ(b->queries[0].statement_name, stmt::bootstrap_upsert);
  EXPECT_EQ(b->queries[1].statement_name, stmt::bootstrap_revoke_others);
  EXPECT_EQ(*b->queries[0].params[0], to_hex(sha256("bootstrap-secret")));
  EXPECT_EQ(errc_of(make_seed_bootstrap_batch(caa::secret{""}).error()), errc::validation);
}

TEST(backoff, grows_with_jitter_up_to_the_cap) {
  backoff b{100ms, 2s, 42};
  caf::timespan prev_ceiling = 100ms;
  for (int i = 0; i < 10; ++i) {
    auto d = b.next();
    auto ceiling = std::min<caf::timespan>(100ms * (1 << i), 2s);
    EXPECT_GE(d, ceiling / 2) << i;
    EXPECT_LE(d, ceiling) << i;
    prev_ceiling = ceiling;
  }
  EXPECT_EQ(prev_ceiling, 2s);
  b.reset();
  EXPECT_LE(b.next(), 100ms);
}
TEST(redis_url, parses_the_usual_forms) {
  auto a = parse_redis_url("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  auto b = parse_redis_url("redis://:p%40ss@cache");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "cache");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->password, "p@ss");
  EXPECT_TRUE(b->username.empty());
  auto c = parse_redis_url("redis://user:pw@[::1]:7000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->username, "user");
  EXPECT_EQ(c->port, 7000);
  EXPECT_FALSE(parse_redis_url("http://x"));
  EXPECT_FALSE(parse_redis_url("redis://x:notaport"));
}
