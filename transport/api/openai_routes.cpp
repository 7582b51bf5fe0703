// The OpenAI-compatible routes (README "OpenAI-compatible API"):
//   GET  /v1/models                     the models the engine offers
//   POST /v1/chat/completions           a turn, as a chat completion (streamed or not)
//   POST /v1/responses                  a turn, as a response (streamed, background or not)
//   GET  /v1/responses/{id}             poll; `?stream=true&starting_after=N` resumes a stream
//   POST /v1/responses/{id}/cancel      interrupts the response's turn (idempotent)
//
// A completion or a response is one turn of an agent session, run by the same flow as
// `POST /api/v1/query` (the request becomes an API turn body and is decoded and checked as one);
// only the rendering differs (`openai_render.hpp`). Errors are OpenAI-shaped: the edge rewrites
// every error of a `/v1/...` path (`openai_error.hpp`).
//
// A response id names its session and the last event before its turn, so a poll, a resumed
// stream and a cancel read the turn from the session's event log: nothing else is stored.

#include "transport/api/openai_render.hpp"
#include "transport/api/openai_request.hpp"
#include "transport/api/session_flow.hpp"
#include "transport/api/sse_sink.hpp"

#include "storage/bridge.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/http/openai_error.hpp"

#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <mutex>
#include <set>

namespace caa::api::detail {

namespace {

using req_ptr = std::shared_ptr<http::request>;
using res_ptr = std::shared_ptr<http::responder>;

/// Events read per PostgreSQL page when a response is read back from the log.
constexpr unsigned read_page_events = 500;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex_of(std::string_view uuid) {
  std::string out;
  for (char c : uuid)
    if (c != '-') out += c;
  return out;
}

void send_error(const res_ptr& res, const openai::request_error& e) {
  res->send(json_body(e.status, http::openai_error_body(e.message, e.type, e.code, e.param)));
}

std::string sse_data(std::string_view json) {
  std::string out = "data: ";
  out += json;
  out += "\n\n";
  return out;
}

// -- sinks --------------------------------------------------------------------------------------

/// Renders one API event into output; true once the turn is done.
using render_fn =
    std::function<bool(std::string_view name, std::string_view data, std::string& out)>;

/// Streams rendered frames into an HTTP stream and ends it after the turn's `done`.
class rendering_stream_sink final : public event_sink {
 public:
  rendering_stream_sink(std::shared_ptr<http::stream_sink> stream, render_fn render)
      : stream_(std::move(stream)), render_(std::move(render)) {}
  ~rendering_stream_sink() override {
    if (stream_->open()) stream_->close();
  }
  rendering_stream_sink(const rendering_stream_sink&) = delete;
  rendering_stream_sink& operator=(const rendering_stream_sink&) = delete;

  /// Writes frames made before any event (a first chunk).
  bool push(std::string frames) {
    std::lock_guard<std::mutex> guard{mtx_};
    return frames.empty() || stream_->push(std::move(frames));
  }

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ || !stream_->open()) return false;
    if (seq <= last_seq_) return true;
    last_seq_ = seq;
    std::string frames;
    bool done = render_(name, data, frames);
    if (!frames.empty() && !stream_->push(std::move(frames))) {
      closed_ = true;
      return false;
    }
    if (done) {
      closed_ = true;
      stream_->close();
    }
    return true;
  }
  bool open() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return !closed_ && stream_->open();
  }
  void close() override {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    stream_->close();
  }
  bool writable() const override { return open() && stream_->writable(); }
  void when_writable(std::function<void()> f) override { stream_->when_writable(std::move(f)); }

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<http::stream_sink> stream_;
  render_fn render_;
  uint64_t last_seq_ = 0;
  bool closed_ = false;
};

/// Collects a turn and answers once, when it is done (`answer`), or with SERVICE_UNAVAILABLE
/// when the session drops it first.
class collecting_answer_sink final : public event_sink {
 public:
  using answer_fn = std::function<void(const res_ptr&)>;

