// Pure parts of session storage: the array-literal encoder, jsonb_safe, the request builders'
// validation and the result parsers (no database).

#include "storage/postgres/session_queries.hpp"
#include "config/errc.hpp"
#include "config/uuid.hpp"
#include "storage/postgres/event_queries.hpp"
#include "storage/postgres/pg_text.hpp"
#include "storage/postgres/statements.hpp"

#include <gtest/gtest.h>

using namespace caa::storage;
using caa::errc;
using caa::errc_of;

namespace {

const std::string tenant = "11111111-2222-3333-4444-555555555555";
const std::string sid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

/// A session row as the catalogue's columns deliver it, starting with `prefix` columns.
db_row session_row(db_row prefix = {}) {
  db_row row = std::move(prefix);
  for (auto v : std::vector<db_value>{sid,
                                      tenant,
                                      sid,
                                      caf::none,
                                      std::string{"1"},
                                      std::string{"idle"},
                                      std::string{"opus"},
                                      std::string{"plan"},
                                      std::string{"work/a"},
                                      std::string{"{\"k\": 1}"},
                                      caf::none,
                                      std::string{"[\"x\", \"a \\\"b\\\"\"]"},
                                      std::string{"3"},
                                      std::string{"0.125"},
                                      std::string{"{}"},
                                      std::string{"42"},
                                      std::string{"node-1"},
                                      std::string{"2024-05-01T12:00:00.123Z"},
                                      std::string{"2024-05-01T12:00:01.000Z"},
                                      std::string{"7"},
                                      std::string{"50"}})
    row.push_back(v);
  return row;
}

}  // namespace

TEST(pg_array_literal, quotes_every_element) {
  EXPECT_EQ(pg_array_literal({}), "{}");
  EXPECT_EQ(pg_array_literal({""}), "{\"\"}");
  EXPECT_EQ(pg_array_literal({"a", "", "NULL"}), "{\"a\",\"\",\"NULL\"}");
  EXPECT_EQ(pg_array_literal({"a,b", "{c}", " d "}), "{\"a,b\",\"{c}\",\" d \"}");
}

TEST(pg_array_literal, escapes_quotes_and_backslashes) {
  EXPECT_EQ(pg_array_literal({"say \"hi\""}), R"({"say \"hi\""})");
  EXPECT_EQ(pg_array_literal({R"(C:\dir\)"}), R"({"C:\\dir\\"})");
  EXPECT_EQ(pg_array_literal({R"({"k":"v\"w"})"}), R"({"{\"k\":\"v\\\"w\"}"})");
}

TEST(pg_array_literal, passes_utf8_through) {
  EXPECT_EQ(pg_array_literal({"h\xC3\xA9llo", "\xF0\x9F\x98\x80"}),
            "{\"h\xC3\xA9llo\",\"\xF0\x9F\x98\x80\"}");
  pg_array_builder b;
  EXPECT_EQ(std::move(b).finish(), "{}");
}

TEST(jsonb_safe, keeps_valid_json) {
  for (std::string_view j : {R"({"a":"b","n":[1,2.5,null,true]})", R"("\\u0000")",
                             R"({"s":"\ud83d\ude00 \u00e9 \n \" \\"})", "{\n \"a\" : 1\n}"})
    EXPECT_EQ(jsonb_safe(j), j);
}

TEST(jsonb_safe, replaces_what_jsonb_refuses) {
  EXPECT_EQ(jsonb_safe(R"({"a":"x\u0000y"})"), R"({"a":"x\ufffdy"})");
  EXPECT_EQ(jsonb_safe(R"(["\ud800"])"), R"(["\ufffd"])");
  EXPECT_EQ(jsonb_safe(R"(["\ud800x"])"), R"(["\ufffdx"])");
  EXPECT_EQ(jsonb_safe(R"(["\udc00\ud800"])"), R"(["\ufffd\ufffd"])");
  EXPECT_EQ(jsonb_safe(std::string{"[\"a\x01", 4} + std::string{'\0'} + "z\"]"),
            "[\"a\\u0001\\ufffdz\"]");
  EXPECT_EQ(jsonb_safe("[\"\xFF\xC3\"]"), "[\"\xEF\xBF\xBD\xEF\xBF\xBD\"]");
  EXPECT_EQ(jsonb_safe("[\"\xED\xA0\x80\"]"), "[\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"]");
  EXPECT_EQ(jsonb_safe("\"\\"), "\"\\");  // truncated escape: left for jsonb to report
}

