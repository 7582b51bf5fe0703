// Sessions against a real PostgreSQL: create, get, list, tenancy, forks, status, options,
// delete (turns and recovery: session_turns_test.cpp).

#include "config/uuid.hpp"
#include "tests/integration/session_repo_fixture.hpp"

using namespace caa::storage;
using caa::errc;
using namespace std::chrono_literals;
using caa::errc_of;
using caa::test::await_callbacks;
using session_repo_test = caa::test::session_repo_fixture;

namespace {

errc code(const caf::error& e) {
  return errc_of(e);
}

}  // namespace

TEST_F(session_repo_test, create_get_round_trip) {
  auto tenant = make_tenant();
  auto s = fresh(tenant, session_status::starting);
  s.model = "opus";
  s.permission_mode = "acceptEdits";
  s.cwd = "proj/a";
  s.options_json = R"({"max_turns": 3, "env": {"A": "b\"c"}})";
  s.title = "T \"1\"";
  s.tags = {"x", "y, z", "\xC3\xA9"};
  auto rec = create(s);
  ASSERT_TRUE(rec) << sys_.render(rec.error());
  EXPECT_EQ(rec->id, s.id);
  EXPECT_EQ(rec->tenant_id, tenant);
  EXPECT_EQ(rec->cli_session_id, s.cli_session_id);
  EXPECT_EQ(rec->status, session_status::starting);
  EXPECT_EQ(rec->fork_depth, 0);
  EXPECT_FALSE(rec->parent_session_id);
  EXPECT_EQ(rec->model, "opus");
  EXPECT_EQ(rec->permission_mode, "acceptEdits");
  EXPECT_EQ(rec->cwd, "proj/a");
  EXPECT_EQ(rec->options_json, R"({"env": {"A": "b\"c"}, "max_turns": 3})");
  EXPECT_EQ(rec->title, s.title);
  EXPECT_EQ(rec->tags, s.tags);
  EXPECT_EQ(rec->usage_json, "{}");
  EXPECT_EQ(rec->last_seq, 0u);
  EXPECT_EQ(rec->created_at.size(), 24u);  // 2024-05-01T12:00:00.123Z
  EXPECT_EQ(rec->created_at.back(), 'Z');
  auto again = get(tenant, s.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->tags, s.tags);
  EXPECT_EQ(again->created_at, rec->created_at);
  EXPECT_EQ(code(create(s).error()), errc::conflict);  // same id twice

  auto generated = fresh(tenant);
  generated.id.clear();
  auto g = create(generated);
  ASSERT_TRUE(g);
  EXPECT_TRUE(caa::is_uuid(g->id));
}

TEST_F(session_repo_test, list_pages_with_total_and_status_filter) {
  auto tenant = make_tenant();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto rec = create(fresh(tenant, i % 2 == 0 ? session_status::idle : session_status::running));
    ASSERT_TRUE(rec);
    ids.push_back(rec->id);
  }
  create(fresh(make_tenant()));  // another tenant's: never listed
  auto list = [&](session_filter f) {
    return await_callbacks<session_page>(
        [&](auto ok, auto fail) { repo_->list(tenant, f, ok, fail); });
  };
  auto p1 = list({std::nullopt, 2, 0, std::nullopt});
  auto p3 = list({std::nullopt, 2, 4, std::nullopt});
  auto beyond = list({std::nullopt, 2, 10, std::nullopt});
  ASSERT_TRUE(p1 && p3 && beyond);
  EXPECT_EQ(p1->total, 5u);
  ASSERT_EQ(p1->sessions.size(), 2u);
  EXPECT_EQ(p1->sessions[0].id, ids[4]);  // newest first
  EXPECT_EQ(p1->sessions[1].id, ids[3]);
  ASSERT_EQ(p3->sessions.size(), 1u);
  EXPECT_EQ(p3->sessions[0].id, ids[0]);
  EXPECT_EQ(beyond->total, 5u);
  EXPECT_TRUE(beyond->sessions.empty());
  auto running = list({session_status::running, 100, 0, std::nullopt});
  ASSERT_TRUE(running);
  EXPECT_EQ(running->total, 2u);
  for (const auto& s : running->sessions) EXPECT_EQ(s.status, session_status::running);
  auto none = list({session_status::hibernated, 100, 0, std::nullopt});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->total, 0u);
}