  collecting_answer_sink(res_ptr res, render_fn feed, answer_fn answer)
      : res_(std::move(res)), feed_(std::move(feed)), answer_(std::move(answer)) {}
  ~collecting_answer_sink() override { close(); }
  collecting_answer_sink(const collecting_answer_sink&) = delete;
  collecting_answer_sink& operator=(const collecting_answer_sink&) = delete;

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!res_) return false;
    if (seq <= last_seq_) return true;
    last_seq_ = seq;
    std::string ignored;
    if (!feed_(name, data, ignored)) return true;
    answer_(res_);
    res_.reset();
    return false;
  }
  bool open() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return res_ != nullptr;
  }
  void close() override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!res_) return;
    res_->fail(make_error(errc::unavailable, "the session dropped the subscriber"));
    res_.reset();
  }

 private:
  mutable std::mutex mtx_;
  res_ptr res_;
  render_fn feed_;
  answer_fn answer_;
  uint64_t last_seq_ = 0;
};

std::shared_ptr<rendering_stream_sink> open_stream(const session_api& api, const req_ptr& req,
                                                   const res_ptr& res, render_fn render) {
  auto stream = res->stream(200, "text/event-stream", sse_headers());
  if (!stream->open()) return nullptr;  // the client is gone; the turn runs on
  auto sink = std::make_shared<rendering_stream_sink>(std::move(stream), std::move(render));
  watch_stream(api, req->caller->key_id(), sink);
  return sink;
}

// -- GET /v1/models -----------------------------------------------------------------------------

