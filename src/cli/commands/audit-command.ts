/**
 * `snowmux audit verify [--dir DIR] [--json]`.
 */
import type { CommandIo } from '../command-io.js';
import { resolveHome } from '../../wire/home.js';

export async function auditCommand(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = 'Usage: snowmux audit verify [--home DIR] [--dir DIR] [--json]\n';
  if (sub === '--help' || sub === '-h') {
    io.stdout.write(usage);
    return 0;
  }
  if (sub !== 'verify') {
    io.stderr.write(usage);
    return 2;
  }
  const homeIdx = rest.indexOf('--home');
  const home = resolveHome({ flag: homeIdx >= 0 ? rest[homeIdx + 1] : undefined });
  const args = homeIdx >= 0 ? [...rest.slice(0, homeIdx), ...rest.slice(homeIdx + 2)] : rest;
  const { runAuditVerify } = await import('../../hub/audit/verify-command.js');
  return runAuditVerify(args, io, home);
}
