/**
 * The container recipe and the Kubernetes manifests in contrib/ describe the product as it is: every
 * manifest parses, the config they mount is a valid config.toml (checked by the product's own parser),
 * probes use routes and commands that exist, ports agree, environment names are ones the product reads,
 * the drain fits in the grace period, and the image is multi-stage, non-root and without dev dependencies.
 * The systemd and launchd samples set what `snowmux service install` writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { defaultHubConfig, parseConfigText } from '../../src/hub/config/config-file.js';
import { serviceFile, stopTimeoutSeconds } from '../../src/cli/commands/service-command.js';
import { repoRoot } from '../helpers/paths.js';

type Doc = { kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML manifests, walked by path
type Any = any;

const dir = join(repoRoot, 'contrib', 'kubernetes');
const docs: Doc[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], `${f} parses`);
      return d.toJS() as Doc;
    }),
  );
const find = (kind: string, name: string): Any => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind}/${name} exists`);
  return d;
};
const source = (rel: string) => readFileSync(join(repoRoot, 'src', rel), 'utf8');
/** Every environment variable name the product's sources mention. */
const productEnvNames = new Set(
  readdirSync(join(repoRoot, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...source(f).matchAll(/(?:['"`]|\benv\.)((?:SNOWFLAKE|SNOWMUX|SF)_[A-Z0-9_]+)\b/g)].map((m) => m[1]!)),
);

test('the mounted config.toml is valid and names the port the container exposes', () => {
  const cm = find('ConfigMap', 'snowmux-config');
  const config = parseConfigText(cm.data['config.toml'], 'configmap config.toml');
  assert.ok(config.hub.redisUrl, 'a team hub has Redis');
  const port = Number(/:(\d+)$/.exec(config.hub.httpListen ?? '')?.[1]);
  const deploy = find('Deployment', 'snowmux');
  const container = deploy.spec.template.spec.containers[0];
  assert.deepEqual(container.ports, [{ name: 'http', containerPort: port }]);
  const svc = find('Service', 'snowmux');
  assert.equal(svc.spec.ports[0].targetPort, 'http');
  assert.deepEqual(svc.spec.selector, deploy.spec.selector.matchLabels);
  assert.deepEqual(find('PodDisruptionBudget', 'snowmux').spec.selector.matchLabels, deploy.spec.selector.matchLabels);
  assert.ok(deploy.spec.replicas > find('PodDisruptionBudget', 'snowmux').spec.minAvailable);
  // The hub's drain, audit close and trace export must finish inside the pod's grace period: the stop
  // timeout the product documents and `snowmux service install` writes.
  assert.ok(deploy.spec.template.spec.terminationGracePeriodSeconds >= stopTimeoutSeconds(config.hub.shutdownGraceMs), 'terminationGracePeriodSeconds follows the stop timeout rule');
  // Redis: the Service the config points at exists.
  const redis = find('Service', new URL(config.hub.redisUrl!).hostname);
  assert.equal(redis.spec.ports[0].port, Number(new URL(config.hub.redisUrl!).port));
  // The probe's Host header is one the hub answers to.
  const host = container.livenessProbe.httpGet.httpHeaders.find((h: Any) => h.name === 'Host').value;
  assert.ok(config.hub.httpHosts.includes(host));
});

test('probes use routes and commands the product has', () => {
  const container = find('Deployment', 'snowmux').spec.template.spec.containers[0];
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.livenessProbe.httpGet.port, 'http');
  assert.match(source('hub/http/http-face.ts'), /path === '\/healthz'/);
  const [bin, cmd, ...rest] = container.readinessProbe.exec.command as string[];
  assert.deepEqual([bin, cmd], ['snowmux', 'status']);
  const status = source('cli/commands/status-command.ts');
  for (const flag of rest.filter((a) => a.startsWith('--'))) assert.ok(status.includes(`'${flag.slice(2)}'`) || status.includes(`${flag.slice(2)}:`), `status has ${flag}`);
  const keyFile = rest[rest.indexOf('--key-file') + 1]!;
  const mount = container.volumeMounts.find((m: Any) => keyFile.startsWith(`${m.mountPath}/`));
  assert.ok(mount, 'the key file is on a mounted volume');
  const volume = find('Deployment', 'snowmux').spec.template.spec.volumes.find((v: Any) => v.name === mount.name);
  const secret = find('Secret', volume.secret.secretName);
  assert.ok(keyFile.slice(mount.mountPath.length + 1) in secret.stringData, 'the probe key is in the Secret');
  assert.ok(rest.includes(`http://127.0.0.1:${container.ports[0].containerPort}`), 'the probe calls the hub on loopback');
});

test('environment names are ones the product reads; credentials come from Secrets', () => {
  const spec = find('Deployment', 'snowmux').spec.template.spec;
  const container = spec.containers[0];
  const names = [
    ...container.env.map((e: Any) => e.name as string),
    ...container.envFrom.flatMap((f: Any) => Object.keys(find('Secret', f.secretRef.name).stringData)),
  ];
  for (const name of names) assert.ok(productEnvNames.has(name), `${name} is read by snowmux`);
  assert.ok(!container.env.some((e: Any) => /PASSWORD|TOKEN|KEY/.test(e.name) && e.value), 'no credential inline');
  const keyPath = find('Secret', 'snowmux-snowflake').stringData.SNOWFLAKE_PRIVATE_KEY_FILE as string;
  assert.ok(container.volumeMounts.some((m: Any) => keyPath.startsWith(`${m.mountPath}/`)), 'the private key file is mounted');
  assert.equal(spec.securityContext.runAsNonRoot, true);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.ok(container.volumeMounts.some((m: Any) => m.mountPath === '/var/lib/snowmux'), 'the home is writable');
  assert.ok(container.env.some((e: Any) => e.name === 'SNOWMUX_HOME' && e.value.startsWith('/var/lib/snowmux/')), 'the home is created by the hub inside the writable volume');
});

test('the image is multi-stage, non-root, without dev dependencies, and runs the hub', () => {
  const docker = readFileSync(join(repoRoot, 'contrib', 'docker', 'Dockerfile'), 'utf8');
  assert.ok((docker.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  const final = docker.slice(docker.lastIndexOf('\nFROM '));
  assert.match(final, /npm install -g --omit=dev/);
  assert.match(final, /^USER 10001/m);
  assert.match(final, /ENTRYPOINT \["snowmux", "hub"\]/);
  // `docker stop` waits 10 s by default, the default grace: the recipe says how long to give the hub.
  const stopTimeout = Number(/--stop-timeout (\d+)/.exec(docker)?.[1]);
  assert.ok(stopTimeout >= stopTimeoutSeconds(defaultHubConfig().hub.shutdownGraceMs), 'the recipe gives docker stop the stop timeout the product documents');
  assert.match(docker, new RegExp(`stop_grace_period: ${stopTimeout}s`));
  const exposed = Number(/^EXPOSE (\d+)/m.exec(final)?.[1]);
  assert.equal(exposed, find('Deployment', 'snowmux').spec.template.spec.containers[0].ports[0].containerPort);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
  assert.ok('snowmux' in pkg.bin);
  assert.ok(pkg.scripts.prepack, 'npm pack builds the package');
});

/**
 * The recipes' `kubectl exec deploy/snowmux -- snowmux keys create …` (and the readiness probe) run snowmux
 * in the container without --config: they must find the hub's file through the environment. With the file
 * only in the hub's arguments, `keys create` saw no hub.redis_url and made a key in one pod's keys.json,
 * which the other replicas refused (their readiness failed).
 */
test('every snowmux command in the container reads the config the hub runs with', () => {
  const container = find('Deployment', 'snowmux').spec.template.spec.containers[0];
  const configMount = container.volumeMounts.find((m: Any) => m.name === 'config').mountPath as string;
  const env = (name: string) => container.env.find((e: Any) => e.name === name)?.value as string | undefined;
  assert.equal(env('SNOWMUX_CONFIG'), configMount, 'SNOWMUX_CONFIG names the mounted config');
  assert.ok(!(container.args ?? []).includes('--config'), 'no --config for the hub alone: it reads $SNOWMUX_CONFIG like every other command');
  assert.ok(!container.readinessProbe.exec.command.includes('--config'));
  const docker = readFileSync(join(repoRoot, 'contrib', 'docker', 'Dockerfile'), 'utf8');
  const final = docker.slice(docker.lastIndexOf('\nFROM '));
  assert.match(final, new RegExp(`^\\s*SNOWMUX_CONFIG=${configMount}\\s*$`, 'm'), 'the image sets SNOWMUX_CONFIG to the same path');
  assert.doesNotMatch(final, /^CMD .*--config/m);
  // The documented commands run in the container carry no --config (they rely on the environment).
  for (const doc of [join(repoRoot, 'contrib', 'kubernetes', 'snowmux.yaml'), join(repoRoot, 'docs', 'team-hub.md')]) {
    const commands = [...readFileSync(doc, 'utf8').replace(/\n#?\s*/g, ' ').matchAll(/kubectl exec deploy\/snowmux -- (snowmux [^`\n]*?--identity \S+)/g)].map((m) => m[1]!);
    assert.ok(commands.length > 0, `${doc} documents the keys command`);
    for (const command of commands) assert.doesNotMatch(command, /--config|--home/, `${command}: in the container it needs neither`);
  }
});

test('the docker build context leaves out the host\'s node_modules, dist and .git', () => {
  const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const entry of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(entry) || ignored.includes(`${entry}/`), `.dockerignore lists ${entry}`);
  // The Dockerfile copies the whole context: the ignore file is what keeps those out.
  assert.match(readFileSync(join(repoRoot, 'contrib', 'docker', 'Dockerfile'), 'utf8'), /^COPY \. \.$/m);
});

/** `Key=Value` lines of a systemd unit by section, comments left out; a key set twice keeps every value. */
function unitDirectives(text: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    const at = line.indexOf('=');
    const key = `${section}${line.slice(0, at)}`;
    directives.set(key, [...(directives.get(key) ?? []), line.slice(at + 1)]);
  }
  return directives;
}

/** The top-level `<key>K</key><value>` pairs of a launchd plist written one per line. */
function plistEntries(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^ {2}<key>([^<]+)<\/key>(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
}

test('the systemd and launchd samples set what `snowmux service install` writes, apart from the absolute paths', () => {
  const opts = { userHome: '/home/someone', cwd: '/home/someone' };
  const generated = unitDirectives(serviceFile('systemd', opts).text);
  const sample = unitDirectives(readFileSync(join(repoRoot, 'contrib', 'systemd', 'snowmux-hub.service'), 'utf8'));
  for (const [key, values] of generated) {
    if (key === '[Service]ExecStart') {
      // The generated unit names node and bin/snowmux.js; the sample runs snowmux from the PATH.
      const args = (v: string) => v.slice(v.indexOf(' hub '));
      assert.deepEqual(sample.get(key)?.map(args), values.map(args), 'the same hub command line');
      continue;
    }
    assert.deepEqual(sample.get(key), values, `contrib/systemd sets ${key} as service install does`);
  }
  const generatedPlist = plistEntries(serviceFile('launchd', opts).text);
  const plistText = readFileSync(join(repoRoot, 'contrib', 'launchd', 'dev.snowmux.hub.plist'), 'utf8');
  // XML forbids "--" inside a comment (a flag quoted there): launchd would refuse the whole file.
  for (const [, comment] of plistText.matchAll(/<!--([\s\S]*?)-->/g)) assert.doesNotMatch(comment!, /--/, 'a plist comment holds no "--"');
  const samplePlist = plistEntries(plistText);
  for (const [key, value] of generatedPlist) {
    if (key === 'ProgramArguments') {
      const args = (v: string) => v.slice(v.indexOf('<string>hub</string>'));
      assert.equal(args(samplePlist.get(key) ?? ''), args(value), 'the same hub command line');
      continue;
    }
    assert.equal(samplePlist.get(key), value, `contrib/launchd sets ${key} as service install does`);
  }
});
