// The turn request decoder: prompt, images, model, permission mode, tools, limits, env, paths,
// settings, metadata; error collection and unknown fields.

#include "query_test_util.hpp"

#include "transport/api/auth.hpp"
#include "transport/json/json.hpp"

namespace caa::auth {

struct test_access {
  static http::auth_passkey passkey() { return passkey_issuer::issue(); }
};

}  // namespace caa::auth

using namespace caa;
using namespace caa::api;
using namespace caa::api::test;

namespace {

const std::string png = "iVBORw0KGgoAAAAN";
const std::string jpeg = "/9j/4AAQSkZJRgAB";
const std::string gif = "R0lGODlhAQABAAAA";
const std::string webp = "UklGRiQAAABXRUJQ";

std::string image(std::string_view media, std::string_view data) {
  return R"({"type":"base64","media_type":")" + std::string{media} + R"(","data":")" +
         std::string{data} + "\"}";
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST(query_request, minimal_request_gets_the_defaults) {
  auto r = accept(R"({"prompt":"hello"})");
  EXPECT_EQ(r.prompt, "hello");
  EXPECT_EQ(r.permission_mode, "default");
  EXPECT_FALSE(r.model || r.session_id || r.cwd || r.max_turns || r.max_budget_usd);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(r.system_prompt));
  EXPECT_FALSE(r.include_partial_messages || r.enable_file_checkpointing);
}

TEST(query_request, null_means_absent) {
  auto r = accept(with(R"("model":null,"cwd":null,"max_turns":null)"));
  EXPECT_FALSE(r.model || r.cwd || r.max_turns);
}

TEST(query_request, unparsable_bodies_are_bad_requests) {
  for (std::string_view body :
       {"", "{", "[1]", "\"x\"", R"({"prompt":"a","prompt":"b"})", R"({"prompt":"a"} x)"}) {
    auto r = decode_turn_request(body, {});
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(errc_of(r.error()), errc::bad_request) << body;
  }
}

TEST(query_request, unknown_fields_are_refused_and_named_when_tame) {
  EXPECT_EQ(refuse_one(with(R"("extra_args":{"x":1})"), "extra_args"), "is not a known field");
  refuse_one(with(R"("settings":"{}")"), "settings");
  refuse_one(with(R"("max_buffer_size":1)"), "max_buffer_size");
  refuse_one(with(R"("sandbox":{"enabled":false})"), "sandbox");
  refuse_one(with(R"("bad name\n\u0000":1)"), "body");  // never echoed
}

TEST(query_request, unknown_field_names_follow_the_one_echo_rule) {
  // The same rule as every other body (json::field_errors): [A-Za-z0-9_]{1,64} is named.
  const std::string name_64(64, 'n');
  const std::string name_65(65, 'n');
  EXPECT_EQ(refuse_one(with("\"" + name_64 + "\":1"), name_64), "is not a known field");
  EXPECT_EQ(refuse_one(with("\"" + name_65 + "\":1"), "body"),
            "contains a field that is not known");
  for (std::string odd : {R"(a\u001fb)", R"(a\u007fb)", R"(a-b)", R"(a.b)", R"(h\u00e9)", R"()"})
    EXPECT_EQ(refuse_one(with("\"" + odd + "\":1"), "body"), "contains a field that is not known")
        << odd;
  // Nested objects: the member under its object's path, or the object alone.
  EXPECT_EQ(refuse_one(with(R"("metadata":{"x":1})"), "metadata.x"), "is not a known field");
  EXPECT_EQ(refuse_one(with(R"("metadata":{")" + name_65 + R"(":1})"), "metadata"),
            "contains a field that is not known");
  refuse_one(with(R"("metadata":{"bad\nname":1})"), "metadata");
  refuse_one(with(R"("output_format":{"type":"json_schema","schema":{},"x_1":1})"),
             "output_format.x_1");
  refuse_one(with(R"("agents":{"rev":{"description":"d","prompt":"p","x":1}})"), "agents.rev.x");
  refuse_one(with(R"("agents":{"rev":{"description":"d","prompt":"p","a b":1}})"), "agents.rev");
  refuse_one(with(R"("images":[{"type":"base64","media_type":"image/png","data":")" + png +
                  R"(","x":1}])"),
             "images[0].x");
}

