import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { AgentClient } from '../../agent/client.js';
import { hearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import { MemoryLedger, newSandboxRecord } from '../../host/ledger.js';
import { ensureRunDir } from '../../host/run-dir.js';
import { newSandboxId, processStartTime } from '../../host/sandbox-id.js';
import { requireImage } from '../../images/store.js';
import { ensureTools } from '../../images/tools.js';
import { ensureVmArtefacts } from '../../images/vm/artefacts.js';
import type { BackendOptions, Capability, Probe, Sandbox, SandboxBackend, SandboxSpec } from '../backend.js';
import { AgentWatchdog, watchdogSettings } from '../shared/agent-watchdog.js';
import { FirecrackerApi } from './api-client.js';
import { AGENT_VSOCK_PORT, bootVm } from './driver.js';

/** `HEARTH_FIRECRACKER`, else `firecracker` on PATH. */
export function findFirecracker(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.HEARTH_FIRECRACKER) return existsSync(env.HEARTH_FIRECRACKER) ? env.HEARTH_FIRECRACKER : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'firecracker'))) return join(dir, 'firecracker');
  }
  return undefined;
}

/** Opens the guest's vsock through Firecracker's unix socket (`CONNECT <port>` → `OK <n>`). */
export function connectVsock(opts: { path: string; port: number; timeoutMs: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(opts.path);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('no answer to CONNECT')), opts.timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(new HearthError('SANDBOX_START_FAILED', `vsock ${opts.path}: ${err.message}`, { cause: err }));
    };
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const nl = got.indexOf(10);
      if (nl < 0) return;
      sock.off('data', onData);
      clearTimeout(timer);
      if (!got.subarray(0, nl).toString().startsWith('OK ')) {
        fail(new Error(got.subarray(0, nl).toString()));
        return;
      }
      sock.pause();
      if (nl + 1 < got.length) sock.unshift(got.subarray(nl + 1));
      resolve(sock);
    };
    sock.on('connect', () => sock.write(`CONNECT ${opts.port}\n`));
    sock.on('data', onData);
    sock.once('error', fail);
  });
}

export function createFirecrackerBackend(opts: BackendOptions = {}): SandboxBackend {
  const paths = opts.paths ?? hearthPaths();
  const ledger = opts.ledger ?? new MemoryLedger();

  function check(): Probe {
    const bin = findFirecracker();
    if (!bin)
      return {
        usable: false,
        reason: 'firecracker binary not installed (set HEARTH_FIRECRACKER or put it on PATH)',
      };
    try {
      closeSync(openSync(paths.kvmDevice, constants.O_RDWR));
    } catch (err) {
      return {
        usable: false,
        reason: `firecracker needs KVM: ${paths.kvmDevice} ${(err as NodeJS.ErrnoException).code}`,
        details: { binary: bin },
      };
    }
    return { usable: true, reason: `firecracker at ${bin}`, details: { binary: bin } };
  }

  return {
    name: 'firecracker',
    // No `memory-snapshots` until its sandboxes implement snapshot() (driver.ts has the API calls).
    capabilities: (): readonly Capability[] => ['vm-isolation'],
    probe: async () => {
      const p = check();
      if (!p.usable || !p.details?.binary) return p;
      const version = await new Promise<string>((r) =>
        execFile(p.details?.binary as string, ['--version'], { timeout: 3_000 }, (e, out) =>
          r(e ? '' : (out.split('\n')[0] ?? '')),
        ),
      );
      return version
        ? { ...p, details: { ...p.details, version } }
        : { usable: false, reason: 'firecracker --version failed' };
    },

    async create(spec: SandboxSpec): Promise<Sandbox> {
      const p = check();
      if (!p.usable) throw new HearthError('BACKEND_UNAVAILABLE', p.reason);
      const tools = await ensureTools({ paths });
      const a = await ensureVmArtefacts({ image: requireImage(spec.image, { paths }), tools, paths });
      const id = newSandboxId('firecracker');
      const dir = join(paths.run, id);
      ensureRunDir(paths.run);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const apiSock = join(dir, 'api.sock');
      const record = newSandboxRecord(id, 'firecracker', { paths: [dir], labels: spec.labels ?? {} });
      ledger.put(record);
      // Through the exec shim's --pdeathsig: the VM dies with this process, even of SIGKILL. Its
      // console goes nowhere (stdio ignored), so a guest cannot grow a host log.
      const child: ChildProcess = spawn(
        tools.shim,
        ['--pdeathsig', '--', p.details?.binary as string, '--api-sock', apiSock],
        { stdio: 'ignore' },
      );
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      if (child.pid) {
        const startTime = processStartTime(child.pid);
        ledger.put({ ...record, pids: [{ pid: child.pid, ...(startTime ? { startTime } : {}) }] });
      }
      let destroying: Promise<void> | undefined;
      const destroy = (): Promise<void> =>
        (destroying ??= (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 2_000);
            await exited;
            clearTimeout(t);
          }
          rmSync(dir, { recursive: true, force: true });
          ledger.remove(id);
        })());
      try {
        for (let i = 0; !existsSync(apiSock); i++) {
          if (i > 500 || child.exitCode !== null)
            throw new HearthError('SANDBOX_START_FAILED', 'firecracker did not open its API socket');
          await new Promise((r) => setTimeout(r, 10));
        }
        const vsockPath = join(dir, 'vsock.sock');
        await bootVm(new FirecrackerApi({ socketPath: apiSock }), {
          vmlinux: a.kernel.vmlinux,
          initrd: a.initramfs.path,
          rootfs: a.rootfsErofs,
          tools: a.toolsErofs,
          vcpus: spec.vcpus ?? 1,
          memoryMb: spec.memoryMb ?? 512,
          diskMb: spec.diskMb ?? 256,
          vsockPath,
        });
        let sock: Socket | undefined;
        for (let i = 0; !sock; i++) {
          sock = await connectVsock({ path: vsockPath, port: AGENT_VSOCK_PORT, timeoutMs: 1_000 }).catch(
            (err) => {
              if (i > 100) throw err;
              return undefined;
            },
          );
          if (!sock) await new Promise((r) => setTimeout(r, 100));
        }
        const agent = await AgentClient.connect({
          readable: sock,
          writable: sock,
          helloTimeoutMs: 30_000,
          execGraceMs: watchdogSettings().execGraceMs,
        });
        let destroying: Promise<void> | undefined;
        const sandbox: Sandbox = {
          id,
          backend: 'firecracker',
          spec,
          agent,
          destroy: () => {
            destroying ??= (async () => {
              watchdog.stop();
              await agent.close().catch(() => {});
              await destroy();
            })();
            return destroying;
          },
        };
        // An agent that breaks the protocol or stops answering ends the VM.
        const watchdog = new AgentWatchdog(agent, () => void sandbox.destroy());
        return sandbox;
      } catch (err) {
        await destroy();
        throw err;
      }
    },
  };
}
