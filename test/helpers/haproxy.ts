/**
 * HAProxy in front of hub replicas, with the configuration the repository ships (contrib/haproxy/snowmux.cfg,
 * its example server line repeated for each replica address): checked with `haproxy -c`, then run in the
 * foreground and ended with the test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defer, freePort, tempHome, type Cleanup } from './harness.js';
import { repoRoot } from './paths.js';

/** contrib/haproxy/snowmux.cfg listening on `front`, with one server line per replica address. */
export function haproxyConfig(front: number, replicas: string[]): string {
  const cfg = readFileSync(join(repoRoot, 'contrib', 'haproxy', 'snowmux.cfg'), 'utf8').replace('__FRONTEND_PORT__', String(front));
  const lines = cfg.split('\n');
  const template = lines.find((l) => /^\s*server replica1 __REPLICA1__/.test(l));
  assert.ok(template, 'the config has a server line to copy');
  const servers = replicas.map((addr, i) => template.replace('replica1', `replica${i + 1}`).replace('__REPLICA1__', addr));
  return lines.flatMap((l) => (l === template ? servers : /^\s*server replica\d+ /.test(l) ? [] : [l])).join('\n');
}

/** HAProxy balancing `replicas` (host:port of each hub's HTTP face); resolves with its front port. */
export async function startHaproxy(t: Cleanup, replicas: string[]): Promise<{ front: number }> {
  const front = await freePort();
  const cfg = join(tempHome(t, 'smx-haproxy-'), 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(front, replicas));
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, `haproxy accepts the config:\n${check.stdout}${check.stderr}`);
  const proxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
  defer(t, async () => {
    if (proxy.exitCode === null) {
      proxy.kill('SIGKILL');
      await once(proxy, 'exit');
    }
  });
  return { front };
}