TEST(query_request, subagent_texts_use_the_shared_string_rules) {
  auto agent = [](std::string_view members) {
    return with(R"("agents":{"rev":{)" + std::string{members} + "}}");
  };
  EXPECT_EQ(refuse_one(agent(R"("prompt":"p")"), "agents.rev.description"), "is required");
  EXPECT_EQ(refuse_one(agent(R"("description":"","prompt":"p")"), "agents.rev.description"),
            "must have between 1 and 1000 characters");
  EXPECT_EQ(refuse_one(agent(R"("description":"d","prompt":7)"), "agents.rev.prompt"),
            "must be a string");
  EXPECT_EQ(refuse_one(agent(R"("description":"d","prompt":"a\u0000")"), "agents.rev.prompt"),
            "must not contain NUL characters");
  EXPECT_EQ(accept(agent(R"("description":"d","prompt":"p")")).agents.at("rev").prompt, "p");
}

TEST(query_request, nested_duplicate_keys_are_refused) {
  refuse_one(with(R"("env":{"A":"1","A":"2"})"), "env");
  EXPECT_EQ(refuse_one(with(R"("metadata":{"tags":[{"a":1,"a":2}]})"), "metadata"),
            "contains a duplicate key");
}

TEST(query_request, every_bad_field_is_listed_at_once) {
  auto errs = refuse(R"({"prompt":"   ","model":"gpt-4","permission_mode":"yolo",
    "max_turns":0,"max_budget_usd":-1,"cwd":"/etc","session_id":"nope",
    "setting_sources":["local"],"include_partial_messages":"yes","unknown_thing":1})");
  EXPECT_EQ(errs.size(), 10u) << dump(errs);
  for (auto f : {"prompt", "model", "permission_mode", "max_turns", "max_budget_usd", "cwd",
                 "session_id", "setting_sources", "include_partial_messages", "unknown_thing"})
    EXPECT_TRUE(names(errs, f)) << f << "\n" << dump(errs);
}

TEST(query_request, prompt_length_counts_code_points) {
  auto at_limit = R"({"prompt":")" + repeat("\xC3\xA9", 100'000) + "\"}";  // 2 bytes each
  EXPECT_EQ(json::utf8_length(accept(at_limit).prompt), 100'000u);
  refuse_one(R"({"prompt":")" + repeat("\xC3\xA9", 100'001) + "\"}", "prompt");
  refuse_one(R"({"prompt":")" + repeat("a", 100'001) + "\"}", "prompt");
}

TEST(query_request, prompt_is_required_and_not_blank) {
  EXPECT_EQ(refuse_one(R"({})", "prompt"), "is required");
  refuse_one(R"({"prompt":""})", "prompt");
  refuse_one(R"({"prompt":" \t\r\n"})", "prompt");
  refuse_one(R"({"prompt":"\u3000\u00a0\u200b"})", "prompt");
  refuse_one(R"({"prompt":42})", "prompt");
  refuse_one(R"({"prompt":"a\u0000b"})", "prompt");
  EXPECT_EQ(accept(R"({"prompt":"/compact now"})").prompt, "/compact now");
}

TEST(query_request, images_of_every_media_type) {
  auto r = accept(with(R"("images":[)" + image("image/png", png) + "," + image("image/jpeg", jpeg) +
                       "," + image("image/gif", gif) + "," + image("image/webp", webp) + "]"));
  ASSERT_EQ(r.images.size(), 4u);
  EXPECT_EQ(r.images[1].media_type, "image/jpeg");
  EXPECT_EQ(r.images[0].data, png);
}

TEST(query_request, bad_images_are_refused) {
  auto one = [](std::string img) { return with(R"("images":[)" + img + "]"); };
  refuse_one(one(R"({"type":"url","media_type":"image/png","data":")" + png + "\"}"),
             "images[0].type");
  refuse_one(one(image("image/bmp", png)), "images[0].media_type");
  refuse_one(one(image("image/png", png + "A")), "images[0].data");        // length % 4
  refuse_one(one(image("image/png", png + "A*A=")), "images[0].data");     // alphabet
  refuse_one(one(image("image/png", png + "A=AA")), "images[0].data");     // inner padding
  refuse_one(one(image("image/png", png + "\\nAAAA")), "images[0].data");  // line break
  refuse_one(one(image("image/png", "")), "images[0].data");
  refuse_one(one(image("image/png", jpeg)), "images[0].data");  // not a PNG
  refuse_one(one(R"({"type":"base64","media_type":"image/png","data":")" + png + R"(","url":"x"})"),
             "images[0].url");
  refuse_one(one("\"x\""), "images[0]");
  refuse_one(with(R"("images":[)" + repeat(image("image/png", png) + ",", 20) +
                  image("image/png", png) + "]"),
             "images");
}

