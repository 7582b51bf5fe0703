// Session events and transcripts against a real PostgreSQL: the multi-row append (idempotent,
// hole-free, last_seq), paged reads, array literals, payload repair and exact bytes, transcript
// round trips.

#include "tests/integration/session_repo_fixture.hpp"

#include <pqxx/pqxx>

using namespace caa::storage;
using caa::errc;
using namespace std::chrono_literals;
using caa::errc_of;
using caa::test::await_callbacks;
using session_events_test = caa::test::session_repo_fixture;

TEST_F(session_events_test, array_literals_round_trip_through_postgres) {
  const std::vector<std::string> tricky{"",
                                        "NULL",
                                        "null",
                                        "a,b",
                                        "{x}",
                                        " padded ",
                                        "quote \" inside",
                                        R"(back\slash\)",
                                        R"(\"both\")",
                                        "line\nbreak\ttab",
                                        "h\xC3\xA9llo \xF0\x9F\x98\x80 \xE4\xB8\xAD",
                                        R"({"json": "v\"w", "n": [1, 2]})"};
  pqxx::connection c{db_->url()};
  pqxx::nontransaction tx{c};
  auto r = tx.exec_params("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u (x, n) ORDER BY n",
                          pg_array_literal(tricky));
  ASSERT_EQ(r.size(), tricky.size());
  for (std::size_t i = 0; i < tricky.size(); ++i) {
    EXPECT_FALSE(r[i][0].is_null());
    EXPECT_EQ(r[i][0].as<std::string>(), tricky[i]) << i;
  }
  auto empty = tx.exec_params("SELECT cardinality($1::text[])", pg_array_literal({}));
  EXPECT_EQ(empty[0][0].as<int>(), 0);
}

TEST_F(session_events_test, append_is_one_statement_idempotent_and_hole_free) {
  auto tenant = make_tenant();
  auto a = create(fresh(tenant));
  auto b = create(fresh(tenant));
  ASSERT_TRUE(a && b);
  auto batch = events(a->id, 1, 3);
  auto more = events(b->id, 1, 2);
  batch.insert(batch.end(), more.begin(), more.end());
  auto st = append(batch);
  ASSERT_TRUE(st) << sys_.render(st.error());
  ASSERT_EQ(st->size(), 2u);
  for (const auto& s : *st) EXPECT_TRUE(s.written);
  EXPECT_EQ(get(tenant, a->id)->last_seq, 3u);
  EXPECT_EQ(get(tenant, b->id)->last_seq, 2u);

  // A retry of the same events, and a retry overlapping new ones: nothing doubles.
  ASSERT_TRUE(append(batch));
  auto overlap = append(events(a->id, 2, 4));  // 2..5
  ASSERT_TRUE(overlap);
  ASSERT_EQ(overlap->size(), 1u);
  EXPECT_TRUE(overlap->front().written);
  auto page = read_events(tenant, a->id);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(page->events[i].seq, i + 1);
  EXPECT_EQ(page->last_seq, 5u);

  // A hole is refused (and reported with the last stored seq); other sessions are unaffected.
  auto holes = append({{a->id, 7, "message", "{}"}, {b->id, 3, "message", "{}"}});
  ASSERT_TRUE(holes);
  ASSERT_EQ(holes->size(), 2u);
  for (const auto& s : *holes) {
    if (s.session_id == a->id) {
      EXPECT_FALSE(s.written);
      EXPECT_EQ(s.last_seq, 5u);
    } else {
      EXPECT_TRUE(s.written);
    }
  }
  auto skipped = append({{a->id, 6, "message", "{}"}, {a->id, 8, "message", "{}"}});
  ASSERT_TRUE(skipped);
  EXPECT_FALSE(skipped->front().written);
  EXPECT_EQ(get(tenant, a->id)->last_seq, 5u);
  EXPECT_EQ(get(tenant, b->id)->last_seq, 3u);

  // Duplicates inside one batch and a missing session.
  auto dup = append(
      {{a->id, 6, "message", "{}"}, {a->id, 6, "message", "{}"}, {new_uuid(), 1, "message", "{}"}});
  ASSERT_TRUE(dup) << sys_.render(dup.error());
  ASSERT_EQ(dup->size(), 1u);  // the missing session has no status
  EXPECT_TRUE(dup->front().written);
  EXPECT_EQ(get(tenant, a->id)->last_seq, 6u);
}

