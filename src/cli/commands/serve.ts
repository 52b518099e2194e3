import type { Command } from 'commander';
import { startServer } from '../../server/start.js';

/** `hearth serve`: the HTTP API until SIGTERM/SIGINT, then a graceful shutdown. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve the HTTP API (jobs, languages, health, metrics)')
    .option('--host <host>', 'address to bind (HEARTH_HOST)', undefined)
    .option('--port <port>', 'TCP port, 0 for any free one (HEARTH_PORT)', undefined)
    .action(async (o: { host?: string; port?: string }) => {
      const server = await startServer({
        ...(o.host ? { host: o.host } : {}),
        ...(o.port !== undefined ? { port: Number(o.port) } : {}),
      });
      const { recovery } = server;
      if (recovery.interrupted.length || recovery.requeued.length || recovery.reaped.length) {
        server.app.log.info(recovery, 'recovered from the previous run');
      }
      process.stdout.write(`hearth listening on ${server.url}\n`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.app.log.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            server.app.log.error({ err }, 'the shutdown failed; sandboxes left are reaped at the next start');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
