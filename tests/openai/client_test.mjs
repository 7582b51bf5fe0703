// The OpenAI-compatible API as the official `openai` npm client (pinned in package.json) sees it,
// against the running service and the scripted model. Run by tests/integration/openai_api_test.cpp:
//
//   node client_test.mjs <check>
//
// Environment: OPENAI_BASE_URL (http://127.0.0.1:<port>/v1), OPENAI_API_KEY (an agent key),
// MODEL_LOG_URL (the scripted model's /_log). Exits 0 when the check passes, 1 with the reason.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = process.env.CAA_NODE_MODULES;
const OpenAI = require(root ? `${root}/openai` : 'openai');

const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0, timeout: 120000 });
const word = (p) => `${p}${Math.floor(Math.random() * 1e9)}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function modelLog() {
  const r = await fetch(process.env.MODEL_LOG_URL);
  return JSON.stringify(await r.json());
}

/// The error a call throws (fails when it does not throw).
async function thrown(call) {
  try {
    await call();
  } catch (e) {
    return e;
  }
  assert.fail('the call did not fail');
}

async function pollUntilDone(id) {
  for (let i = 0; i < 600; ++i) {
    const r = await client.responses.retrieve(id);
    if (!['queued', 'in_progress'].includes(r.status)) return r;
    await sleep(100);
  }
  assert.fail(`response ${id} never finished`);
}

const checks = {
  async models() {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes('default'), ids.join(','));
    assert.ok(ids.includes('sonnet'), ids.join(','));
    for (const m of list.data) assert.equal(m.object, 'model');
  },

  async completion() {
    const w = word('plain');
    const r = await client.chat.completions.create({
      model: 'sonnet',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: `[[echo]] ${w}` },
      ],
      temperature: 0.2,
      max_tokens: 100,
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, w);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    assert.match(r.x_session_id, /^[0-9a-f-]{36}$/);
    // The system message reached the model as part of the system prompt.
    assert.ok((await modelLog()).includes('You are terse.'));
  },

  async streamed_completion() {
    const stream = await client.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: '[[slow 5 20]]' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const ids = new Set();
    let text = '';
    let deltas = 0;
    let first = null;
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (first === null) first = c.delta;
        if (c.delta.content) {
          text += c.delta.content;
          ++deltas;
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(ids.size, 1, 'one id per completion');
    assert.equal(first.role, 'assistant');
    assert.equal(text, 'chunk0 chunk1 chunk2 chunk3 chunk4 ');
    assert.ok(deltas >= 5, `token deltas, got ${deltas}`);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0, 'usage chunk');
  },

  async agent_tool_use() {
    // By default the agent's tool use is text; with x_agent_events it is a side channel.
    const as_text = await client.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: '[[bash echo side-channel]]' }],
    });
    assert.match(as_text.choices[0].message.content, /\[tool: Bash \{/);
    assert.match(as_text.choices[0].message.content, /side-channel/);
    const stream = await client.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: '[[bash echo side-channel]]' }],
      stream: true,
      x_agent_events: true,
    });
    let text = '';
    const side = [];
    for await (const chunk of stream) {
      if (chunk.x_agent_event) side.push(chunk.x_agent_event);
      for (const c of chunk.choices) text += c.delta.content ?? '';
    }
    assert.doesNotMatch(text, /\[tool: /);
    assert.ok(side.some((e) => e.event === 'message' && JSON.stringify(e.data).includes('tool_use')));
  },

  async chat_session_reuse() {
    const user = word('user-');
    const first = await client.chat.completions.create({
      model: 'sonnet',
      user,
      messages: [{ role: 'user', content: '[[echo]] one' }],
    });
    const second = await client.chat.completions.create({
      model: 'sonnet',
      user,
      messages: [
        { role: 'user', content: '[[echo]] one' },
        { role: 'assistant', content: first.choices[0].message.content },
        { role: 'user', content: '[[echo]] two' },
      ],
    });
    assert.equal(second.x_session_id, first.x_session_id, 'a continued conversation reuses');
    assert.equal(second.choices[0].message.content, 'two');
    // A new conversation of the same user (no earlier messages) starts a new session.
    const fresh = await client.chat.completions.create({
      model: 'sonnet',
      user,
      messages: [{ role: 'user', content: '[[echo]] three' }],
    });
    assert.notEqual(fresh.x_session_id, first.x_session_id);
    // metadata.session_id names a session explicitly.
    const named = await client.chat.completions.create({
      model: 'sonnet',
      metadata: { session_id: first.x_session_id },
      messages: [{ role: 'user', content: '[[echo]] four' }],
    });
    assert.equal(named.x_session_id, first.x_session_id);
  },

  async responses_chain() {
    const w = word('first');
    const r1 = await client.responses.create({ model: 'sonnet', input: `[[echo]] ${w}` });
    assert.equal(r1.object, 'response');
    assert.equal(r1.status, 'completed');
    assert.equal(r1.output_text, w);
    assert.match(r1.id, /^resp_/);
    const r2 = await client.responses.create({
      model: 'sonnet',
      previous_response_id: r1.id,
      input: '[[echo]] second',
    });
    assert.equal(r2.status, 'completed');
    assert.equal(r2.output_text, 'second');
    assert.equal(r2.previous_response_id, r1.id);
    assert.equal(r2.x_session_id, r1.x_session_id, 'the chain continues the session');
    assert.notEqual(r2.id, r1.id);
    // The second turn's request to the model carries the first turn.
    const log = JSON.parse(await modelLog());
    const second = log.filter((e) => JSON.stringify(e.body ?? '').includes('[[echo]] second'));
    assert.ok(second.length > 0);
    assert.ok(JSON.stringify(second[second.length - 1].body).includes(w), 'the history');
    assert.ok(r2.usage.input_tokens > 0 && r2.usage.output_tokens > 0);
  },

  async background() {
    const r = await client.responses.create({
      model: 'sonnet',
      input: '[[slow 4 150]]',
      background: true,
    });
    assert.equal(r.status, 'queued');
    assert.equal(r.background, true);
    const done = await pollUntilDone(r.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.output_text, 'chunk0 chunk1 chunk2 chunk3 ');
    assert.equal(done.id, r.id);
  },

  async resumed_stream() {
    const stream = await client.responses.create({
      model: 'sonnet',
      input: '[[slow 8 60]]',
      stream: true,
    });
    let id = null;
    let last = -1;
    let text = '';
    for await (const ev of stream) {
      assert.equal(ev.sequence_number, last + 1, 'sequence numbers have no gaps');
      last = ev.sequence_number;
      if (ev.type === 'response.created') id = ev.response.id;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.output_text.delta' && text.includes('chunk2')) break;
    }
    assert.ok(id);
    const resumed = await client.responses.retrieve(id, { stream: true, starting_after: last });
    let next = last;
    let terminal = null;
    for await (const ev of resumed) {
      assert.equal(ev.sequence_number, next + 1, 'the stream resumes right after starting_after');
      next = ev.sequence_number;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') terminal = ev.response;
    }
    assert.equal(text, 'chunk0 chunk1 chunk2 chunk3 chunk4 chunk5 chunk6 chunk7 ');
    assert.ok(terminal);
    assert.equal(terminal.output_text, text);
  },

  async cancel() {
    const r = await client.responses.create({
      model: 'sonnet',
      input: '[[slow 40 250]]',
      background: true,
    });
    // Wait until the turn produces text, so the cancel interrupts a running turn.
    for (let i = 0; i < 300; ++i) {
      const p = await client.responses.retrieve(r.id);
      if (p.output_text.length > 0) break;
      await sleep(100);
    }
    const cancelled = await client.responses.cancel(r.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(!cancelled.output_text.includes('chunk39'), 'the turn did not run to its end');
    const again = await client.responses.cancel(r.id);
    assert.equal(again.status, 'cancelled', 'cancel is idempotent');
    assert.equal((await client.responses.retrieve(r.id)).status, 'cancelled');
  },

  async errors() {
    const bad = new OpenAI({
      baseURL: process.env.OPENAI_BASE_URL,
      apiKey: 'caa_not-a-key',
      maxRetries: 0,
    });
    const e401 = await thrown(() => bad.models.list());
    assert.equal(e401.status, 401);
    assert.equal(e401.error.type, 'invalid_request_error');
    assert.equal(e401.code, 'invalid_api_key');
    assert.equal(typeof e401.error.message, 'string');

    const e404 = await thrown(() =>
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    );
    assert.equal(e404.status, 404);
    assert.equal(e404.code, 'model_not_found');
    assert.equal(e404.param, 'model');

    const n2 = await thrown(() =>
      client.chat.completions.create({ model: 'sonnet', n: 2, messages: [{ role: 'user', content: 'x' }] }),
    );
    assert.equal(n2.status, 400);
    assert.equal(n2.param, 'n');
    assert.equal(n2.error.type, 'invalid_request_error');

    const tools = await thrown(() =>
      client.chat.completions.create({
        model: 'sonnet',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      }),
    );
    assert.equal(tools.status, 400);
    assert.equal(tools.param, 'tools');

    const unknown = await thrown(() =>
      client.responses.create({ model: 'sonnet', input: 'x', bogus_field: 1 }),
    );
    assert.equal(unknown.status, 400);
    assert.equal(unknown.param, 'bogus_field');

    const missing = await thrown(() => client.responses.retrieve('resp_nope'));
    assert.equal(missing.status, 404);
  },
};

const name = process.argv[2];
if (!checks[name]) {
  console.error(`unknown check '${name}'; checks: ${Object.keys(checks).join(', ')}`);
  process.exit(2);
}
try {
  await checks[name]();
  console.log(`PASS ${name}`);
} catch (e) {
  console.error(`FAIL ${name}: ${e.stack ?? e}`);
  process.exit(1);
}
