/**
 * The Debian tools some tests need (redis-server, haproxy, promtool). Where one is missing a test skips
 * with the reason — locally. `.ci/run` installs them and sets SNOWMUX_TEST_REQUIRE_TOOLS=1: there a
 * missing tool fails the run instead of hiding the tests that need it.
 */
import { spawnSync } from 'node:child_process';

/** False when `command` runs; else the skip reason (or, when tools are required, an error). */
export function missingTool(command: string, versionArgs: string[], debianPackage: string): string | false {
  if (spawnSync(command, versionArgs, { stdio: 'ignore' }).status === 0) return false;
  const reason = `${command} not installed (Debian package ${debianPackage}; .ci/run installs it)`;
  if (process.env.SNOWMUX_TEST_REQUIRE_TOOLS === '1') throw new Error(`${reason}, but this run requires it (SNOWMUX_TEST_REQUIRE_TOOLS=1)`);
  return reason;
}

export const NO_REDIS = missingTool('redis-server', ['--version'], 'redis-server');
export const NO_HAPROXY = missingTool('haproxy', ['-v'], 'haproxy');
export const NO_PROMTOOL = missingTool('promtool', ['--version'], 'prometheus');
