/**
 * `snowmux keys create|list|revoke` — API keys for the hub's HTTP face. A key is shown once, at creation;
 * the hub keeps only its hash. Revocation takes effect on the hub's next request.
 */
import { SnowmuxError } from '../../errors.js';
import { parseDurationMs } from '../../hub/config/config-schema.js';
import { createKey, keysPath, readKeys, revokeKey } from '../../hub/http/api-keys.js';
import { ensureHome, resolveHome } from '../../wire/home.js';
import { parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';

const USAGE = `Usage:
  snowmux keys create --identity NAME [--expires 30d]   create a key (printed once)
  snowmux keys list [--json]                            list keys (never the secrets)
  snowmux keys revoke ID                                revoke a key by id (or a unique prefix)

The identity is who the key's caller is for roles, limits, quotas and the audit log.
Clients send the key as "Authorization: Bearer <key>"; remote shims read it from SNOWMUX_KEY or --key-file.
Options: --home DIR
`;

export async function keysCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('keys', argv, {
    identity: { type: 'string' },
    expires: { type: 'string' },
    json: { type: 'boolean' },
    home: { type: 'string' },
    help: { type: 'boolean' },
  }, true);
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const home = resolveHome({ flag: values.home });
  const [sub, ...args] = positionals;
  switch (sub) {
    case 'create': {
      if (!values.identity) throw new SnowmuxError('USAGE', 'Name who the key is for: snowmux keys create --identity NAME');
      let expiresAt: Date | null = null;
      if (values.expires !== undefined) {
        const ms = parseDurationMs(values.expires);
        if (ms === undefined) throw new SnowmuxError('USAGE', `--expires must be a duration such as "12h", "30d" or "4w"; got "${values.expires}".`);
        expiresAt = new Date(Date.now() + ms);
      }
      ensureHome(home);
      const { key, record } = createKey(home, values.identity, expiresAt);
      io.stdout.write(`${key}\n`);
      io.stderr.write(`Key ${record.id} for identity "${record.identity}"${expiresAt ? `, expires ${record.expiresAt}` : ''}. It is shown only now: store it in a secret manager or a 0600 file.\n`);
      return 0;
    }
    case 'list': {
      const { records } = readKeys(keysPath(home));
      const now = Date.now();
      const rows = records.map((r) => ({
        id: r.id,
        identity: r.identity,
        createdAt: r.createdAt,
        expiresAt: r.expiresAt,
        state: r.revokedAt ? 'revoked' : r.expiresAt && Date.parse(r.expiresAt) <= now ? 'expired' : 'active',
      }));
      if (values.json) io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (rows.length === 0) io.stdout.write('No API keys. Create one with: snowmux keys create --identity NAME\n');
      else for (const r of rows) io.stdout.write(`${r.id}  ${r.state.padEnd(7)}  ${r.identity}  created ${r.createdAt}${r.expiresAt ? `  expires ${r.expiresAt}` : ''}\n`);
      return 0;
    }
    case 'revoke': {
      if (args.length !== 1) throw new SnowmuxError('USAGE', 'Name one key: snowmux keys revoke ID');
      const record = revokeKey(home, args[0]!);
      io.stdout.write(`Key ${record.id} (${record.identity}) is revoked; the hub refuses it from its next request on.\n`);
      return 0;
    }
    default:
      io.stderr.write(USAGE);
      return 2;
  }
}
