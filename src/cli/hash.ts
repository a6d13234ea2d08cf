// `aavip hash owner`: which bucket the kernel puts each flow in.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { parseFlowLine } from '../hash/csv.js';
import { formatAddress, protocolName } from '../hash/flow.js';
import { bucketOf, checkParams, LIMITS, type HashParams } from '../hash/mechanisms.js';
import { hashmodeOption, mechanismOption, positiveInt, seedOption } from './options.js';

export function register(program: Command): void {
  const hash = program.command('hash').description('kernel-exact bucket models');
  hash
    .command('owner')
    .description('read flows as CSV on stdin (src_ip,src_port,dst_ip,dst_port,proto) and print the 1-based bucket of each')
    .requiredOption('--mechanism <m>', 'clusterip | xt_cluster | nft', mechanismOption)
    .option('--hashmode <mode>', 'sourceip | sourceip-sourceport | sourceip-sourceport-destport', hashmodeOption, 'sourceip')
    .option('--seed <n>', 'hash_init / hash seed (decimal or 0x hex)', seedOption, 0)
    .requiredOption('--buckets <n>', "number of buckets (CLUSTERIP's total_nodes)", positiveInt)
    .option('--json', 'print one JSON object a line')
    .action(async (opts: HashParams & { json?: boolean }) => {
      const params: HashParams = { mechanism: opts.mechanism, hashmode: opts.hashmode, seed: opts.seed, buckets: opts.buckets };
      const problems = checkParams(params);
      if (problems.length) throw new InputError(problems.join('; '), { field: 'options' });
      const out: string[] = [];
      let line = 0;
      for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        line++;
        const flow = parseFlowLine(text, line);
        if (!flow) continue;
        if (!LIMITS[params.mechanism].families.includes(flow.src.family))
          throw new InputError(`${params.mechanism} does not hash IPv${flow.src.family}`, { file: 'stdin', line, field: 'src_ip' });
        const bucket = bucketOf(params, flow);
        out.push(opts.json
          ? JSON.stringify({ src: formatAddress(flow.src), srcPort: flow.srcPort, dst: formatAddress(flow.dst), dstPort: flow.dstPort, proto: protocolName(flow.proto), bucket })
          : String(bucket));
        if (out.length >= 4096) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
      }
      if (out.length) process.stdout.write(out.join('\n') + '\n');
    });
}
