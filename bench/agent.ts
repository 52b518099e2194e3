/**
 * The guest agent as a local process (no sandbox): what the agent and the shim add to a bare
 * spawn. Floors are measured in the same run: Node spawning `true` directly, and a frame round
 * trip over the same pipes (`ping`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../src/agent/client.js';
import { distDir } from '../src/config/paths.js';
import { ms, pct, report, sample } from './lib.js';

const N = 60;

function spawnToClose(file: string, args: string[], extraFd = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const stdio: Array<'ignore' | 'pipe'> = extraFd
      ? ['ignore', 'pipe', 'pipe', 'pipe']
      : ['ignore', 'pipe', 'pipe'];
    const child = spawn(file, args, { stdio });
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

export default async function agentBench(): Promise<void> {
  const agentJs = join(distDir(), 'agent.js');
  const shim = join(distDir(), 'hearth-exec');
  const workDir = mkdtempSync('/var/tmp/hearth-agent-bench-');
  const child = spawn(process.execPath, [agentJs, '--stdio', '--work-dir', workDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { HEARTH_SHIM: shim, PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  try {
    const t0 = performance.now();
    const client = await AgentClient.connect({ readable: child.stdout, writable: child.stdin });
    report({ group: 'agent', name: 'agent start → hello (local node)', value: ms(performance.now() - t0) });

    const floor = await sample(N, () => spawnToClose('true', []));
    report({ group: 'agent', name: 'floor: node spawn true', value: pct(floor) });
    const viaShim = await sample(N, () => spawnToClose(shim, ['--report-fd', '3', '--', 'true'], true));
    report({
      group: 'agent',
      name: 'node spawn hearth-exec -- true',
      value: pct(viaShim),
      ratio: `${(viaShim.p50 / floor.p50).toFixed(2)}x floor`,
    });
    const ping = await sample(N * 2, () => client.ping());
    report({ group: 'agent', name: 'ping round trip (stdio pipes)', value: pct(ping) });
    const exec = await sample(N, () => client.run({ argv: ['true'] }));
    report({
      group: 'agent',
      name: 'exec round trip: true',
      value: pct(exec),
      ratio: `${(exec.p50 / floor.p50).toFixed(2)}x floor`,
      target: '≤ 3 ms in bwrap',
    });
    const payload = Buffer.alloc(10 * 1024 * 1024, 7);
    await client.writeFile('big', payload);
    const cat = await sample(10, () => client.run({ argv: ['cat', 'big'] }));
    report({
      group: 'agent',
      name: 'exec cat 10 MB',
      value: pct(cat),
      ratio: `${(10_000 / cat.p50).toFixed(0)} MB/s`,
    });
    await client.shutdown();
    await client.close();
  } finally {
    child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  }
}