TEST(query_request, image_size_limit_is_five_mib_decoded) {
  // 6,990,508 base64 characters with one '=' decode to exactly 5 MiB.
  auto exact = png + std::string(6'990'508 - png.size() - 1, 'A') + "=";
  auto r = accept(with(R"("images":[)" + image("image/png", exact) + "]"));
  EXPECT_EQ(r.images.size(), 1u);
  auto over = png + std::string(6'990'508 - png.size(), 'A');  // 5 MiB + 1
  refuse_one(with(R"("images":[)" + image("image/png", over) + "]"), "images[0].data");
}

TEST(query_request, models) {
  for (auto m : {"sonnet", "opus", "haiku", "claude-opus-4-8[1m]", "claude-sonnet-4-5-20250929",
                 "claude-3.5-haiku"})
    EXPECT_EQ(accept(with(R"("model":")" + std::string{m} + "\"")).model, m);
  for (auto m : {"gpt-4", "claude-", "Claude-opus", "claude-opus[2m]", "default", "sonnet[1m]",
                 "claude-opus 4", "claude-opus_4"})
    refuse_one(with(R"("model":")" + std::string{m} + "\""), "model");
  refuse_one(with(R"("model":"claude-)" + std::string(65, 'a') + "\""), "model");
  refuse_one(with(R"("model":7)"), "model");
}

TEST(query_request, permission_modes_and_bypass_policy) {
  for (auto m : {"default", "acceptEdits", "plan", "dontAsk"})
    EXPECT_EQ(accept(with(R"("permission_mode":")" + std::string{m} + "\"")).permission_mode, m);
  auto bypass = with(R"("permission_mode":"bypassPermissions")");
  EXPECT_EQ(refuse_one(bypass, "permission_mode"),
            "bypassPermissions is not allowed for this tenant");
  decode_policy allowed;
  allowed.allow_bypass = true;
  EXPECT_EQ(accept(bypass, allowed).permission_mode, "bypassPermissions");
  refuse_one(with(R"("permission_mode":"BypassPermissions")"), "permission_mode", allowed);
}

TEST(query_request, tool_names) {
  for (auto t : {"Read", "Bash", "mcp__github__create_issue", "mcp__my-srv__do-it", "mcp__files",
                 "Bash(npm test:*)", "WebFetch(domain:example.com)", "Read(./src/**)",
                 "NotebookEdit", "a_b1"})
    EXPECT_TRUE(is_tool_name(t)) << t;
  for (auto t :
       {"", "1Read", "Bash;rm", "Read-Write", "mcp__", "mcp__a__", "mcp____x", "Bash(", "Bash()",
        "Bash(a,b)", "Bash(a(b))", "Bash(a\nb)", "(x)", "Bash (x)", "Bash(x)y", "Read\xC3\xA9"})
    EXPECT_FALSE(is_tool_name(t)) << t;
  EXPECT_TRUE(is_tool_name(std::string(64, 'A')));
  EXPECT_FALSE(is_tool_name(std::string(65, 'A')));
  EXPECT_TRUE(is_tool_name("Bash(" + std::string(200, 'x') + ")"));
  EXPECT_FALSE(is_tool_name("Bash(" + std::string(201, 'x') + ")"));
  EXPECT_TRUE(is_tool_name("mcp__" + std::string(64, 's') + "__" + std::string(64, 't')));
  EXPECT_FALSE(is_tool_name("mcp__" + std::string(65, 's') + "__" + std::string(64, 't')));
}

