/** Types for the untyped `piston-client` package, as far as the tests use it. */
declare module 'piston-client' {
  interface PistonConfig {
    language?: string;
    version?: string;
    files?: Array<{ name?: string; content: string; encoding?: string }>;
    stdin?: string;
    args?: string[];
    compileTimeout?: number;
    runTimeout?: number;
    compileMemoryLimit?: number;
    runMemoryLimit?: number;
  }
  interface PistonClient {
    runtimes(): Promise<unknown>;
    execute(language: string, code: string, config?: PistonConfig): Promise<unknown>;
  }
  export default function piston(opts?: { server?: string }): PistonClient;
}
