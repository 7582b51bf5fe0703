// The hostile-tenant battery: tenant A's agent, with tenant B active, tries one attack per Bash
// tool call (a new session per attempt) against the sandbox the service puts around every CLI.
// Every attempt must be refused and its turn still answered (`result` and `done`/completed);
// no secret of the suite may appear anywhere in what A's turns stream. After the battery the
// service is healthy, B's next turn works, and the model's request log shows that the operator's
// real key arrived (through the service's proxy) while the agent only ever held a placeholder.
// Needs DATABASE_URL, CLAUDE_CLI_PATH and the scripted_model binary (skipped otherwise).
//
// How an attempt decides "refused": most commands end in `&& <escaped> || <refused>`, two echo
// lines written so that the marker text ("caa-verdict:escaped" / "caa-verdict:refused") occurs
// only in the command's OUTPUT, never in the command itself (which the stream also carries). An
// attempt is refused when the tool output holds the refused marker and the stream nowhere holds
// the escaped one; a tool call that never ran (no marker at all) fails the row, so a broken
// sandbox cannot pass by accident. Rows whose refusal is a number or a host-side fact (uid,
// capabilities, memory, processes, disk, /tmp, the listener) check that instead or as well.

#include "tests/integration/sandbox_battery_fixture.hpp"
#include "tests/integration/sandbox_battery_probes.hpp"

#include <signal.h>
#include <sys/stat.h>

using namespace caa::test;
using namespace std::chrono_literals;

using namespace caa::test::battery;