TEST_F(session_repo_test, list_filters_by_tag_newest_first_within_the_tenant) {
  auto tenant = make_tenant();
  auto other = make_tenant();
  std::vector<std::string> tagged;
  for (int i = 0; i < 3; ++i) {
    auto s = fresh(tenant);
    if (i != 1) s.tags = {"openai", "openai-user:abc"};
    auto rec = create(s);
    ASSERT_TRUE(rec);
    if (i != 1) tagged.push_back(rec->id);
  }
  auto foreign = fresh(other);
  foreign.tags = {"openai-user:abc"};
  ASSERT_TRUE(create(foreign));
  auto list = [&](const std::string& t, session_filter f) {
    return await_callbacks<session_page>([&](auto ok, auto fail) { repo_->list(t, f, ok, fail); });
  };
  auto page = list(tenant, {std::nullopt, 1, 0, "openai-user:abc"});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 2u);
  ASSERT_EQ(page->sessions.size(), 1u);
  EXPECT_EQ(page->sessions[0].id, tagged[1]);  // the newest of the tenant's tagged sessions
  auto none = list(tenant, {std::nullopt, 10, 0, "openai-user:zzz"});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->total, 0u);
}

TEST_F(session_repo_test, another_tenants_session_is_not_found) {
  auto owner = make_tenant();
  auto other = make_tenant();
  auto rec = create(fresh(owner));
  ASSERT_TRUE(rec);
  ASSERT_TRUE(append(events(rec->id, 1, 2)));
  ASSERT_TRUE(ask<db_result>(*make_append_transcript_query(rec->id, "", 1, {"{}"})));
  const auto& id = rec->id;
  EXPECT_EQ(code(get(other, id).error()), errc::session_not_found);
  EXPECT_EQ(code(read_events(other, id).error()), errc::session_not_found);
  EXPECT_EQ(code(await_callbacks<std::vector<transcript_line>>([&](auto ok, auto fail) {
                   repo_->read_transcript(other, id, ok, fail);
                 }).error()),
            errc::session_not_found);
  EXPECT_EQ(code(await_callbacks<session_record>([&](auto ok, auto fail) {
                   repo_->update_options(other, id, {"{}", "haiku", "plan"}, ok, fail);
                 }).error()),
            errc::session_not_found);
  auto status = ask<db_result>(make_update_status_query(other, id, session_status::error));
  ASSERT_TRUE(status);
  EXPECT_EQ(code(parse_status_update(*status).error()), errc::session_not_found);
  auto turn = ask<std::vector<db_result>>(make_turn_started_batch(other, id, new_uuid()));
  ASSERT_TRUE(turn);
  EXPECT_EQ(code(parse_turn_started(*turn).error()), errc::session_not_found);
  auto removed = await_callbacks<bool>([&](auto ok, auto fail) {
    repo_->remove(
        other, id, [ok] { ok(true); }, fail);
  });
  EXPECT_EQ(code(removed.error()), errc::session_not_found);
  // Nothing changed for the owner; malformed ids are simply not found.
  auto mine = get(owner, id);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->status, session_status::idle);
  EXPECT_EQ(mine->last_seq, 2u);
  EXPECT_EQ(code(get(owner, "not-a-uuid").error()), errc::session_not_found);
  EXPECT_EQ(code(get("bad", id).error()), errc::session_not_found);
}

