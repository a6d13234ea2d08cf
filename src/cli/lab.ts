// `aavip lab ...`: labs that build real networks (namespaces) and real kernels (a VM) to show
// and test aavip on this machine.
import type { Command } from 'commander';
import { register as registerApplianceLab } from './lab-appliance.js';
import { register as registerChaosLab } from './lab-chaos.js';
import { register as registerFailoverLab } from './lab-failover.js';
import { register as registerNetLab } from './lab-net.js';
import { register as registerTrackLab } from './lab-track.js';
import { register as registerVmLab } from './lab-vm.js';

export function register(program: Command): void {
  const lab = program.command('lab').description('labs on this machine: namespaces (lab up/demo/down) and an older kernel in a VM (lab vm)');
  registerNetLab(lab);
  registerFailoverLab(lab);
  registerChaosLab(lab);
  registerTrackLab(lab);
  registerVmLab(lab);
  registerApplianceLab(lab);
}