TEST(pg_text, uuids_and_values) {
  EXPECT_TRUE(caa::is_uuid(sid));
  EXPECT_TRUE(caa::is_uuid("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"));
  EXPECT_FALSE(caa::is_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeee"));
  EXPECT_FALSE(caa::is_uuid("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeg"));
  EXPECT_FALSE(caa::is_uuid("aaaaaaaa_bbbb-cccc-dddd-eeeeeeeeeeee"));
  EXPECT_FALSE(uuid_param("x' OR '1'='1"));
  EXPECT_EQ(pg_double(0.1), "0.1");
  EXPECT_EQ(pg_double(1.0 / 0.0), "0");
  EXPECT_EQ(*to_double(db_value{pg_double(1e-7)}), 1e-7);
  EXPECT_FALSE(to_int64(db_value{std::string{"12x"}}));
  EXPECT_FALSE(to_int64(caf::none));
  EXPECT_EQ(*json_string_array(R"(["a","\"b"])"), (std::vector<std::string>{"a", "\"b"}));
  EXPECT_FALSE(json_string_array(R"([1])"));
}

TEST(session_queries, status_names_round_trip) {
  for (auto s : {session_status::starting, session_status::idle, session_status::running,
                 session_status::hibernated, session_status::interrupted, session_status::error})
    EXPECT_EQ(session_status_from(to_string(s)), s);
  EXPECT_FALSE(session_status_from("deleted"));
  EXPECT_EQ(to_string(turn_status::completed), "completed");
}

TEST(session_queries, create_validates) {
  new_session s;
  s.tenant_id = tenant;
  s.cli_session_id = sid;
  auto q = make_create_session_query(s);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->statement_name, stmt::session_create);
  ASSERT_EQ(q->params.size(), 13u);
  EXPECT_FALSE(q->params[1]);  // generated id
  EXPECT_EQ(*q->params[4], "starting");
  EXPECT_EQ(*q->params[10], "{}");
  s.tags = {"a", "b\"c"};
  EXPECT_EQ(*make_create_session_query(s)->params[10], R"({"a","b\"c"})");
  auto bad = [&](auto mutate) {
    auto copy = s;
    mutate(copy);
    auto r = make_create_session_query(copy);
    return !r && errc_of(r.error()) == errc::validation;
  };
  EXPECT_TRUE(bad([](new_session& x) { x.tenant_id = "t"; }));
  EXPECT_TRUE(bad([](new_session& x) { x.id = "nope"; }));
  EXPECT_TRUE(bad([](new_session& x) { x.cli_session_id = ""; }));
  EXPECT_TRUE(bad([](new_session& x) { x.parent_session_id = "p"; }));
  EXPECT_TRUE(bad([](new_session& x) { x.permission_mode = "yolo"; }));
  EXPECT_TRUE(bad([](new_session& x) { x.options_json = "[1]"; }));
  EXPECT_TRUE(bad([](new_session& x) { x.options_json = "{"; }));
}

TEST(session_queries, builders_use_catalogue_statements) {
  std::vector<db_query> qs{make_get_session_query(tenant, sid),
                           make_list_sessions_query(tenant, {}),
                           make_update_status_query(tenant, sid, session_status::idle),
                           make_delete_session_query(tenant, sid),
                           make_read_events_query(tenant, sid, 0, 10),
                           make_read_transcript_query(tenant, sid),
                           *make_update_options_query(tenant, sid, {})};
  for (auto& b : {make_turn_started_batch(tenant, sid, sid),
                  make_turn_finished_batch(tenant, sid, 1, turn_status::completed, 0.5, ""),
                  make_recover_running_batch(std::nullopt)})
    qs.insert(qs.end(), b.queries.begin(), b.queries.end());
  for (const auto& q : qs) EXPECT_NE(find_statement(q.statement_name), nullptr) << q.statement_name;
  EXPECT_EQ(*make_list_sessions_query(tenant, {std::nullopt, 1000, 0, std::nullopt}).params[2],
            "100");
  EXPECT_EQ(*make_list_sessions_query(tenant, {std::nullopt, 0, 0, std::nullopt}).params[2], "1");
  EXPECT_EQ(*make_read_events_query(tenant, sid, 5, 5000).params[3], "1000");
  EXPECT_FALSE(make_get_session_query(tenant, "../etc").params[1]);
  auto cas = make_update_status_query(tenant, sid, session_status::idle,
                                      {session_status::running, session_status::starting});
  EXPECT_EQ(*cas.params[3], R"({"running","starting"})");
  EXPECT_FALSE(make_update_options_query(tenant, sid, {std::nullopt, std::nullopt, "x"}));
}

