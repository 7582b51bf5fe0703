#pragma once

#include "conversation.hpp"
#include "directive.hpp"
#include "reply.hpp"

/// The scenarios that call tools. Each advances by `conversation::step`: step 0 makes the tool
/// call, the step after the last call answers with text quoting the tool_result(s).
namespace scripted_model {

/// `bash COMMAND`: one Bash call, then "Bash result:\n<output>".
reply play_bash(const conversation& c, const directive& d);

/// `chain N`: N Bash calls `echo step-<i>`, then "Chain finished:\n<outputs>".
reply play_chain(const conversation& c, const directive& d);

/// `write PATH CONTENT`: one Write call (`\n` in CONTENT becomes a newline), then text.
reply play_write(const conversation& c, const directive& d);

/// `read PATH`: one Read call, then "Read result:\n<content>".
reply play_read(const conversation& c, const directive& d);

/// `ask`: one AskUserQuestion call (Red or Blue), then text quoting the answer.
reply play_ask(const conversation& c, const directive& d);

/// `todo`: TodoWrite with two todos, or two TaskCreate calls when TodoWrite is not offered.
reply play_todo(const conversation& c, const directive& d);

/// `task [PROMPT]`: one subagent call (tool `Agent`, or `Task` if that is what is offered).
reply play_task(const conversation& c, const directive& d);

/// `structured [JSON]`: one StructuredOutput call with the JSON object (default {"answer":42}).
reply play_structured(const conversation& c, const directive& d);

/// `tool NAME JSON`: one call of tool NAME (e.g. `mcp__echo__echo`) with the JSON object as its
/// input (default {}), then "NAME result:\n<tool_result>".
reply play_tool(const conversation& c, const directive& d);

}  // namespace scripted_model
