// A byte stream cut into lines, for the line-protocol dialogues. Pure: no sockets. Each byte is
// scanned once (the unfinished tail is kept as chunks, not re-searched), and an unfinished line
// is held only up to a cap, so a server sending an endless line costs neither time nor memory.

const LF = 0x0a;

export class LineReader {
  private parts: Buffer[] = [];
  private held = 0;
  /** Set once a line (finished or not) has passed the cap; the reader takes nothing more. */
  overflowed = false;

  constructor(readonly cap: number) {}

  /** The lines `chunk` completes, without their CR LF, decoded as latin1 (byte for byte). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    if (this.overflowed) return lines;
    let start = 0;
    for (let nl = chunk.indexOf(LF); nl >= 0; nl = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.held + piece.length > this.cap) {
        this.overflow();
        return lines;
      }
      const bytes = this.parts.length ? Buffer.concat([...this.parts, piece]) : piece;
      this.parts = [];
      this.held = 0;
      const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
      lines.push(bytes.toString('latin1', 0, end));
    }
    if (start < chunk.length) {
      this.held += chunk.length - start;
      if (this.held > this.cap) this.overflow();
      else this.parts.push(chunk.subarray(start));
    }
    return lines;
  }

  private overflow(): void {
    this.overflowed = true;
    this.parts = [];
    this.held = 0;
  }
}
