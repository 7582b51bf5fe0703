// The turn request decoder: shapes of `mcp_servers` and `hooks` (URLs, header and env policy)
// and their gating by the decode policy.

#include "query_test_util.hpp"

using namespace caa;
using namespace caa::api;
using namespace caa::api::test;

namespace {

std::string mcp(std::string_view servers) {
  return with(R"("mcp_servers":)" + std::string{servers});
}

std::string hooks(std::string_view events) {
  return with(R"("hooks":)" + std::string{events});
}

}  // namespace

TEST(query_request_mcp, valid_servers_are_kept_as_compact_json) {
  auto r = accept(mcp(R"({"files":{"command":"/usr/local/bin/mcp-files","args":["--ro"],
    "env":{"ROOT_DIR":"x"}},"docs":{"type":"http","url":"https://mcp.example.com/v1",
    "headers":{"X-Token":"t"}}})"),
                  open_policy());
  EXPECT_EQ(r.mcp_servers,
            R"({"files":{"command":"/usr/local/bin/mcp-files","args":["--ro"],"env":{"ROOT_DIR":)"
            R"("x"}},"docs":{"type":"http","url":"https://mcp.example.com/v1","headers":)"
            R"({"X-Token":"t"}}})");
}

TEST(query_request_mcp, refused_unless_enabled) {
  auto body = mcp(R"({"docs":{"type":"sse","url":"https://mcp.example.com/sse"}})");
  EXPECT_EQ(refuse_one(body, "mcp_servers"), "is not enabled on this server");
  EXPECT_TRUE(accept(body, open_policy()).mcp_servers);
}

TEST(query_request_mcp, stdio_rules) {
  auto p = open_policy();
  EXPECT_EQ(refuse_one(mcp(R"({"s":{"command":"/bin/bash","args":["-c","id"]}})"),
                       "mcp_servers.s.command", p),
            "is not on the operator's allow-list");
  refuse_one(mcp(R"({"s":{"args":[]}})"), "mcp_servers.s.command", p);
  refuse_one(mcp(R"({"s":{"command":"/usr/local/bin/mcp-files","args":"x"}})"),
             "mcp_servers.s.args", p);
  refuse_one(mcp(R"({"s":{"command":"/usr/local/bin/mcp-files","env":{"LD_PRELOAD":"x"}}})"),
             "mcp_servers.s.env.LD_PRELOAD", p);
  refuse_one(mcp(R"({"s":{"command":"/usr/local/bin/mcp-files","env":{"bad name":"x"}}})"),
             "mcp_servers.s.env", p);
  refuse_one(mcp(R"({"s":{"command":"/usr/local/bin/mcp-files","url":"https://x.io"}})"),
             "mcp_servers.s.url", p);
  refuse_one(mcp(R"({"s":{"command":"/usr/local/bin/mcp-files","command":"/bin/sh"}})"),
             "mcp_servers", p);  // duplicate key: the CLI would take the last one
}

TEST(query_request_mcp, remote_rules) {
  auto p = open_policy();
  auto url = [&](std::string u) { return mcp(R"({"r":{"type":"http","url":")" + u + "\"}}"); };
  for (auto u : {"http://mcp.example.com", "ftp://x.io", "https://", "https://u:p@x.io/",
                 "https://x.io/a b", "https://x.io\\\\@evil", "file:///etc/passwd", "x.io"})
    refuse_one(url(u), "mcp_servers.r.url", p);
  p.allow_http_urls = true;
  accept(url("http://mcp.example.com"), p);
  refuse_one(mcp(R"({"r":{"type":"sdk","name":"x"}})"), "mcp_servers.r.type", p);
  refuse_one(mcp(R"({"r":{"type":"sse","url":"https://x.io","command":"/x"}})"),
             "mcp_servers.r.command", p);
  refuse_one(mcp(R"({"bad name!":{"type":"sse","url":"https://x.io"}})"), "mcp_servers", p);
  refuse_one(mcp(R"({"r":"https://x.io"})"), "mcp_servers.r", p);
}

TEST(query_request_mcp, header_policy) {
  auto p = open_policy();
  auto header = [](std::string name, std::string value) {
    return mcp(R"({"r":{"type":"http","url":"https://x.io","headers":{")" + name + R"(":")" +
               value + "\"}}}");
  };
  for (auto n : {"Host", "content-length", "Transfer-Encoding", "Connection", "TE", "Upgrade"})
    refuse_one(header(n, "v"), "mcp_servers.r.headers." + std::string{n}, p);
  refuse_one(header("X-A", "a\\r\\nInjected: 1"), "mcp_servers.r.headers.X-A", p);
  refuse_one(header("X-A", "a\\u0000"), "mcp_servers.r.headers.X-A", p);
  refuse_one(header("X-A", std::string(4097, 'v')), "mcp_servers.r.headers.X-A", p);
  refuse_one(header("Bad Name", "v"), "mcp_servers.r.headers", p);
  refuse_one(header("X:Y", "v"), "mcp_servers.r.headers", p);
  accept(header("Authorization", "Bearer abc\\tdef"), p);
}

TEST(query_request_hooks, valid_hooks_are_kept) {
  auto r = accept(hooks(R"({"PreToolUse":[{"url":"https://hooks.example.com/pre",
    "matcher":"Bash|Write","timeout":30,"headers":{"X-Sig":"s"}}],
    "Stop":[{"url":"https://hooks.example.com/stop"}]})"),
                  open_policy());
  EXPECT_EQ(r.hooks, R"({"PreToolUse":[{"url":"https://hooks.example.com/pre","matcher":)"
                     R"("Bash|Write","timeout":30,"headers":{"X-Sig":"s"}}],"Stop":[{"url":)"
                     R"("https://hooks.example.com/stop"}]})");
  for (auto e : {"PostToolUse", "UserPromptSubmit", "SubagentStop", "PreCompact", "Notification"})
    accept(hooks(R"({")" + std::string{e} + R"(":[{"url":"https://h.io"}]})"), open_policy());
}

TEST(query_request_hooks, rules) {
  auto p = open_policy();
  EXPECT_EQ(refuse_one(hooks(R"({"Stop":[{"url":"https://h.io"}]})"), "hooks"),
            "is not enabled on this server");
  refuse_one(hooks(R"({"SessionStart":[{"url":"https://h.io"}]})"), "hooks", p);
  refuse_one(hooks(R"({"Stop":[]})"), "hooks.Stop", p);
  refuse_one(hooks(R"({"Stop":{"url":"https://h.io"}})"), "hooks.Stop", p);
  refuse_one(hooks(R"({"Stop":[{"url":"http://h.io"}]})"), "hooks.Stop[0].url", p);
  refuse_one(hooks(R"({"Stop":[{}]})"), "hooks.Stop[0].url", p);
  for (auto t : {"0", "301", "1.5", "\"30\""})
    refuse_one(hooks(R"({"Stop":[{"url":"https://h.io","timeout":)" + std::string{t} + "}]}"),
               "hooks.Stop[0].timeout", p);
  accept(hooks(R"({"Stop":[{"url":"https://h.io","timeout":300}]})"), p);
  refuse_one(
      hooks(R"({"Stop":[{"url":"https://h.io","matcher":")" + std::string(201, 'm') + "\"}]}"),
      "hooks.Stop[0].matcher", p);
  refuse_one(hooks(R"({"Stop":[{"url":"https://h.io","matcher":"a\nb"}]})"),
             "hooks.Stop[0].matcher", p);
  refuse_one(hooks(R"({"Stop":[{"url":"https://h.io","headers":{"Host":"x"}}]})"),
             "hooks.Stop[0].headers.Host", p);
  refuse_one(hooks(R"({"Stop":[{"url":"https://h.io","method":"GET"}]})"), "hooks.Stop[0].method",
             p);
  p.allow_http_urls = true;
  accept(hooks(R"({"Stop":[{"url":"http://h.io"}]})"), p);
}

TEST(query_request_hooks, ssrf_hosts_are_refused_at_validation) {
  auto p = open_policy();
  p.allow_http_urls = true;
  auto hook = [](std::string u) { return hooks(R"({"PreToolUse":[{"url":")" + u + "\"}]}"); };
  auto server = [](std::string u) { return mcp(R"({"r":{"type":"sse","url":")" + u + "\"}}"); };
  for (auto u :
       {"http://127.0.0.1:8080/h", "https://2130706433/", "https://0177.0.0.1/", "https://0x7f.1/",
        "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://localhost/",
        "https://api.localhost./", "https://10.0.0.1/", "https://169.254.169.254/latest",
        "https://metadata.google.internal/", "https://good.com@127.0.0.1/"}) {
    auto why = refuse_one(hook(u), "hooks.PreToolUse[0].url", p);
    EXPECT_EQ(why.find("127.0.0.1"), std::string::npos) << why;  // the URL is not echoed
    refuse_one(server(u), "mcp_servers.r.url", p);
  }
  EXPECT_EQ(refuse_one(hook("https://[::1]/"), "hooks.PreToolUse[0].url", p),
            "the host is an IP address outside the egress allow-list");
  // Names go to resolution, where the outbound client checks every address.
  accept(hook("https://127.0.0.1.nip.io/h"), p);
  accept(server("https://localhost.example.com/sse"), p);
}

TEST(query_request_hooks, egress_allow_list_admits_loopback) {
  auto p = open_policy();
  p.allow_http_urls = true;
  p.egress_allow_cidrs = {"127.0.0.1/32"};
  auto hook = [](std::string u) { return hooks(R"({"Stop":[{"url":")" + u + "\"}]}"); };
  for (auto u : {"http://127.0.0.1:8080/h", "https://2130706433/", "https://localhost:9/"})
    accept(hook(u), p);
  accept(mcp(R"({"r":{"type":"http","url":"http://127.0.0.1:7000/mcp"}})"), p);
  for (auto u : {"http://127.0.0.2/", "https://[::1]/", "https://169.254.169.254/"})
    refuse_one(hook(u), "hooks.Stop[0].url", p);
  p.allow_http_urls = false;
  refuse_one(hook("http://127.0.0.1:8080/h"), "hooks.Stop[0].url", p);
}