TEST(session_queries, parses_a_session_row) {
  auto rec = parse_session(db_result{{session_row()}, 1});
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->id, sid);
  EXPECT_FALSE(rec->parent_session_id);
  EXPECT_EQ(rec->fork_depth, 1);
  EXPECT_EQ(rec->status, session_status::idle);
  EXPECT_EQ(rec->tags, (std::vector<std::string>{"x", "a \"b\""}));
  EXPECT_EQ(rec->total_turns, 3);
  EXPECT_DOUBLE_EQ(rec->total_cost_usd, 0.125);
  EXPECT_EQ(rec->last_seq, 42u);
  EXPECT_EQ(rec->owner_node, "node-1");
  EXPECT_EQ(rec->epoch, 7u);
  EXPECT_EQ(rec->event_seq_reserved, 50u);
  EXPECT_EQ(rec->created_at, "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(errc_of(parse_session(db_result{}).error()), errc::session_not_found);
  auto opt = parse_optional_session(db_result{{session_row()}, 1});
  ASSERT_TRUE(opt && *opt);
  EXPECT_EQ((*opt)->id, sid);
  auto missing = parse_optional_session(db_result{});
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  auto broken = session_row();
  broken[5] = std::string{"deleted"};
  EXPECT_EQ(errc_of(parse_session(db_result{{broken}, 1}).error()), errc::internal);
}

TEST(session_queries, parses_pages_and_updates) {
  auto page = parse_session_page(db_result{{session_row({std::string{"7"}})}, 1});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 7u);
  ASSERT_EQ(page->sessions.size(), 1u);
  db_row empty{std::string{"7"}};
  empty.resize(22);
  auto none = parse_session_page(db_result{{empty}, 1});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->total, 7u);
  EXPECT_TRUE(none->sessions.empty());

  auto row = [](const char* st, const char* changed) {
    return db_result{{{std::string{st}, std::string{changed}}}, 1};
  };
  EXPECT_EQ(*parse_status_update(row("running", "t")), session_status::running);
  EXPECT_EQ(errc_of(parse_status_update(row("idle", "f")).error()), errc::conflict);
  EXPECT_EQ(errc_of(parse_status_update(db_result{}).error()), errc::session_not_found);
  EXPECT_FALSE(check_found(db_result{{}, 1}));
  EXPECT_EQ(errc_of(check_found(db_result{})), errc::session_not_found);
  EXPECT_EQ(*parse_turn_started({db_result{{{std::string{"4"}}}, 1}, db_result{}}), 4);
  EXPECT_EQ(errc_of(parse_turn_started({db_result{}, db_result{}}).error()),
            errc::session_not_found);
  EXPECT_EQ(*parse_recovered({db_result{{{sid}}, 1}}), std::vector<std::string>{sid});
}