/// The engine's model list as OpenAI's: each alias and resolved id the turn decoder accepts,
/// once, and "default".
std::string models_json(const std::string& engine_json) {
  rapidjson::Document engine;
  json::parse_untrusted_object(engine_json, engine);
  std::vector<std::string> ids{"default"};
  std::set<std::string> seen{"default"};
  auto add = [&](const rapidjson::Value& m, const char* key) {
    if (!m.IsObject() || !m.HasMember(key) || !m[key].IsString()) return;
    std::string id{m[key].GetString(), m[key].GetStringLength()};
    if (!openai::check_model(id) && seen.insert(id).second) ids.push_back(std::move(id));
  };
  if (engine.IsObject() && engine.HasMember("models") && engine["models"].IsArray())
    for (const auto& m : engine["models"].GetArray()) {
      add(m, "value");
      add(m, "resolvedModel");
    }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (const auto& id : ids) {
    w.StartObject();
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("object");
    w.String("model");
    w.Key("created");
    w.Int64(0);
    w.Key("owned_by");
    w.String("anthropic");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void list_models(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  caa::async_request<std::string>(
      *api->ctx.sys, api->ctx.capabilities, api->ctx.run_timeout,
      [res](const std::string& engine) { res->send(json_body(200, models_json(engine))); },
      fail_with(res), atom::find_v, req->caller->tenant_id(), req->caller->agent_slot());
}

// -- POST /v1/chat/completions ------------------------------------------------------------------

/// The side-channel events a non-streamed answer keeps (their JSON bytes); later ones are
/// dropped (a streamed answer keeps none).
constexpr std::size_t max_kept_agent_event_bytes = std::size_t{16} << 20;

struct chat_state {
  openai::turn_reader reader;
  openai::chat_meta meta;
  bool include_usage = false;
  bool streaming = false;
  std::vector<std::string> agent_events;  ///< kept for a non-streamed answer
  std::size_t agent_event_bytes = 0;
  explicit chat_state(bool agent_events) : reader(agent_events) {}

  void keep(std::string event) {
    if (streaming || agent_event_bytes + event.size() > max_kept_agent_event_bytes) return;
    agent_event_bytes += event.size();
    agent_events.push_back(std::move(event));
  }
};

void answer_chat(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
                 const openai::turn_plan& plan, const session_actor& actor,
                 const turn_accepted& acc) {
  auto st = std::make_shared<chat_state>(plan.agent_events);
  st->include_usage = plan.include_usage;
  st->streaming = plan.stream;
  st->meta = {"chatcmpl-" + hex_of(acc.session_id) + "-" + std::to_string(acc.after_seq),
              unix_now(), plan.model, acc.session_id};
  auto feed = [st](std::string_view name, std::string_view data, std::string& out) {
    std::vector<openai::turn_reader::piece> pieces;
    st->reader.feed(name, data, pieces);
    for (auto& p : pieces) {
      if (p.kind == openai::turn_reader::piece::text) {
        out += sse_data(openai::chat_text_chunk(st->meta, p.body));
        continue;
      }
      out += sse_data(openai::chat_agent_chunk(st->meta, p.body));
      st->keep(std::move(p.body));
    }
    if (!st->reader.done()) return false;
    if (st->reader.done_reason() == "error" && st->reader.text().empty()) {
      auto x = errc_of_code(st->reader.error_code());
      out += sse_data(http::to_openai_error(http::error_response(make_error(x), {})).body);
    } else {
      out += sse_data(openai::chat_finish_chunk(st->meta, st->reader));
      if (st->include_usage) out += sse_data(openai::chat_usage_chunk(st->meta, st->reader));
    }
    out += "data: [DONE]\n\n";
    return true;
  };
  event_sink_ptr sink;
  if (plan.stream) {
    auto s = open_stream(*api, req, res, feed);
    if (!s) return;
    s->push(sse_data(openai::chat_role_chunk(st->meta)));
    sink = std::move(s);
  } else {
    sink = std::make_shared<collecting_answer_sink>(res, feed, [st](const res_ptr& r) {
      if (st->reader.done_reason() == "error" && st->reader.text().empty()) {
        r->fail(make_error(errc_of_code(st->reader.error_code())));
        return;
      }
      r->send(json_body(200, openai::chat_completion(st->meta, st->reader, st->agent_events)));
    });
  }
  subscribe_or_replay(api, req->caller->tenant_id(), acc.session_id, std::move(sink), acc.after_seq,
                      actor);
}

void run_chat(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
              const std::shared_ptr<openai::turn_plan>& plan,
              const std::optional<std::string>& session_id) {
  std::vector<std::string> tags{"openai"};
  if (plan->user) tags.push_back(openai::user_tag(*plan->user));
  auto body = openai::api_turn_body(*plan, session_id, false, tags, true);
  start_turn_request(api, req, res, std::move(body), turn_route::query, {},
                     [api, req, res, plan](const session_actor& actor, const turn_accepted& acc) {
                       answer_chat(api, req, res, *plan, actor, acc);
                     });
}

void chat_completions(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto decoded = openai::decode_chat_request(req->body);
  if (auto* e = std::get_if<openai::request_error>(&decoded)) return send_error(res, *e);
  auto plan = std::make_shared<openai::turn_plan>(std::move(std::get<openai::turn_plan>(decoded)));
  if (plan->session_id || !plan->user) return run_chat(api, req, res, plan, plan->session_id);
  // A `user` continues its newest session when the conversation continues it: the request
  // carries as many earlier user messages as the session has had turns.
  storage::session_filter filter;
  filter.tag = openai::user_tag(*plan->user);
  filter.limit = 1;
  api->sessions.list(
      req->caller->tenant_id(), filter,
      [api, req, res, plan](const storage::session_page& page) {
        std::optional<std::string> sid;
        auto earlier = static_cast<int64_t>(openai::earlier_user_messages(*plan));
        if (!page.sessions.empty() && earlier > 0 && page.sessions.front().total_turns == earlier)
          sid = page.sessions.front().id;
        run_chat(api, req, res, plan, sid);
      },
      fail_with(res));
}

// -- POST /v1/responses -------------------------------------------------------------------------

/// Frames of builder events, those after `skip_upto` (-1: all).
std::string response_frames(const std::vector<openai::response_builder::event>& events,
                            int64_t skip_upto) {
  std::string out;
  for (const auto& e : events) {
    if (static_cast<int64_t>(e.sequence_number) <= skip_upto) continue;
    out += "event: ";
    out += e.type;
    out += '\n';
    out += sse_data(e.json);
  }
  return out;
}

/// Streams response `builder` from the turn's first event, leaving out the events up to
/// `skip_upto`.
void stream_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
                     const std::shared_ptr<openai::response_builder>& builder, bool queued,
                     int64_t skip_upto, const std::string& session_id, uint64_t after_seq,
                     const session_actor& actor) {
  auto render = [builder, skip_upto](std::string_view name, std::string_view data,
                                     std::string& out) {
    std::vector<openai::response_builder::event> events;
    builder->feed(name, data, events);
    out += response_frames(events, skip_upto);
    return builder->done();
  };
  auto sink = open_stream(*api, req, res, render);
  if (!sink) return;
  std::vector<openai::response_builder::event> first;
  builder->start(queued, first);
  sink->push(response_frames(first, skip_upto));
  if (actor)
    subscribe_or_replay(api, req->caller->tenant_id(), session_id, std::move(sink), after_seq,
                        actor);
  else
    replay_and_subscribe(api, req->caller->tenant_id(), session_id, std::move(sink), after_seq, {});
}

/// Answers the response object once the turn is done.
event_sink_ptr collect_response(const res_ptr& res,
                                const std::shared_ptr<openai::response_builder>& builder) {
  auto feed = [builder](std::string_view name, std::string_view data, std::string&) {
    std::vector<openai::response_builder::event> ignored;
    builder->feed(name, data, ignored);
    return builder->done();
  };
  return std::make_shared<collecting_answer_sink>(
      res, feed, [builder](const res_ptr& r) { r->send(json_body(200, builder->object())); });
}

void answer_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res,
                     const openai::turn_plan& plan, const session_actor& actor,
                     const turn_accepted& acc) {
  openai::response_meta meta;
  meta.created_at = unix_now();
  meta.id = openai::response_id(acc.session_id, acc.after_seq, meta.created_at);
  meta.model = plan.model;
  meta.session_id = acc.session_id;
  meta.previous_response_id = plan.previous_response_id;
  meta.instructions = plan.system_prompt;
  meta.background = plan.background;
  auto builder = std::make_shared<openai::response_builder>(std::move(meta), plan.agent_events);
  if (plan.stream)
    return stream_response(api, req, res, builder, plan.background, -1, acc.session_id,
                           acc.after_seq, actor);
  if (plan.background) return res->send(json_body(200, builder->object(true)));
  subscribe_or_replay(api, req->caller->tenant_id(), acc.session_id, collect_response(res, builder),
                      acc.after_seq, actor);
}