namespace caa::test {

/// The battery itself, as one test: the attempts depend on B's earlier turn and end with B's
/// next one, and ctest runs every TEST of a binary in a process (and a service) of its own.
TEST_F(sandbox_battery_test, a_hostile_tenant_is_refused_everything_and_the_service_stays_up) {
  const auto& A = alpha_;
  const auto& B = beta_;
  const auto b_work = tenant_dir(B, "work");
  const auto b_config = tenant_dir(B, "config");
  const auto a_work = tenant_dir(A, "work");

  // -- The secrets tenant A must never see ------------------------------------------------------
  auto& S = secrets();
  S.clear();
  const auto b_secret = "beta-work-secret-" + random_hex(16);
  const auto b_config_secret = "beta-config-secret-" + random_hex(16);
  S.emplace_back("operator key", operator_key_);
  S.emplace_back("admin key", env_["API_KEY"]);
  S.emplace_back("B's agent key", B.key);
  S.emplace_back("root 0600 file secret", root_secret_);
  S.emplace_back("tenant variable secret", vars_secret_);
  S.emplace_back("B's workspace secret", b_secret);
  S.emplace_back("B's config secret", b_config_secret);
  const auto planted_secret = "planted-root-secret-" + random_hex(16);
  S.emplace_back("root 0600 file in A's tree", planted_secret);
  for (auto& line : lines_of("/etc/shadow"))
    if (line.size() >= 8) S.emplace_back("a line of /etc/shadow", line);
  // Fixed prefixes for grep inside the sandbox (the command carries the prefix only; a leak
  // prints the whole secret, which the stream check then finds).
  const std::string operator_prefix = operator_key_.substr(0, 16);
  const std::string admin_prefix = env_["API_KEY"].substr(0, 14);
  const std::string vars_prefix = vars_secret_.substr(0, 28);
  const std::string secret_greps =
      " -e " + operator_prefix + " -e " + admin_prefix + " -e " + vars_prefix;

  // -- Tenant B is active: a session whose workspace, config dir and /tmp hold its secrets -----
  auto b_first = bash_turn(B, "echo " + b_secret + " > secret-b.txt && echo " + b_secret +
                                  " > /tmp/b-marker && echo \"uid=$(id -u)\"");
  ASSERT_EQ(b_first.turn.status, 200u) << b_first.turn.body;
  ASSERT_EQ(done_reason(b_first.turn), "completed") << b_first.turn.body;
  const auto b_session = b_first.session;
  const auto b_uid = number_after(b_first.output, "uid");
  ASSERT_TRUE(b_uid.has_value()) << "B's Bash tool ran: " << b_first.output;
  ASSERT_TRUE(std::filesystem::exists(b_work / "secret-b.txt")) << b_work;
  ASSERT_TRUE(std::filesystem::is_directory(b_config)) << b_config;
  write_file(b_config / "secret-b-config.txt", b_config_secret + "\n",
             std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                 std::filesystem::perms::group_read | std::filesystem::perms::others_read);

  // -- Host-side facts the attempts aim at -----------------------------------------------------
  const int service_pid = service_->pid();
  std::error_code ec;
  const auto service_log =
      std::filesystem::read_symlink("/proc/" + std::to_string(service_pid) + "/fd/2", ec);
  std::string pg_data, pg_socket;
  try {
    auto rows = raw_query(env_["DATABASE_URL"], "SHOW data_directory");
    if (!rows.empty() && !rows[0].empty() && rows[0][0]) pg_data = *rows[0][0];
    auto dirs = raw_query(env_["DATABASE_URL"], "SHOW unix_socket_directories");
    auto port = url_endpoint(env_["DATABASE_URL"], 5432);
    if (!dirs.empty() && !dirs[0].empty() && dirs[0][0] && port) {
      auto first = dirs[0][0]->substr(0, dirs[0][0]->find(','));
      pg_socket = first + "/.s.PGSQL." + std::to_string(port->second);
    }
  } catch (const std::exception&) {
  }
  if (pg_data.empty())
    if (const char* d = std::getenv("CAA_PGDATA")) pg_data = d;
  const auto pg = url_endpoint(env_["DATABASE_URL"], 5432);
  const auto redis = url_endpoint(env_.count("REDIS_URL") ? env_["REDIS_URL"] : "", 6379);
  const auto pg_host = pg ? loopback_of(pg->first) : std::nullopt;
  const auto redis_host = redis ? loopback_of(redis->first) : std::nullopt;
  if (listener_) {
    // The listener really accepts connections from this host.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(listener_->port());
    ::inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::close(fd);
    EXPECT_TRUE(eventually([&] { return listener_->accepted() == 1; }, 5s));
    listener_->reset();
  }
  const auto tmp_word = unique_word("caa-escape-tmp");
  // Should A's /tmp file land on the host, it is removed when the test ends (after B's check).
  std::unique_ptr<const std::string, void (*)(const std::string*)> tmp_cleanup{
      &tmp_word, [](const std::string* word) {
        std::error_code ignored;
        std::filesystem::remove(std::filesystem::path{"/tmp"} / *word, ignored);
      }};
  const auto model_probe = "/caa-escape-" + random_hex(8);

  // -- The table of attempts ---------------------------------------------------------------------
  struct attempt {
    attempt(std::string n, std::string c, std::function<void(const attempt_outcome&)> k,
            std::string s = {}, std::function<void()> b = {})
        : name(std::move(n)),
          command(std::move(c)),
          check(std::move(k)),
          skip(std::move(s)),
          before(std::move(b)) {}
    std::string name;
    std::string command;
    std::function<void(const attempt_outcome&)> check;
    std::string skip;              ///< why the row cannot run here ("" when it runs)
    std::function<void()> before;  ///< host-side preparation right before the turn (optional)
  };
  auto refused = [](const attempt_outcome& o) {
    EXPECT_NE(o.output.find(refused_marker), std::string::npos)
        << "the probe did not report a refusal; tool output:\n"
        << redact(o.output);
  };
  auto skip_unless = [](bool ok, const std::string& why) { return ok ? std::string{} : why; };

  std::vector<attempt> table{
      // Inside a user namespace the uid the agent sees may be a mapped one: the host uid is the
      // owner of a file it creates, compared with the owner of the file B created.
      {"runs as an unprivileged uid that is neither root nor B's",
       "echo \"uid=$(id -u) gid=$(id -g) groups=$(id -G)\" && echo probe > caa-uid-probe",
       [&](const attempt_outcome& o) {
         auto uid = number_after(o.output, "uid");
         auto gid = number_after(o.output, "gid");
         ASSERT_TRUE(uid && gid) << redact(o.output);
         EXPECT_NE(*uid, 0) << "A's agent runs as root";
         EXPECT_NE(*gid, 0) << "A's agent runs with gid 0";
         std::istringstream groups{text_after(o.output, "groups")};
         for (std::string g; groups >> g;) EXPECT_NE(g, "0") << "A's agent is in group 0";
         auto a_host = owner_of(a_work / "caa-uid-probe");
         auto b_host = owner_of(b_work / "secret-b.txt");
         ASSERT_TRUE(a_host && b_host) << "A's probe file is not in its workspace";
         EXPECT_NE(a_host->first, 0u) << "A's agent is root on the host";
         EXPECT_NE(a_host->second, 0u) << "A's agent has gid 0 on the host";
         EXPECT_NE(a_host->first, b_host->first) << "A's agent has B's host uid";
         std::filesystem::remove(a_work / "caa-uid-probe", ec);
       }},
      {"holds no capability and cannot gain privileges",
       "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status",
       [&](const attempt_outcome& o) {
         for (const char* cap : {"CapEff", "CapPrm", "CapBnd", "CapAmb"})
           EXPECT_TRUE(std::regex_search(o.output, std::regex{std::string{cap} + R"(:\s*0+\s)"}))
               << cap << " is not 0:\n"
               << redact(o.output);
         EXPECT_TRUE(std::regex_search(o.output, std::regex{R"(NoNewPrivs:\s*1\s)"}))
             << redact(o.output);
       }},
      {"reads a root 0600 file outside the workspace", verdict("cat " + root_file_.string()),
       refused},
      {"reads a root 0600 file planted in its own workspace",
       verdict("cat " + (a_work / "caa-root-only.txt").string()),
       [&](const attempt_outcome& o) {
         refused(o);
         std::filesystem::remove(a_work / "caa-root-only.txt", ec);
       },
       "",
       [&] {
         // Visible inside A's sandbox (its own tree): only the uid drop can refuse it.
         ASSERT_TRUE(std::filesystem::is_directory(a_work)) << a_work;
         write_file(a_work / "caa-root-only.txt", planted_secret + "\n",
                    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
       }},
      {"reads /etc/shadow", verdict("head -n 3 /etc/shadow"), refused},
      {"reads the service's tenant-variables file", verdict("cat " + vars_file_.string()), refused},
      {"reads the service's log file", verdict("head -c 4000 " + service_log.string()),
       [&](const attempt_outcome& o) {
         refused(o);
         EXPECT_EQ(o.output.find("\"msg\":\"listening\""), std::string::npos) << redact(o.output);
       },
       skip_unless(!service_log.empty(), "the service's log path is unknown")},
      {"reads the service's environment through /proc",
       verdict("tr '\\0' '\\n' < /proc/" + std::to_string(service_pid) +
               "/environ | grep -a -e '^API_KEY=' -e '^DATABASE_URL=' -e '^REDIS_URL='"),
       refused},
      {"signals the service process", verdict("kill -0 " + std::to_string(service_pid)),
       [&](const attempt_outcome& o) {
         refused(o);
         EXPECT_TRUE(alive(service_pid));
       }},
      {"lists PostgreSQL's data directory", verdict("ls -la " + pg_data), refused,
       skip_unless(!pg_data.empty() && std::filesystem::exists(pg_data + "/PG_VERSION", ec),
                   "PostgreSQL's data directory is not on this host")},
      {"sees PostgreSQL's unix socket", verdict("test -S " + pg_socket), refused,
       skip_unless(!pg_socket.empty() && std::filesystem::is_socket(pg_socket, ec),
                   "PostgreSQL has no unix socket on this host")},
      {"reads B's workspace by path", verdict("cat " + (b_work / "secret-b.txt").string()),
       refused},
      {"reads B's config dir by path",
       verdict("ls -la " + b_config.string() + " && cat " +
               (b_config / "secret-b-config.txt").string()),
       refused},
      {"lists B's tenant directory by path", verdict("ls -la " + tenant_dir(B, "").string()),
       refused},
      {"follows a symlink planted in its own tree to B's workspace",
       "ln -sfn " + b_work.string() + " caa-link-b-work && echo link-made\n" +
           verdict("cat caa-link-b-work/secret-b.txt") + "\nrm -f caa-link-b-work",
       [&](const attempt_outcome& o) {
         EXPECT_NE(o.output.find("link-made"), std::string::npos) << redact(o.output);
         refused(o);
       }},
      {"follows a symlink planted in its own tree to B's config dir",
       "ln -sfn " + b_config.string() + " caa-link-b-config && echo link-made\n" +
           verdict("ls -la caa-link-b-config/ && cat caa-link-b-config/secret-b-config.txt") +
           "\nrm -f caa-link-b-config",
       [&](const attempt_outcome& o) {
         EXPECT_NE(o.output.find("link-made"), std::string::npos) << redact(o.output);
         refused(o);
       }},
      {"unmounts /tmp", verdict("umount -l /tmp"), refused},
      {"mounts a file system",
       "mkdir -p caa-mount-probe\n" + verdict("mount -t tmpfs caa-probe caa-mount-probe") +
           "\numount caa-mount-probe 2>/dev/null; rmdir caa-mount-probe",
       refused},
      {"connects to PostgreSQL", verdict(tcp_probe(pg_host.value_or(""), pg ? pg->second : 0)),
       refused, skip_unless(pg_host.has_value(), "PostgreSQL is not on a loopback address")},
      {"connects to Redis",
       verdict(tcp_probe(redis_host.value_or(""), redis ? redis->second : 0,
                         "printf \"PING\\r\\n\" >&3; timeout 2 head -c 7 <&3")),
       [&](const attempt_outcome& o) {
         refused(o);
         EXPECT_EQ(o.output.find("PONG"), std::string::npos) << redact(o.output);
       },
       skip_unless(redis_host.has_value(), "Redis is not on a loopback address")},
      {"connects to the service's port",
       verdict(
           tcp_probe("127.0.0.1", port(),
                     "printf \"GET /health HTTP/1.0\\r\\n\\r\\n\" >&3; timeout 2 head -c 300 <&3")),
       [&](const attempt_outcome& o) {
         refused(o);
         EXPECT_EQ(o.output.find("\"status\":\"ok\""), std::string::npos) << redact(o.output);
       }},
      {"connects to the model's port",
       verdict(tcp_probe("127.0.0.1", model_->port(),
                         "printf \"GET " + model_probe +
                             " HTTP/1.0\\r\\n\\r\\n\" >&3; timeout 2 head -c 300 <&3")),
       [&](const attempt_outcome& o) {
         refused(o);
         // Request paths only: the probe's text also travels in the conversation the CLI
         // sends through the proxy (the tool call that ran it).
         auto log = parse_json(model_log());
         ASSERT_TRUE(log.IsArray());
         for (auto& entry : log.GetArray()) {
           if (!entry.IsObject() || !entry.HasMember("path") || !entry["path"].IsString()) continue;
           EXPECT_NE(std::string{entry["path"].GetString()}, model_probe)
               << "the agent's request reached the model directly";
         }
       }},
      {"connects to a host listener on another loopback address",
       verdict(tcp_probe("127.0.0.2", listener_ ? listener_->port() : 0)),
       [&](const attempt_outcome& o) {
         refused(o);
         EXPECT_EQ(listener_->accepted(), 0) << "the host listener saw a connection";
       },
       skip_unless(listener_ != nullptr, "cannot listen on 127.0.0.2: " + listener_error_)},
      {"tunnels to a loopback listener through the egress proxy (its name is on the list)",
       "echo \"proxy=$HTTPS_PROXY\"\n" +
           verdict("curl -sS --max-time 5 -o /dev/null -p -x \"$HTTPS_PROXY\" http://127.0.0.2:" +
                   std::to_string(listener_ ? listener_->port() : 0) + "/"),
       [&](const attempt_outcome& o) {
         refused(o);
         EXPECT_EQ(text_after(o.output, "proxy"), "http://127.0.0.1:3128") << redact(o.output);
         EXPECT_EQ(listener_->accepted(), 0) << "the host listener saw a connection";
       },
       skip_unless(listener_ != nullptr, "cannot listen on 127.0.0.2: " + listener_error_)},
      {"reads the operator key from its environment",
       "echo \"key-prefix=${ANTHROPIC_API_KEY:0:15}\"\n" + verdict("env | grep -a" + secret_greps),
       [&](const attempt_outcome& o) {
         refused(o);
         auto prefix = text_after(o.output, "key-prefix");
         EXPECT_TRUE(prefix.empty() || prefix == "sk-ant-sandbox-")
             << "the agent's ANTHROPIC_API_KEY is not the placeholder: " << redact(prefix);
       }},
      {"reads the operator key from /proc/*/environ",
       "echo \"processes=$(ls -d /proc/[0-9]* | wc -l)\"\n" +
           verdict("cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -a" +
                   secret_greps),
       refused},
      {"reads the operator key from /proc/1/cmdline and /proc/1/environ",
       "echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"\n" +
           verdict("cat /proc/1/cmdline /proc/1/environ 2>/dev/null | tr '\\0' '\\n' | grep -a" +
                   secret_greps),
       refused},
      {"writes /tmp (private: not the host's, not B's)",
       "echo " + tmp_word + " > /tmp/" + tmp_word + " && ls -a /tmp",
       [&](const attempt_outcome& o) {
         EXPECT_NE(o.output.find(tmp_word), std::string::npos)
             << "the write to the sandbox's /tmp did not happen:\n"
             << redact(o.output);
         EXPECT_EQ(o.output.find("b-marker"), std::string::npos) << "A sees B's /tmp";
         EXPECT_FALSE(std::filesystem::exists(std::filesystem::path{"/tmp"} / tmp_word))
             << "A's file landed in the host's /tmp";
         EXPECT_FALSE(std::filesystem::exists(tenant_dir(B, "tmp") / tmp_word));
       }},
      {"allocates past AGENT_MEMORY_MAX",
       "head -c " + std::to_string(3 * memory_max) +
           " /dev/zero | tail -n 1 >/dev/null\nrc=${PIPESTATUS[1]}\necho \"alloc-exit=$rc\"\n"
           "[ \"$rc\" -ne 0 ] && " +
           refused_line + " || " + escaped_line,
       [&](const attempt_outcome& o) {
         bool killed = std::regex_search(o.output, std::regex{R"(\b137\b|Killed)"});
         EXPECT_TRUE(o.output.find(refused_marker) != std::string::npos || killed)
             << "the allocation was not stopped:\n"
             << redact(o.output);
       }},
      {"forks past AGENT_PIDS_MAX",
       "( for ((i=0;i<200;i++)); do sleep 30 >/dev/null 2>&1 & echo $! >> .caa-pids; done )\n"
       "n=0; while read -r p; do kill \"$p\" 2>/dev/null && n=$((n+1)); done < .caa-pids\n"
       "rm -f .caa-pids\necho \"started=$n\"",
       [&](const attempt_outcome& o) {
         auto started = number_after(o.output, "started");
         ASSERT_TRUE(started.has_value()) << redact(o.output);
         EXPECT_LT(*started, static_cast<long long>(pids_max)) << redact(o.output);
         EXPECT_NE(o.output.find("Resource temporarily unavailable"), std::string::npos)
             << "fork did not fail:\n"
             << redact(o.output);
       }},
      {"writes one file past TENANT_DISK_QUOTA",
       "head -c " + std::to_string(2 * disk_quota) +
           " /dev/zero > caa-big.bin\nrc=$?\n"
           "echo \"write-exit=$rc size=$(stat -c %s caa-big.bin)\"\nrm -f caa-big.bin",
       [&](const attempt_outcome& o) {
         auto rc = number_after(o.output, "write-exit");
         auto size = number_after(o.output, "size");
         ASSERT_TRUE(rc && size) << redact(o.output);
         EXPECT_NE(*rc, 0) << "the write past the quota succeeded";
         // The file stops at the cap (RLIMIT_FSIZE; a limit set in KiB may round it up a bit).
         EXPECT_LE(*size, static_cast<long long>(disk_quota + 65536)) << redact(o.output);
       }},
      // Last of A's attempts: afterwards A is over its quota.
      {"fills its disk past TENANT_DISK_QUOTA",
       "for i in 1 2 3; do head -c " + std::to_string(disk_quota * 45 / 100) +
           " /dev/zero > caa-fill-$i.bin; done; ls -l caa-fill-*.bin",
       [&](const attempt_outcome& o) {
         uint64_t total = 0;
         for (int i = 1; i <= 3; ++i) {
           std::error_code size_ec;
           auto size = std::filesystem::file_size(
               a_work / ("caa-fill-" + std::to_string(i) + ".bin"), size_ec);
           if (!size_ec) total += size;
         }
         EXPECT_GT(total, disk_quota) << "the files did not fill the quota:\n" << redact(o.output);
         auto next = http_call(port(), "POST", "/api/v1/query", auth(A),
                               R"({"prompt":"[[echo]] over quota"})");
         EXPECT_EQ(next.status, 507u) << redact(next.body);
         EXPECT_NE(next.body.find("QUOTA_EXCEEDED"), std::string::npos) << redact(next.body);
         for (int i = 1; i <= 3; ++i)
           std::filesystem::remove(a_work / ("caa-fill-" + std::to_string(i) + ".bin"), ec);
       }},
  };

  // -- Run the table ------------------------------------------------------------------------------
  int ran = 0;
  const bool verbose = std::getenv("CAA_BATTERY_VERBOSE") != nullptr;  // print every output
  std::vector<std::string> summary;
  for (auto& row : table) {
    if (!row.skip.empty()) {
      summary.push_back("[ skipped ] " + row.name + ": " + row.skip);
      continue;
    }
    SCOPED_TRACE("attempt: " + row.name);
    int before = failures_so_far();
    ++ran;
    if (row.before) row.before();
    auto o = bash_turn(A, row.command);
    EXPECT_EQ(o.turn.status, 200u) << redact(o.turn.body);
    EXPECT_TRUE(has_event(o.turn, "result")) << "the turn was not answered";
    EXPECT_TRUE(has_event(o.turn, "done"));
    EXPECT_EQ(done_reason(o.turn), "completed") << redact(o.turn.body);
    EXPECT_FALSE(o.output.empty()) << "the Bash tool did not run:\n" << redact(o.turn.body);
    EXPECT_EQ(o.turn.body.find(escaped_marker), std::string::npos) << "the attempt succeeded:\n"
                                                                   << redact(o.output);
    for (auto& name : leaked_in(o.turn.body + o.output))
      ADD_FAILURE() << "A's turn streamed " << name;
    row.check(o);
    if (verbose)
      std::fprintf(stderr, "---- %s ----\n%s\n", row.name.c_str(), redact(o.output).c_str());
    end_session(A, o.session);
    summary.push_back(std::string{failures_so_far() == before ? "[ refused ] " : "[ FAILED  ] "} +
                      row.name);
  }
  for (auto& line : summary) std::fprintf(stderr, "%s\n", line.c_str());
  EXPECT_GE(ran, 20) << "too few attempts could run here";

  // -- Afterwards: the service is healthy, B's next turn works, the real key went to the model --
  auto health = http_call(port(), "GET", "/health");
  EXPECT_EQ(health.status, 200u) << health.body;
  EXPECT_NE(health.body.find("\"status\":\"ok\""), std::string::npos) << health.body;
  EXPECT_TRUE(alive(service_pid));

  auto b_next = bash_turn(B, "ls -a /tmp; cat secret-b.txt; echo \"uid=$(id -u)\"", b_session);
  EXPECT_EQ(b_next.turn.status, 200u) << b_next.turn.body;
  EXPECT_EQ(done_reason(b_next.turn), "completed") << b_next.turn.body;
  EXPECT_NE(b_next.output.find(b_secret), std::string::npos) << "B lost its own workspace";
  EXPECT_EQ(b_next.output.find(tmp_word), std::string::npos) << "A's /tmp file is in B's /tmp";
  EXPECT_EQ(number_after(b_next.output, "uid"), b_uid);
  EXPECT_TRUE(std::filesystem::exists(b_work / "secret-b.txt"));

  auto log = parse_json(model_log());
  ASSERT_TRUE(log.IsArray());
  int with_real_key = 0, with_placeholder = 0, with_other = 0;
  for (auto& entry : log.GetArray()) {
    if (!entry.IsObject() || !entry.HasMember("headers") || !entry["headers"].IsObject()) continue;
    auto& h = entry["headers"];
    if (!h.HasMember("x-api-key") || !h["x-api-key"].IsString()) continue;
    std::string key = h["x-api-key"].GetString();
    if (key == operator_key_)
      ++with_real_key;
    else if (key.rfind("sk-ant-sandbox-", 0) == 0)
      ++with_placeholder;
    else
      ++with_other;
  }
  EXPECT_GT(with_real_key, 0) << "no request reached the model with the operator's key";
  EXPECT_EQ(with_placeholder, 0) << "a placeholder key reached the model (no proxy swap)";
  EXPECT_EQ(with_other, 0) << "a request reached the model with an unknown key";
  end_session(B, b_session);
}

}  // namespace caa::test
