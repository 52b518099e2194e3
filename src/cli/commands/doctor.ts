import type { Command } from 'commander';
import { DEFAULT_PREFERENCE, probeAll } from '../../backends/registry.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check which sandbox backends work on this host, and why not')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const reports = await probeAll({ deadlineMs: 9_000 });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
        return;
      }
      for (const r of reports) {
        const mark = r.probe.usable ? 'ok  ' : 'no  ';
        process.stdout.write(
          `${mark}${r.name.padEnd(12)}${r.probe.reason}  (${Math.round(r.elapsedMs)} ms)\n`,
        );
        for (const [k, v] of Object.entries(r.probe.details ?? {}))
          process.stdout.write(`      ${k}: ${v}\n`);
      }
      const usable = new Set(reports.filter((r) => r.probe.usable).map((r) => r.name));
      const best = DEFAULT_PREFERENCE.find((name) => usable.has(name));
      process.stdout.write(
        best
          ? `default backend: ${best} (the fastest usable; HEARTH_BACKEND or --backend choose another)\n`
          : 'no backend is usable here: install bubblewrap (apt-get install bubblewrap) or see the reasons above\n',
      );
    });
}