void create_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto decoded = openai::decode_responses_request(req->body);
  if (auto* e = std::get_if<openai::request_error>(&decoded)) return send_error(res, *e);
  auto plan = std::make_shared<openai::turn_plan>(std::move(std::get<openai::turn_plan>(decoded)));
  std::optional<std::string> sid;
  if (plan->previous_response_id)
    sid = openai::parse_response_id(*plan->previous_response_id)->session_id;
  auto body = openai::api_turn_body(*plan, sid, true, {"openai"}, true);
  start_turn_request(api, req, res, std::move(body), turn_route::query, {},
                     [api, req, res, plan](const session_actor& actor, const turn_accepted& acc) {
                       answer_response(api, req, res, *plan, actor, acc);
                     });
}

// -- GET /v1/responses/{id}, POST /v1/responses/{id}/cancel -------------------------------------

std::optional<openai::response_ref> response_of(const req_ptr& req, const res_ptr& res) {
  auto ref = openai::parse_response_id(req->params.at("id"));
  if (!ref)
    send_error(res, {404, "No response found with id '" + req->params.at("id") + "'.",
                     "invalid_request_error", "response_not_found", "id"});
  return ref;
}

std::shared_ptr<openai::response_builder> builder_of(const openai::response_ref& ref,
                                                     const std::string& id) {
  openai::response_meta meta;
  meta.id = id;
  meta.created_at = ref.created;
  meta.session_id = ref.session_id;
  return std::make_shared<openai::response_builder>(std::move(meta), false);
}

