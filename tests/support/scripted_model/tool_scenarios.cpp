#include "tool_scenarios.hpp"

#include "json.hpp"

namespace scripted_model {

namespace {

constexpr unsigned long max_chain = 1000;

std::string bash_input(std::string_view command, std::string_view description) {
  return R"({"command":)" + json::quote(command) + R"(,"description":)" + json::quote(description) +
         "}";
}

/// Step 0 makes `calls`; every later step reports the latest tool_results as text.
reply call_then_report(const conversation& c, std::size_t step, std::vector<content_block> calls,
                       std::string_view label) {
  if (step == 0) return tool_reply(std::move(calls));
  return text_reply(std::string(label) + " result:\n" + c.latest_results());
}

reply one_call_then_report(const conversation& c, std::size_t step, std::string tool,
                           std::string input_json) {
  std::vector<content_block> calls;
  calls.push_back(make_tool_use(tool, std::move(input_json)));
  return call_then_report(c, step, std::move(calls), tool);
}

/// How a file path becomes absolute, as Write and Read require.
struct path_plan {
  /// True when step 0 must first ask Bash for `pwd` (no working directory in the prompt).
  bool needs_pwd = false;
  /// The absolute path (relative if it could not be resolved).
  std::string path;
};

path_plan resolve_path(const conversation& c, const std::string& path) {
  if (path.empty() || path.front() == '/') return {false, path};
  if (c.cwd) return {false, *c.cwd + "/" + path};
  if (!c.offers("Bash")) return {false, path};
  const auto dir = c.results.empty() ? std::string{} : trim(c.results.front().content);
  return {true, dir + "/" + path};
}

reply pwd_call() {
  std::vector<content_block> calls;
  calls.push_back(make_tool_use("Bash", bash_input("pwd", "Print the working directory")));
  return tool_reply(std::move(calls));
}

std::string unescape_newlines(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// A file scenario: resolve the path (maybe via `pwd`), call `tool`, then report.
template <class MakeInput>
reply file_call(const conversation& c, const std::string& path, const std::string& tool,
                MakeInput make_input) {
  const auto plan = resolve_path(c, path);
  if (plan.needs_pwd && c.step == 0) return pwd_call();
  const auto step = plan.needs_pwd ? c.step - 1 : c.step;
  return one_call_then_report(c, step, tool, make_input(plan.path));
}

std::string todo_item(std::string_view content, std::string_view status, std::string_view active) {
  return R"({"content":)" + json::quote(content) + R"(,"status":)" + json::quote(status) +
         R"(,"activeForm":)" + json::quote(active) + "}";
}

std::string task_item(std::string_view subject, std::string_view active) {
  return R"({"subject":)" + json::quote(subject) + R"(,"description":)" +
         json::quote(std::string(subject) + " (scripted)") + R"(,"activeForm":)" +
         json::quote(active) + "}";
}

}  // namespace

reply play_bash(const conversation& c, const directive& d) {
  if (d.args.empty()) return text_reply("Scenario 'bash' needs arguments: bash COMMAND");
  return one_call_then_report(c, c.step, "Bash", bash_input(d.args, "Run a scripted command"));
}

reply play_chain(const conversation& c, const directive& d) {
  const auto n = parse_count(trim(d.args));
  if (!n || *n > max_chain)
    return text_reply("Scenario 'chain' needs arguments: chain N (0.." + std::to_string(max_chain) +
                      ")");
  if (c.step < *n) {
    const auto cmd = "echo step-" + std::to_string(c.step);
    std::vector<content_block> calls;
    calls.push_back(make_tool_use("Bash", bash_input(cmd, "Print a chain step")));
    return tool_reply(std::move(calls));
  }
  std::string text = "Chain finished:";
  for (const auto& r : c.results) text += "\n" + trim(r.content);
  return text_reply(text);
}

reply play_write(const conversation& c, const directive& d) {
  auto [path, content] = split_first_word(d.args);
  if (path.empty()) return text_reply("Scenario 'write' needs arguments: write PATH CONTENT");
  const auto body = unescape_newlines(content);
  return file_call(c, path, "Write", [&](const std::string& abs) {
    return R"({"file_path":)" + json::quote(abs) + R"(,"content":)" + json::quote(body) + "}";
  });
}

reply play_read(const conversation& c, const directive& d) {
  const auto path = trim(d.args);
  if (path.empty()) return text_reply("Scenario 'read' needs arguments: read PATH");
  return file_call(c, path, "Read", [](const std::string& abs) {
    return R"({"file_path":)" + json::quote(abs) + "}";
  });
}

reply play_ask(const conversation& c, const directive&) {
  return one_call_then_report(
      c, c.step, "AskUserQuestion",
      R"({"questions":[{"question":"Which color?","header":"Color","options":[)"
      R"({"label":"Red","description":"warm"},{"label":"Blue","description":"cool"}],)"
      R"("multiSelect":false}]})");
}

reply play_todo(const conversation& c, const directive&) {
  std::vector<content_block> calls;
  if (c.offers("TodoWrite") || !c.offers("TaskCreate")) {
    calls.push_back(make_tool_use(
        "TodoWrite", R"({"todos":[)" +
                         todo_item("Write the code", "in_progress", "Writing the code") + "," +
                         todo_item("Run the tests", "pending", "Running the tests") + "]}"));
    return call_then_report(c, c.step, std::move(calls), "TodoWrite");
  }
  calls.push_back(make_tool_use("TaskCreate", task_item("Write the code", "Writing the code")));
  calls.push_back(make_tool_use("TaskCreate", task_item("Run the tests", "Running the tests")));
  return call_then_report(c, c.step, std::move(calls), "TaskCreate");
}

reply play_task(const conversation& c, const directive& d) {
  const std::string tool = c.offers("Agent") || !c.offers("Task") ? "Agent" : "Task";
  const auto prompt = d.args.empty() ? std::string("Reply with a short greeting.") : d.args;
  return one_call_then_report(c, c.step, tool,
                              R"({"description":"Scripted subagent task","prompt":)" +
                                  json::quote(prompt) + R"(,"subagent_type":"general-purpose"})");
}

reply play_structured(const conversation& c, const directive& d) {
  rapidjson::Document doc;
  const auto arg = trim(d.args);
  if (!arg.empty() && (!json::parse(arg, doc) || !doc.IsObject()))
    return text_reply("Scenario 'structured' needs a JSON object argument, got: " + arg);
  return one_call_then_report(c, c.step, "StructuredOutput",
                              arg.empty() ? R"({"answer":42})" : json::to_string(doc));
}

reply play_tool(const conversation& c, const directive& d) {
  auto [name, input] = split_first_word(d.args);
  rapidjson::Document doc;
  if (name.empty() || (!input.empty() && (!json::parse(input, doc) || !doc.IsObject())))
    return text_reply("Scenario 'tool' needs arguments: tool NAME [JSON object]");
  return one_call_then_report(c, c.step, name, input.empty() ? "{}" : json::to_string(doc));
}

}  // namespace scripted_model
