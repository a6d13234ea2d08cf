// The heartbeat key file: a regular file that only root or the daemon's own user can have
// written, and that nobody else can read.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** More than any key needs: a larger file is a mistake (a log, a disk image), not a key. */
const MAX_KEY_BYTES = 64 * 1024;
const MIN_KEY_BYTES = 16;

const kindOf = (st: Stats) =>
  st.isFIFO()
    ? 'a FIFO'
    : st.isDirectory()
      ? 'a directory'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : st.isSocket()
            ? 'a socket'
            : 'not a file';

/** The key, or why it is refused (a sentence naming the path). `uid`: the daemon's user. */
export function readAuthkey(path: string, uid = process.geteuid?.() ?? 0): Buffer | string {
  let fd: number;
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer, for ever.
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  try {
    // Checked on the open file, so the file read is the file checked.
    const st = fstatSync(fd);
    if (!st.isFile()) return `${path} is not a regular file (${kindOf(st)}): the key must be a file`;
    if (st.uid !== 0 && st.uid !== uid) return `${path} is owned by uid ${st.uid}, not by root or this daemon's uid ${uid}: chown it`;
    if ((st.mode & 0o077) !== 0) return `${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`;
    if (st.size > MAX_KEY_BYTES) return `${path} holds ${st.size} bytes: a key is ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes`;
    const key = Buffer.alloc(st.size);
    let got = 0;
    for (let n = 1; got < key.length && n > 0; got += n) n = readSync(fd, key, got, key.length - got, got);
    if (got < MIN_KEY_BYTES) return `${path} holds ${got} bytes: use at least ${MIN_KEY_BYTES} random bytes`;
    return key.subarray(0, got);
  } catch (e) {
    return `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  } finally {
    closeSync(fd);
  }
}