TEST(event_queries, append_builder_validates_and_encodes) {
  auto q = make_append_events_query(
      {{sid, 1, "message", R"({"t":"a\"b"})", 3}, {sid, 2, "done", R"({"x":"\u0000"})", 3}});
  ASSERT_TRUE(q);
  EXPECT_EQ(q->statement_name, stmt::events_append);
  ASSERT_EQ(q->params.size(), 5u);
  EXPECT_EQ(*q->params[4], R"({"3","3"})");
  EXPECT_EQ(*q->params[0], "{\"" + sid + "\",\"" + sid + "\"}");
  EXPECT_EQ(*q->params[1], R"({"1","2"})");
  EXPECT_EQ(*q->params[2], R"({"message","done"})");
  // The payloads: one text, separated by byte 0x1E.
  EXPECT_EQ(*q->params[3], std::string{R"({"t":"a\"b"})"} + '\x1e' + R"({"x":"\ufffd"})");
  auto invalid = [](session_event e) {
    auto r = make_append_events_query({e});
    return !r && errc_of(r.error()) == errc::validation;
  };
  EXPECT_TRUE(invalid({"x", 1, "t", "{}"}));
  EXPECT_TRUE(invalid({sid, 0, "t", "{}"}));
  EXPECT_TRUE(invalid({sid, uint64_t{1} << 63, "t", "{}"}));
  EXPECT_TRUE(invalid({sid, 1, "", "{}"}));
  EXPECT_TRUE(invalid({sid, 1, "t", ""}));
  EXPECT_TRUE(invalid({sid, 1, "t", "{\"a\":\x1e 1}"})) << "a raw 0x1E outside strings";
  EXPECT_FALSE(make_append_events_query({}));
}

TEST(event_queries, a_refused_payload_leaves_the_append_as_it_was) {
  append_events_builder b;
  ASSERT_FALSE(b.add({sid, 1, "message", R"({"n":1})"}));
  auto refused = b.add({sid, 2, "message", "[1,\x1e 2]"});
  ASSERT_TRUE(refused);
  EXPECT_EQ(errc_of(refused), errc::validation);
  // Inside a string the byte is escaped (jsonb_safe): the separator never appears in a payload.
  ASSERT_FALSE(b.add({sid, 2, "message", "{\"s\":\"a\x1e b\"}"}));
  EXPECT_EQ(b.size(), 2u);
  auto q = std::move(b).finish();
  EXPECT_EQ(*q.params[1], R"({"1","2"})");
  EXPECT_EQ(*q.params[3], std::string{R"({"n":1})"} + '\x1e' + R"({"s":"a\u001e b"})");
}

TEST(event_queries, parses_appends_and_pages) {
  auto st =
      parse_append_events(db_result{{{sid, std::string{"9"}, std::string{"f"}, std::string{"t"}},
                                     {tenant, std::string{"0"}, std::string{"t"}, std::string{"t"}},
                                     {sid, std::string{"4"}, std::string{"f"}, std::string{"f"}}},
                                    0});
  ASSERT_TRUE(st);
  ASSERT_EQ(st->size(), 3u);
  EXPECT_FALSE((*st)[0].written);
  EXPECT_FALSE((*st)[0].fenced);
  EXPECT_EQ((*st)[0].last_seq, 9u);
  EXPECT_TRUE((*st)[1].written);
  EXPECT_TRUE((*st)[2].fenced) << "events made under an older epoch";

  auto page =
      parse_event_page(db_result{{{sid, std::string{"3"}, std::string{"2"}, std::string{"message"},
                                   std::string{"{}"}, std::string{"1"}},
                                  {sid, std::string{"3"}, std::string{"3"}, std::string{"done"},
                                   std::string{"{}"}, std::string{"1"}}},
                                 2});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->last_seq, 3u);
  EXPECT_EQ(page->stored_up_to_after, 1u);
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[1].seq, 3u);
  EXPECT_EQ(page->events[1].session_id, sid);
  auto none = parse_event_page(
      db_result{{{sid, std::string{"0"}, caf::none, caf::none, caf::none, caf::none}}, 1});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->events.empty());
  EXPECT_EQ(none->stored_up_to_after, 0u);
  EXPECT_EQ(errc_of(parse_event_page(db_result{}).error()), errc::session_not_found);
}

TEST(event_queries, transcripts) {
  EXPECT_TRUE(valid_transcript_subpath(""));
  EXPECT_TRUE(valid_transcript_subpath("subagents/agent-x"));
  EXPECT_TRUE(valid_transcript_subpath("a_b.jsonl"));
  for (auto bad : {"/abs", "a//b", "a/", "../x", "a/../b", ".hidden", "a/.b", "-x", "a b", "a\\b"})
    EXPECT_FALSE(valid_transcript_subpath(bad)) << bad;
  EXPECT_FALSE(valid_transcript_subpath(std::string(256, 'a')));
  auto q = make_append_transcript_query(sid, "subagents/a", 1, {"{\"a\":1}", "x\"y"});
  ASSERT_TRUE(q);
  EXPECT_EQ(*q->params[3], R"({"{\"a\":1}","x\"y"})");
  EXPECT_FALSE(make_append_transcript_query(sid, "../x", 1, {}));
  EXPECT_FALSE(make_append_transcript_query("x", "", 1, {}));

  auto lines =
      parse_transcript(db_result{{{std::string{""}, std::string{"1"}, std::string{"{}"}}}, 1});
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0].line_no, 1u);
  auto empty = parse_transcript(db_result{{{caf::none, caf::none, caf::none}}, 1});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(errc_of(parse_transcript(db_result{}).error()), errc::session_not_found);
}