TEST_F(session_events_test, read_pages_after_a_seq) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  auto empty = read_events(tenant, rec->id);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());
  EXPECT_EQ(empty->last_seq, 0u);
  ASSERT_TRUE(append(events(rec->id, 1, 10)));
  auto page = read_events(tenant, rec->id, 3, 4);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 4u);
  EXPECT_EQ(page->events.front().seq, 4u);
  EXPECT_EQ(page->events.back().seq, 7u);
  EXPECT_EQ(page->events.front().session_id, rec->id);
  EXPECT_EQ(page->events.front().type, "message");
  EXPECT_EQ(page->events.front().payload_json, R"({"n":4})") << "the bytes as written";
  EXPECT_EQ(page->last_seq, 10u);
  auto tail = read_events(tenant, rec->id, 10, 4);
  ASSERT_TRUE(tail);
  EXPECT_TRUE(tail->events.empty());
  EXPECT_EQ(tail->last_seq, 10u);
}

// A batch of a session is stored as one run (session_event_runs); a read starts anywhere inside
// one and goes on across the next, for any page size.
TEST_F(session_events_test, each_batch_is_one_run_and_reads_page_across_runs) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  ASSERT_TRUE(append(events(rec->id, 1, 1)));
  ASSERT_TRUE(append(events(rec->id, 2, 5)));
  ASSERT_TRUE(append(events(rec->id, 5, 5)));  // 5 and 6 again: only 7..9 are new
  // The session's stored runs from id `from` on, as "first-last first-last ...".
  auto runs_from = [&](uint64_t from) {
    auto rows = caa::test::raw_query(
        db_->url(),
        "SELECT string_agg(first_seq::text || '-' || last_seq::text, ' ' ORDER BY first_seq) "
        "FROM session_event_runs WHERE session_id = '" +
            rec->id + "' AND first_seq >= " + std::to_string(from));
    return rows.size() == 1 && rows[0][0] ? *rows[0][0] : std::string{"none"};
  };
  EXPECT_EQ(runs_from(1), "1-1 2-6 7-9");
  for (uint64_t after = 0; after <= 9; ++after) {
    for (unsigned limit : {1u, 2u, 4u, 20u}) {
      auto page = read_events(tenant, rec->id, after, limit);
      ASSERT_TRUE(page) << sys_.render(page.error());
      auto expect = std::min<uint64_t>(limit, 9 - after);
      ASSERT_EQ(page->events.size(), expect) << "after " << after << ", limit " << limit;
      for (uint64_t i = 0; i < expect; ++i) {
        auto seq = after + 1 + i;
        EXPECT_EQ(page->events[i].seq, seq);
        EXPECT_EQ(page->events[i].type, "message");
        EXPECT_EQ(page->events[i].payload_json, R"({"n":)" + std::to_string(seq) + "}");
      }
      EXPECT_EQ(page->last_seq, 9u);
      EXPECT_EQ(page->stored_up_to_after, after) << "every id up to 9 is stored";
    }
  }
  // The view keeps one row per event, for reading by hand.
  auto rows =
      caa::test::raw_query(db_->url(),
                           "SELECT count(*), min(seq), max(seq), sum((payload->>'n')::int) FROM "
                           "session_events WHERE session_id = '" +
                               rec->id + "'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(*rows[0][0], "9");
  EXPECT_EQ(*rows[0][1], "1");
  EXPECT_EQ(*rows[0][2], "9");
  EXPECT_EQ(*rows[0][3], "45");

  // Long runs are compressed with lz4 (this project's PostgreSQL 15 has it; see migration 009).
  auto compression = caa::test::raw_query(
      db_->url(),
      "SELECT string_agg(attname || '=' || attcompression::text, ' ' ORDER BY attname) "
      "FROM pg_attribute WHERE attrelid = 'session_event_runs'::regclass "
      "AND attname IN ('types', 'payloads')");
  ASSERT_EQ(compression.size(), 1u);
  EXPECT_EQ(*compression[0][0], "payloads=l types=l");

  // A long batch goes in as runs within blocks of 256 ids: a page splits only the runs it reads.
  ASSERT_TRUE(append(events(rec->id, 10, 600)));  // 10..609
  EXPECT_EQ(runs_from(10), "10-256 257-512 513-609");
  auto across = read_events(tenant, rec->id, 250, 300);
  ASSERT_TRUE(across);
  ASSERT_EQ(across->events.size(), 300u);
  EXPECT_EQ(across->events.front().seq, 251u);
  EXPECT_EQ(across->events.back().seq, 550u);
  EXPECT_EQ(across->events.back().payload_json, R"({"n":550})");
}

