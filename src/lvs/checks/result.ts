// What every check resolves to, and how failures read (the error code when there is one).
export interface CheckResult {
  up: boolean;
  message: string;
}

export const ok = (message: string): CheckResult => ({ up: true, message });
export const fail = (message: string): CheckResult => ({ up: false, message });
export const errorText = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