TEST(query_request, tool_lists) {
  auto r =
      accept(with(R"j("allowed_tools":["Read","Bash(git log:*)"],"disallowed_tools":["Write"])j"));
  EXPECT_EQ(r.allowed_tools, (std::vector<std::string>{"Read", "Bash(git log:*)"}));
  EXPECT_EQ(r.disallowed_tools, std::vector<std::string>{"Write"});
  refuse_one(with(R"("allowed_tools":["Read","rm -rf /"])"), "allowed_tools[1]");
  refuse_one(with(R"("disallowed_tools":"Read")"), "disallowed_tools");
  EXPECT_EQ(refuse_one(with(R"("allowed_tools":["Read","Bash"],"disallowed_tools":["Bash"])"),
                       "disallowed_tools"),
            "names a tool that is also in allowed_tools");
  refuse_one(with(R"("allowed_tools":[)" + repeat("\"Read\",", 100) + "\"Read\"]"),
             "allowed_tools");
}

TEST(query_request, limits) {
  EXPECT_EQ(accept(with(R"("max_turns":1)")).max_turns, 1);
  EXPECT_EQ(accept(with(R"("max_turns":1000)")).max_turns, 1000);
  for (auto v : {"0", "1001", "1.5", "\"3\"", "-1", "true"})
    refuse_one(with(R"("max_turns":)" + std::string{v}), "max_turns");
  EXPECT_DOUBLE_EQ(*accept(with(R"("max_budget_usd":0.01)")).max_budget_usd, 0.01);
  EXPECT_DOUBLE_EQ(*accept(with(R"("max_budget_usd":1000)")).max_budget_usd, 1000.0);
  for (auto v : {"0", "-1", "1000.01", "\"1\""})
    refuse_one(with(R"("max_budget_usd":)" + std::string{v}), "max_budget_usd");
  auto inf = decode_turn_request(with(R"("max_budget_usd":1e400)"), {});
  ASSERT_FALSE(inf);
  EXPECT_EQ(errc_of(inf.error()), errc::bad_request);
}

TEST(query_request, session_id_is_a_uuid_and_lower_cased) {
  auto r = accept(with(R"("session_id":"0F8FAD5B-D9CB-469F-A165-70867728950E")"));
  EXPECT_EQ(r.session_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
  for (auto v : {"\"abc\"", "\"0f8fad5b-d9cb-469f-a165-70867728950\"", "17",
                 "\"0f8fad5bd9cb469fa16570867728950e\""})
    refuse_one(with(R"("session_id":)" + std::string{v}), "session_id");
}

TEST(query_request, booleans) {
  auto r = accept(with(R"("include_partial_messages":true,"enable_file_checkpointing":true)"));
  EXPECT_TRUE(r.include_partial_messages && r.enable_file_checkpointing);
  refuse_one(with(R"("enable_file_checkpointing":1)"), "enable_file_checkpointing");
}

TEST(query_request, decode_turn_object_leaves_extra_fields_to_the_caller) {
  rapidjson::Document frame;
  frame.Parse(R"({"type":"prompt","prompt":"hi","session_id":null})");
  auto r = decode_turn_object(frame, {}, {"type"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->prompt, "hi");
  auto strict = decode_turn_object(frame, {});
  ASSERT_FALSE(strict);
  EXPECT_EQ(caa::fields_of(strict.error()),
            (std::vector<caa::field_error>{{"type", "is not a known field"}}));
}

TEST(query_request, policy_from_settings) {
  settings cfg;
  cfg.agent.bypass_tenants = {"ops"};
  cfg.egress.webhook_allow_http = true;
  cfg.egress.mcp_stdio_allowed_commands = {"/usr/bin/mcp"};
  cfg.egress.allow_cidrs = {"127.0.0.1/32"};
  auto key = auth::test_access::passkey();
  http::principal ops{key, "11111111-1111-4111-8111-111111111111", "ops", "k1", true, false};
  http::principal other{key, "22222222-2222-4222-8222-222222222222", "other", "k2", true, false};
  auto p = make_decode_policy(cfg, ops);
  EXPECT_TRUE(p.allow_bypass && p.allow_http_urls);
  EXPECT_EQ(p.mcp_stdio_commands, std::vector<std::string>{"/usr/bin/mcp"});
  EXPECT_TRUE(p.mcp_servers_enabled);
  EXPECT_TRUE(p.hooks_enabled);  // webhooks go through the outbound client
  EXPECT_EQ(p.egress_allow_cidrs, std::vector<std::string>{"127.0.0.1/32"});
  EXPECT_FALSE(make_decode_policy(cfg, other).allow_bypass);
}
