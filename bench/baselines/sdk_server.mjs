// The hand-rolled wrapper most teams write: a minimal Node server on the official Agent SDK.
// POST /query {"prompt", "session_id"?, "include_partial_messages"?} streams every SDK message
// as one SSE frame; a `session_id` resumes that session (a new CLI process per turn, as query()
// does); `include_partial_messages` asks the SDK for token deltas (`stream_event` messages).
//
//   node sdk_server.mjs <port> <path of the CLI>
import http from 'node:http';
import { query } from '@anthropic-ai/claude-agent-sdk';

const port = Number(process.argv[2] ?? 0);
const cli = process.argv[3];

async function handle(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  let input;
  try {
    input = JSON.parse(body);
  } catch {
    res.writeHead(400).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const options = { pathToClaudeCodeExecutable: cli, cwd: process.cwd() };
  if (input.session_id) options.resume = input.session_id;
  if (input.include_partial_messages === true) options.includePartialMessages = true;
  try {
    for await (const message of query({ prompt: input.prompt, options })) {
      res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    }
    res.write('event: done\ndata: {"reason":"completed"}\n\n');
  } catch (err) {
    res.write(`event: error\ndata: ${JSON.stringify({ message: String(err) })}\n\n`);
  }
  res.end();
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/query') handle(req, res);
  else res.writeHead(404).end();
});
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`sdk baseline listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
