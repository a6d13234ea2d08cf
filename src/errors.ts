// Errors a user can act on: where (file, line, field) and what. The CLI prints them as
// `file:line: field: message` and exits non-zero; nothing is applied after one is thrown.

export interface Where {
  file?: string;
  line?: number;
  /** A packet of a capture, numbered from 1 as tcpdump and Wireshark count them. */
  packet?: number;
  field?: string;
}

export class InputError extends Error {
  readonly where: Where;
  constructor(message: string, where: Where = {}) {
    super(message);
    this.name = 'InputError';
    this.where = where;
  }

  /** `file:line: field: message` (`file: packet N: ...` for a capture), leaving out what is unknown. */
  describe(): string {
    const { file, line, packet, field } = this.where;
    const place = [file, line].filter((x) => x !== undefined).join(':');
    const inCapture = packet === undefined ? undefined : `packet ${packet}`;
    return [place, inCapture, field, this.message].filter((x) => x !== undefined && x !== '').join(': ');
  }
}

export class InputErrors extends Error {
  constructor(readonly errors: InputError[]) {
    super(errors.map((e) => e.describe()).join('\n'));
    this.name = 'InputErrors';
  }
}

/** How the CLI reports a failure: one line for what the user can act on, a stack for a bug. */
export interface FailureReport {
  text: string;
  exitCode: 1 | 2;
  bug: boolean;
}

/**
 * The JavaScript engine's own errors (a TypeError, a RangeError, ...) or a non-Error thrown are
 * programming mistakes; an Error thrown on purpose — bad input (exit 2), the daemon not running,
 * a refused request, a system call failing (exit 1) — is a message.
 */
export function reportFailure(err: unknown): FailureReport {
  if (err instanceof InputError) return { text: err.describe(), exitCode: 2, bug: false };
  if (err instanceof InputErrors) return { text: err.message, exitCode: 2, bug: false };
  if (!(err instanceof Error)) return { text: `unexpected failure: ${String(err)}`, exitCode: 1, bug: true };
  const engine = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError].some((E) => err instanceof E);
  if (engine) return { text: err.stack ?? err.message, exitCode: 1, bug: true };
  const { code, syscall, address } = err as NodeJS.ErrnoException & { address?: string };
  // A control client that passes the socket's error on as it is.
  if (syscall === 'connect' && (code === 'ENOENT' || code === 'ECONNREFUSED')) {
    return { text: `aavip is not running here (nothing listens on ${address ?? 'the control socket'})`, exitCode: 1, bug: false };
  }
  return { text: err.message, exitCode: 1, bug: false };
}
