// Errors a user can act on: where (file, line, field) and what. The CLI prints them as
// `file:line: field: message` and exits non-zero; nothing is applied after one is thrown.

export interface Where {
  file?: string;
  line?: number;
  field?: string;
}

export class InputError extends Error {
  readonly where: Where;
  constructor(message: string, where: Where = {}) {
    super(message);
    this.name = 'InputError';
    this.where = where;
  }

  /** `file:line: field: message`, leaving out what is unknown. */
  describe(): string {
    const { file, line, field } = this.where;
    const place = [file, line].filter((x) => x !== undefined).join(':');
    return [place, field, this.message].filter((x) => x !== undefined && x !== '').join(': ');
  }
}

export class InputErrors extends Error {
  constructor(readonly errors: InputError[]) {
    super(errors.map((e) => e.describe()).join('\n'));
    this.name = 'InputErrors';
  }
}
