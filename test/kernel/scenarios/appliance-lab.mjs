// Runs inside the 6.1 VM: `aavip lab appliance --json` (three aavip up daemons with the ldirectord
// role, four direct-routing real servers, 600 connections), its JSON kept as appliance.json.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const r = spawnSync(process.execPath, [`${process.env.AAVIP_ROOT}/dist/src/cli/main.js`, 'lab', 'appliance', '--json'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  timeout: 1_500_000,
});
// Exit status 1 means a check failed: the JSON says which, and the test asserts on it.
writeFileSync(
  `${process.env.AAVIP_RESULTS}/appliance.json`,
  r.stdout || JSON.stringify({ error: `aavip lab appliance exited ${r.status} (${r.signal ?? 'no signal'})` }),
);
