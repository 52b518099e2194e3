#!/usr/bin/env node
// The `hearth` command: the CLI is bundled to dist/cli.js by `npm run build`.
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('hearth: dist/cli.js is missing; run `npm run build` first\n');
    process.exit(2);
  }
  throw err;
});