TEST_F(session_events_test, payloads_jsonb_would_refuse_are_repaired) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  auto st = append({{rec->id, 1, "message", R"({"t": "nul \u0000 lone \ud800 ok \ud83d\ude00"})"},
                    {rec->id, 2, "message", "{\"t\": \"bad \xFF utf8\"}"}});
  ASSERT_TRUE(st) << sys_.render(st.error());
  auto page = read_events(tenant, rec->id);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 2u);
  // Repaired escapes stay escapes (the column keeps the text; a client decodes the same value).
  EXPECT_EQ(page->events[0].payload_json, R"({"t": "nul \ufffd lone \ufffd ok \ud83d\ude00"})");
  EXPECT_EQ(page->events[1].payload_json, "{\"t\": \"bad \xEF\xBF\xBD utf8\"}");

  // A payload reads back as it was written (json, not jsonb: no key reordering, no respacing).
  const std::string as_written = R"({"z" :1,"a":[2.50, 1e1],"m":"\u00e9"})";
  ASSERT_TRUE(append({{rec->id, 3, "message", as_written}}));

  // A 3 MB payload (a large tool result) goes through the append unharmed.
  auto big = R"({"t": ")" + std::string(3 << 20, 'q') + R"( \"x\" \\"})";
  ASSERT_TRUE(append({{rec->id, 4, "message", big}}));
  auto tail = read_events(tenant, rec->id, 2, 2);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->events.size(), 2u);
  EXPECT_EQ(tail->events[0].payload_json, as_written);
  EXPECT_EQ(tail->events[1].payload_json, big);
}

TEST_F(session_events_test, transcripts_round_trip_with_a_3_mb_line) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  auto none = await_callbacks<std::vector<transcript_line>>(
      [&](auto ok, auto fail) { repo_->read_transcript(tenant, rec->id, ok, fail); });
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  std::string big = R"({"type":"user","message":{"content":")" + std::string(3 << 20, 'x') +
                    R"( \"quoted\" \\ back"}})";
  std::vector<std::string> main_lines{R"({"type":"summary","n":1})", big,
                                      "{\"t\":\"\xC3\xA9 \\u0000\"}"};
  auto q = make_append_transcript_query(rec->id, "", 1, main_lines);
  ASSERT_TRUE(q);
  auto r = ask<db_result>(std::move(*q));
  ASSERT_TRUE(r) << sys_.render(r.error());
  EXPECT_EQ(r->affected, 3u);
  auto again = ask<db_result>(*make_append_transcript_query(rec->id, "", 1, main_lines));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->affected, 0u);  // idempotent
  ASSERT_TRUE(ask<db_result>(
      *make_append_transcript_query(rec->id, "subagents/agent-x", 1, {"{\"s\":1}", "{\"s\":2}"})));
  ASSERT_TRUE(ask<db_result>(*make_append_transcript_query(rec->id, "", 4, {"{\"last\":1}"})));

  auto lines = await_callbacks<std::vector<transcript_line>>(
      [&](auto ok, auto fail) { repo_->read_transcript(tenant, rec->id, ok, fail); });
  ASSERT_TRUE(lines) << sys_.render(lines.error());
  ASSERT_EQ(lines->size(), 6u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*lines)[i].subpath, "");
    EXPECT_EQ((*lines)[i].line_no, i + 1);
    EXPECT_EQ((*lines)[i].entry, main_lines[i]) << i;  // byte for byte
  }
  EXPECT_EQ((*lines)[3].entry, "{\"last\":1}");
  EXPECT_EQ((*lines)[4].subpath, "subagents/agent-x");
  EXPECT_EQ((*lines)[5].line_no, 2u);

  auto missing = ask<db_result>(*make_append_transcript_query(new_uuid(), "", 1, {"{}"}));
  EXPECT_EQ(errc_of(missing.error()), errc::conflict);
}

