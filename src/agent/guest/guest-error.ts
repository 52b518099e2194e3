/** An error the agent reports to the host as `{ code, message }`. */
export class GuestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GuestError';
  }
}

const ERRNO_CODES: Record<string, string> = {
  ENOENT: 'FILE_NOT_FOUND',
  EEXIST: 'FILE_EXISTS',
  ENOTDIR: 'NOT_A_DIRECTORY',
  EISDIR: 'IS_A_DIRECTORY',
  ENOTEMPTY: 'IS_A_DIRECTORY',
  EFBIG: 'FILE_TOO_LARGE',
  ELOOP: 'PATH_ESCAPE',
};

/** The wire form of anything thrown while serving a request. */
export function toWireError(err: unknown): { code: string; message: string } {
  if (err instanceof GuestError) return { code: err.code, message: err.message };
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (errno && ERRNO_CODES[errno]) return { code: ERRNO_CODES[errno], message };
  return { code: 'INTERNAL', message };
}