/// Reads the response's turn from the event log as far as it is stored; `ok` gets the builder.
void read_response(const session_api_ptr& api, const std::string& tenant_id,
                   const openai::response_ref& ref,
                   const std::shared_ptr<openai::response_builder>& builder, uint64_t after,
                   const std::function<void(std::shared_ptr<openai::response_builder>)>& ok,
                   const res_ptr& res) {
  api->sessions.read_events(
      tenant_id, ref.session_id, after, read_page_events,
      [api, tenant_id, ref, builder, ok, res](const storage::event_page& page) {
        std::vector<openai::response_builder::event> ignored;
        for (const auto& e : page.events) {
          builder->feed(e.type, e.payload_json, ignored);
          if (builder->done()) break;
        }
        if (builder->done() || page.events.empty() || page.events.back().seq >= page.last_seq)
          return ok(builder);
        read_response(api, tenant_id, ref, builder, page.events.back().seq, ok, res);
      },
      fail_with(res));
}

void get_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto ref = response_of(req, res);
  if (!ref) return;
  auto id = req->params.at("id");
  auto tenant = req->caller->tenant_id();
  if (req->query_param("stream").value_or("false") == "true") {
    int64_t skip = -1;
    if (auto after = req->query_param("starting_after")) {
      try {
        skip = std::stoll(*after);
      } catch (const std::exception&) {
        return send_error(res, {400, "starting_after must be an integer", "invalid_request_error",
                                "invalid_value", "starting_after"});
      }
    }
    // The session must be the caller's before a stream opens (a 404 is an error answer).
    api->sessions.get(
        tenant, ref->session_id,
        [api, req, res, ref, id, skip](const storage::session_record&) {
          stream_response(api, req, res, builder_of(*ref, id), false, skip, ref->session_id,
                          ref->after_seq, {});
        },
        fail_with(res));
    return;
  }
  read_response(
      api, tenant, *ref, builder_of(*ref, id), ref->after_seq,
      [res](const std::shared_ptr<openai::response_builder>& b) {
        res->send(json_body(200, b->object()));
      },
      res);
}

void cancel_response(const session_api_ptr& api, const req_ptr& req, const res_ptr& res) {
  auto ref = response_of(req, res);
  if (!ref) return;
  auto id = req->params.at("id");
  auto tenant = req->caller->tenant_id();
  read_response(
      api, tenant, *ref, builder_of(*ref, id), ref->after_seq,
      [api, res, ref, id, tenant](const std::shared_ptr<openai::response_builder>& b) {
        if (b->done()) return res->send(json_body(200, b->object()));
        find_session(
            *api, tenant, ref->session_id,
            [api, res, ref, id, tenant](const session_actor& actor) {
              auto wait = [api, res, ref, id, tenant, actor](const caf::error&) {
                subscribe_or_replay(api, tenant, ref->session_id,
                                    collect_response(res, builder_of(*ref, id)), ref->after_seq,
                                    actor);
              };
              // An interrupt the session answers SESSION_IDLE (the turn ended meanwhile) is
              // fine: the log has its end.
              caa::async_request<bool>(
                  *api->ctx.sys, actor, api->ctx.request_timeout,
                  [wait](bool) { wait(caf::error{}); }, wait, atom::interrupt_v);
            },
            fail_with(res));
      },
      res);
}

}  // namespace

void add_openai_routes(http::router& r, const session_api_ptr& api) {
  using http::route_class;
  constexpr auto agent = http::route_policy::requires_agent;
  r.add("GET", "/v1/models", agent, route_class::general, bind_api(api, list_models));
  r.add("POST", "/v1/chat/completions", agent, route_class::query, bind_api(api, chat_completions));
  r.add("POST", "/v1/responses", agent, route_class::query, bind_api(api, create_response));
  r.add("GET", "/v1/responses/{id}", agent, route_class::general, bind_api(api, get_response));
  r.add("POST", "/v1/responses/{id}/cancel", agent, route_class::general,
        bind_api(api, cancel_response));
}

}  // namespace caa::api::detail