TEST_F(session_events_test, a_reserved_mark_moves_the_ids_of_the_next_actor_and_recovery_above_it) {
  auto tenant = make_tenant();
  const std::string node = "mark-" + new_uuid();
  auto s = fresh(tenant, session_status::running);
  s.owner_node = node;
  auto a = create(s);
  ASSERT_TRUE(a);
  ASSERT_TRUE(append(events(a->id, 1, 3)));
  // The mark only rises.
  ASSERT_TRUE(ask<db_result>(make_reserve_events_query(tenant, a->id, 40)));
  ASSERT_TRUE(ask<db_result>(make_reserve_events_query(tenant, a->id, 20)));
  EXPECT_EQ(get(tenant, a->id)->event_seq_reserved, 40u);

  // A batch may start anywhere above the stored ids up to right above the mark, never beyond.
  auto beyond = append(events(a->id, 43, 1));
  ASSERT_TRUE(beyond);
  EXPECT_FALSE(beyond->front().written);
  auto gappy = append({{a->id, 41, "message", "{}"}, {a->id, 43, "message", "{}"}});
  ASSERT_TRUE(gappy);
  EXPECT_FALSE(gappy->front().written) << "a hole inside the batch is still refused";

  // Start-up recovery puts the terminal events above the mark + 1 (ids up to the mark may have
  // been sent, mark + 1 is the id of the gap event).
  auto ids = await_callbacks<std::vector<std::string>>(
      [&](auto ok, auto fail) { repo_->recover_running(node, ok, fail); });
  ASSERT_TRUE(ids) << sys_.render(ids.error());
  auto page = read_events(tenant, a->id);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 5u);
  EXPECT_EQ(page->events[3].seq, 42u);
  EXPECT_EQ(page->events[3].type, "error");
  EXPECT_EQ(page->events[4].seq, 43u);
  EXPECT_EQ(page->last_seq, 43u);

  // A read after an id inside the hole names the highest stored id below it.
  auto after_hole = read_events(tenant, a->id, 10);
  ASSERT_TRUE(after_hole);
  EXPECT_EQ(after_hole->stored_up_to_after, 3u);
  ASSERT_FALSE(after_hole->events.empty());
  EXPECT_EQ(after_hole->events.front().seq, 42u);
  auto after_stored = read_events(tenant, a->id, 2);
  ASSERT_TRUE(after_stored);
  EXPECT_EQ(after_stored->stored_up_to_after, 2u);

  // An actor that revives a session whose mark is above its stored ids starts after the mark.
  auto b = create(fresh(tenant));
  ASSERT_TRUE(b);
  ASSERT_TRUE(append(events(b->id, 1, 2)));
  ASSERT_TRUE(ask<db_result>(make_reserve_events_query(tenant, b->id, 30)));
  auto next = append(events(b->id, 32, 2));
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->front().written);
  EXPECT_EQ(get(tenant, b->id)->last_seq, 33u);
  auto cont = append(events(b->id, 34, 1));
  ASSERT_TRUE(cont);
  EXPECT_TRUE(cont->front().written) << "then it continues as usual";
}
