// Prints aavip(1) on stdout (scripts/package.sh gzips it into the Debian package). The date is
// SOURCE_DATE_EPOCH's when set, so the same source gives the same page.
import { renderManPage } from './manpage.js';
import { buildProgram, VERSION } from './program.js';

const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const date = new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString().slice(0, 10);
process.stdout.write(renderManPage(buildProgram(), VERSION, date));
