// Runs inside the 6.1 VM: `aavip lab appliance --colocated --json` (the three nodes are real
// servers too, plus one separate one; the VIP's fwmark carries the virtual service), its JSON kept
// as appliance-colocated.json.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const r = spawnSync(process.execPath, [`${process.env.AAVIP_ROOT}/dist/src/cli/main.js`, 'lab', 'appliance', '--colocated', '--prefix', 'apc', '--json'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  timeout: 900_000,
});
writeFileSync(
  `${process.env.AAVIP_RESULTS}/appliance-colocated.json`,
  r.stdout || JSON.stringify({ error: `aavip lab appliance --colocated exited ${r.status} (${r.signal ?? 'no signal'})` }),
);
