import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/agent/client.js';
import { ReplClient } from '../../src/agent/client-repl.js';
import { encodeData, encodeJson, FrameDecoder } from '../../src/agent/framing.js';
import { FrameKind, Stream } from '../../src/agent/protocol.js';
import { REPL_LIMITS } from '../../src/agent/repl-limits.js';

// What a compromised guest agent may answer to `repl-*` requests. The real agent cuts every value
// to REPL_LIMITS before it sends it, so it cannot be made to send these: a stand-in that speaks the
// framing plays the compromised agent, and the host's real AgentClient and ReplClient face it.

type Answer = (req: { type: string; id: number }, send: (frames: Buffer[]) => void) => void;

async function compromisedAgent(
  answer: Answer,
  capabilities = ['repl'],
): Promise<{ client: AgentClient; toAgent: PassThrough }> {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const decoder = new FrameDecoder();
  const send = (frames: Buffer[]) => {
    for (const f of frames) fromAgent.write(f);
  };
  toAgent.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.kind !== FrameKind.Json) continue;
      const req = JSON.parse(f.text) as { type: string; id: number };
      if (req.type === 'hello') {
        const info = {
          agentVersion: '0.1.0',
          protocolVersion: 1,
          capabilities,
          pid: 1,
          workDir: '/w',
        };
        send([
          encodeJson({ type: 'result', id: req.id, ok: true, value: { ...info, limitMechanism: 'rlimit' } }),
        ]);
      } else answer(req, send);
    }
  });
  const client = await AgentClient.connect({ readable: fromAgent, writable: toAgent });
  return { client, toAgent };
}

const honest = {
  executionCount: 1,
  timedOut: false,
  contextLost: false,
  outputTruncated: false,
  resultTruncated: false,
};

function runAnswer(value: unknown): Answer {
  return (req, send) => send([encodeJson({ type: 'result', id: req.id, ok: true, value })]);
}

describe('hostile guest: repl answers', () => {
  const refused: Array<[string, unknown]> = [
    [
      'result text past the cap',
      { ...honest, result: { text: 'x'.repeat(REPL_LIMITS.maxTextChars + 1), formats: {} } },
    ],
    [
      'a PNG past the cap',
      {
        ...honest,
        result: { text: 'f', formats: { 'image/png': 'A'.repeat(REPL_LIMITS.maxPngBase64Chars + 4) } },
      },
    ],
    ['a PNG that is not base64', { ...honest, result: { text: 'f', formats: { 'image/png': '<script>' } } }],
    ['an unknown format', { ...honest, result: { text: 'f', formats: { 'text/javascript': 'alert(1)' } } }],
    ['an extra field', { ...honest, shell: 'rm -rf /' }],
    ['a wrong type', { ...honest, executionCount: '1' }],
    ['a missing flag', { executionCount: 1 }],
    ['an error without a traceback', { ...honest, error: { name: 'E', value: 'v' } }],
  ];

  for (const [what, value] of refused) {
    it(`refuses ${what}: AGENT_PROTOCOL, and the connection is closed`, async () => {
      const { client, toAgent } = await compromisedAgent(runAnswer(value));
      const repl = new ReplClient(client);
      await expect(repl.runCode('ctx-1', '1')).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
      expect(client.closed).toBe(true);
      expect(toAgent.destroyed).toBe(true);
    });
  }

  it('refuses a context list with a bad id or state', async () => {
    const info = {
      contextId: '../../etc',
      language: 'python',
      cwd: '/w',
      executionCount: 0,
      state: 'idle',
      pid: 2,
    };
    const { client } = await compromisedAgent(runAnswer([info]));
    await expect(new ReplClient(client).listContexts()).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
    expect(client.closed).toBe(true);
  });

  it('cuts output past the cap on the host, whatever the guest claims', async () => {
    const flood = Buffer.alloc(REPL_LIMITS.maxOutputBytes * 3, 0x61);
    const { client } = await compromisedAgent((req, send) => {
      send(encodeData(req.id, Stream.Stdout, flood));
      send(encodeData(req.id, Stream.Stderr, flood));
      send([encodeJson({ type: 'result', id: req.id, ok: true, value: honest })]);
    });
    let seen = 0;
    const out = await new ReplClient(client).runCode('ctx-1', 'print()', {
      onStdout: (c) => {
        seen += c.length;
      },
      onStderr: (c) => {
        seen += c.length;
      },
    });
    expect(out.outputTruncated).toBe(true);
    expect(seen).toBe(REPL_LIMITS.maxOutputBytes);
    expect(out.stdout.length + out.stderr.length).toBe(REPL_LIMITS.maxOutputBytes);
    expect(client.closed).toBe(false);
    await client.close();
  });

  it('refuses to send repl requests to an agent that does not run contexts', async () => {
    let asked = false;
    const { client } = await compromisedAgent(() => {
      asked = true;
    }, ['exec']);
    await expect(new ReplClient(client).createContext({ language: 'python' })).rejects.toMatchObject({
      code: 'AGENT_UNKNOWN_VERSION',
    });
    expect(asked).toBe(false);
    await client.close();
  });

  it('gives up on a run the guest never answers, past its deadline', async () => {
    const { client } = await compromisedAgent(() => {});
    const repl = new ReplClient(client);
    // The host waits timeoutMs + the interrupt grace + its slack, then reports the agent silent.
    await expect(repl.runCode('ctx-1', 'while True: pass', { timeoutMs: 1 })).rejects.toMatchObject({
      code: 'AGENT_TIMEOUT',
    });
    await client.close();
  }, 30_000);
});
