/**
 * A hearth owner process for the owner-death tests: creates one sandbox on the backend named in
 * argv[2], prints `{"id":…}` on a line once it answers, and then waits to be killed.
 *   node --import tsx test/hostile/sandbox-owner.ts qemu|gvisor
 */
import { createGvisorBackend } from '../../src/backends/gvisor/gvisor-backend.js';
import { createQemuBackend } from '../../src/backends/qemu/qemu-backend.js';

const backend = process.argv[2] === 'qemu' ? createQemuBackend({ poolSize: 0 }) : createGvisorBackend();
const sandbox = await backend.create({ image: 'default', memoryMb: 256, maxProcesses: 64 });
process.stdout.write(`${JSON.stringify({ id: sandbox.id })}\n`);
setInterval(() => {}, 60_000);
