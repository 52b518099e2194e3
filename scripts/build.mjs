// Builds what hearth runs from: the CLI/server bundle, the guest agent bundle and the exec shim.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

/** One self-contained CommonJS file for the sandbox: no node_modules inside it. */
function bundleForSandbox(entry, out) {
  return build({
    entryPoints: [join(root, entry)],
    outfile: join(dist, out),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // dist/ sits under a package of type "module", where Node loads these as ESM; inside sandboxes
    // there is no package.json and they load as CommonJS. This makes `require` work in both.
    banner: { js: "var require = typeof require === 'function' ? require : process.getBuiltinModule;" },
    minify: true,
    logLevel: 'warning',
  });
}

// The guest agent, and the interpreter-context drivers it starts (src/agent/guest/repl.ts) beside it.
await bundleForSandbox('src/agent/guest/main.ts', 'agent.js');
await bundleForSandbox('src/agent/guest/repl-node.ts', 'repl-node.js');
copyFileSync(join(root, 'src/agent/guest/repl-python.py'), join(dist, 'repl-python.py'));

// The exec shim: static, so it runs in any image.
const shimSrc = join(root, 'src/agent/shim/hearth-exec.c');
const shimOut = join(dist, 'hearth-exec');
let stale = true;
try {
  const outMs = statSync(shimOut).mtimeMs;
  stale = [shimSrc, join(root, 'src/agent/shim/exec-server.inc.c')].some((f) => statSync(f).mtimeMs > outMs);
} catch {}
if (stale) {
  // Build beside it and rename: the old binary may be running (ETXTBSY), and a half-written one must never be seen.
  const tmp = `${shimOut}.${process.pid}.tmp`;
  execFileSync('cc', ['-static', '-O2', '-Wall', '-Wextra', '-o', tmp, shimSrc], { stdio: 'inherit' });
  renameSync(tmp, shimOut);
}

// @actions/workflow-parser imports its schema JSON without an import attribute, which Node 20 refuses
// to load; bundled, esbuild inlines the JSON. It and @actions/expressions are bundled together so the
// parser and hearth's evaluator share one copy of the expression classes.
const bundleActionsPackages = {
  name: 'bundle-actions-packages',
  setup(b) {
    b.onResolve({ filter: /^@actions\/(workflow-parser|expressions)(\/|$)/ }, (args) => ({
      path: fileURLToPath(import.meta.resolve(args.path)),
    }));
  },
};

await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(dist, 'cli.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  plugins: [bundleActionsPackages],
  sourcemap: true,
  logLevel: 'warning',
});
