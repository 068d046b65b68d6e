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
  const shipped = readFileSync(join(repoRoot, 'contrib', 'haproxy', 'snowmux.cfg'), 'utf8');
  const bind = /^(\s*bind 127\.0\.0\.1:)\d+$/m;
  assert.match(shipped, bind, 'the config binds a loopback port');
  const lines = shipped.replace(bind, (_, head: string) => `${head}${front}`).split('\n');
  const server = /^(\s*server replica)1 \S+( .*)$/;
  const template = lines.find((l) => server.test(l));
  assert.ok(template, 'the config has a server line to copy');
  const servers = replicas.map((addr, i) => template.replace(server, (_, head: string, tail: string) => `${head}${i + 1} ${addr}${tail}`));
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