TEST_F(session_repo_test, forks_stay_in_the_tenant_and_are_capped) {
  auto tenant = make_tenant();
  auto root = create(fresh(tenant));
  ASSERT_TRUE(root);
  auto fork = fresh(tenant);
  fork.parent_session_id = root->id;
  auto child = create(fork);
  ASSERT_TRUE(child) << sys_.render(child.error());
  EXPECT_EQ(child->parent_session_id, root->id);
  EXPECT_EQ(child->fork_depth, 1);

  auto foreign = fresh(make_tenant());
  foreign.parent_session_id = root->id;
  EXPECT_EQ(code(create(foreign).error()), errc::session_not_found);
  auto orphan = fresh(tenant);
  orphan.parent_session_id = new_uuid();
  EXPECT_EQ(code(create(orphan).error()), errc::session_not_found);
  EXPECT_EQ(code(get(foreign.tenant_id, foreign.id).error()), errc::session_not_found);

  std::string parent = child->id;
  for (int depth = 2; depth <= max_fork_depth; ++depth) {
    auto f = fresh(tenant);
    f.parent_session_id = parent;
    auto r = create(f);
    ASSERT_TRUE(r) << depth;
    ASSERT_EQ(r->fork_depth, depth);
    parent = r->id;
  }
  auto too_deep = fresh(tenant);
  too_deep.parent_session_id = parent;
  EXPECT_EQ(code(create(too_deep).error()), errc::validation);

  // Deleting a parent keeps the fork and clears its reference.
  ASSERT_TRUE(await_callbacks<bool>([&](auto ok, auto fail) {
    repo_->remove(
        tenant, root->id, [ok] { ok(true); }, fail);
  }));
  auto kept = get(tenant, child->id);
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->parent_session_id);
  EXPECT_EQ(kept->fork_depth, 1);
}

TEST_F(session_repo_test, status_compare_and_set_and_options) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  auto set = [&](session_status to, std::vector<session_status> from) {
    auto r = ask<db_result>(make_update_status_query(tenant, rec->id, to, from));
    return r ? parse_status_update(*r) : caf::expected<session_status>{r.error()};
  };
  EXPECT_EQ(set(session_status::hibernated, {}), session_status::idle);
  auto refused = set(session_status::running, {session_status::idle});
  EXPECT_EQ(code(refused.error()), errc::conflict);
  EXPECT_EQ(set(session_status::running, {session_status::idle, session_status::hibernated}),
            session_status::hibernated);
  auto updated = await_callbacks<session_record>([&](auto ok, auto fail) {
    repo_->update_options(tenant, rec->id, {R"({"a": 1})", "haiku", std::nullopt}, ok, fail);
  });
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->options_json, R"({"a": 1})");
  EXPECT_EQ(updated->model, "haiku");
  EXPECT_EQ(updated->permission_mode, "default");
  EXPECT_EQ(updated->status, session_status::running);
  auto bad = await_callbacks<session_record>([&](auto ok, auto fail) {
    repo_->update_options(tenant, rec->id, {std::nullopt, std::nullopt, "root"}, ok, fail);
  });
  EXPECT_EQ(code(bad.error()), errc::validation);
}

TEST_F(session_repo_test, delete_cascades) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  auto other = create(fresh(tenant));
  ASSERT_TRUE(rec && other);
  ASSERT_TRUE(append(events(rec->id, 1, 3)));
  ASSERT_TRUE(append(events(other->id, 1, 2)));
  ASSERT_TRUE(ask<std::vector<db_result>>(make_turn_started_batch(tenant, rec->id, new_uuid())));
  ASSERT_TRUE(ask<db_result>(*make_append_transcript_query(rec->id, "", 0, {"a", "b"})));
  ASSERT_TRUE(await_callbacks<bool>([&](auto ok, auto fail) {
    repo_->remove(
        tenant, rec->id, [ok] { ok(true); }, fail);
  }));
  EXPECT_EQ(code(get(tenant, rec->id).error()), errc::session_not_found);
  auto other_events = caa::test::raw_query(
      db_->url(), "SELECT count(*) FROM session_events WHERE session_id = '" + other->id + "'");
  for (const char* table : {"session_events", "turns", "session_transcripts"}) {
    auto n = caa::test::raw_query(db_->url(), std::string{"SELECT count(*) FROM "} + table +
                                                  " WHERE session_id = '" + rec->id + "'");
    EXPECT_EQ(*n[0][0], "0") << table;
  }
  EXPECT_EQ(*other_events[0][0], "2") << "another session keeps its events";

  // Events have no foreign key (its per-row check cost more than the row): a statement trigger
  // on sessions deletes them, also when a tenant's deletion removes its sessions.
  caa::test::raw_query(db_->url(), "DELETE FROM tenants WHERE id = '" + tenant + "'");
  auto left = caa::test::raw_query(
      db_->url(), "SELECT count(*) FROM session_events WHERE session_id = '" + other->id + "'");
  EXPECT_EQ(*left[0][0], "0");
}
