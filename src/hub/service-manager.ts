/**
 * Whether a service manager runs this hub (the unit, plist or pm2 app `snowmux service install` writes, or
 * one of the user's own), told from what each manager sets in the environment of the process it starts.
 * A hub replaced from a terminal (`hub --replace`) exits 0, which systemd's `Restart=on-failure` and
 * launchd's `SuccessfulExit false` take as the service stopping, and so does pm2 when the app's
 * `stop_exit_codes` holds 0 (what `snowmux service install pm2` writes); without it pm2 restarts the hub at once
 * and it takes the socket back: the hub says what runs it (status), and `--replace` sends the user to that manager.
 */
import { readFileSync } from 'node:fs';

export interface ServiceManagerInfo {
  manager: 'systemd' | 'launchd' | 'pm2';
  /** The unit, launchd label or pm2 app name. */
  unit: string;
  /** The command that restarts it through its manager. */
  restart: string;
  /**
   * pm2 only: whether pm2 starts the hub again after it exits 0 (a stop, a replace). pm2 hands its app
   * settings to the process as environment variables: `autorestart`, and `stop_exit_codes` ("0", "0,2").
   */
  restartsAfterCleanExit?: boolean;
}

export interface ProcessFacts {
  env: NodeJS.ProcessEnv;
  pid: number;
  ppid: number;
  uid: number | undefined;
  /** /proc/self/cgroup's text, where there is one (Linux). */
  cgroup: () => string | undefined;
}

function ownProcess(): ProcessFacts {
  return {
    env: process.env,
    pid: process.pid,
    ppid: process.ppid,
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    cgroup: () => {
      try {
        return readFileSync('/proc/self/cgroup', 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The manager that started this process as its service, or null. Only a process the manager started
 * itself counts, not one that inherited its environment: a hub a shim started (SNOWMUX_STARTED_BY) from an
 * editor that runs as a service is no service's.
 *  - systemd sets INVOCATION_ID, and SYSTEMD_EXEC_PID to the pid it started (since v248; before, the
 *    parent is the manager: MANAGERPID for a user unit, pid 1 for a system one); the unit is the last
 *    `.service` name of the process's cgroup.
 *  - launchd sets XPC_SERVICE_NAME to the job's label ("0", or "application.…" for what a terminal or an
 *    app starts) and is the parent, pid 1.
 *  - pm2 sets pm_id, and `name` to the app's name.
 */
export function serviceManagerOf(facts: ProcessFacts = ownProcess()): ServiceManagerInfo | null {
  const { env, pid, ppid } = facts;
  if (env.SNOWMUX_STARTED_BY?.startsWith('shim:')) return null;
  if (env.INVOCATION_ID) {
    const execPid = env.SYSTEMD_EXEC_PID;
    const started = execPid !== undefined ? execPid === String(pid) : ppid === 1 || (env.MANAGERPID !== undefined && env.MANAGERPID === String(ppid));
    if (started) {
      // systemd's own hierarchy: the unified one ("0::…"), or "name=systemd" under cgroup v1; another
      // controller's line may name an unrelated unit (a container's docker.service).
      const cgroup = (facts.cgroup() ?? '').split('\n').find((line) => line.startsWith('0::') || line.includes(':name=systemd:')) ?? '';
      const unit = /\/([^/]+\.service)\s*$/.exec(cgroup)?.[1] ?? 'snowmux-hub.service';
      const perUser = /\/user@\d+\.service\//.test(cgroup) || (cgroup === '' && env.MANAGERPID !== undefined);
      return { manager: 'systemd', unit, restart: perUser ? `systemctl --user restart ${unit}` : `sudo systemctl restart ${unit}` };
    }
  }
  const label = env.XPC_SERVICE_NAME;
  if (label && label !== '0' && !label.startsWith('application.') && ppid === 1) {
    return { manager: 'launchd', unit: label, restart: `launchctl kickstart -k gui/${facts.uid ?? '$(id -u)'}/${label}` };
  }
  if (env.pm_id !== undefined && env.pm_id !== '') {
    const name = env.name || 'snowmux-hub';
    const stopCodes = (env.stop_exit_codes ?? '').match(/-?\d+/g) ?? [];
    const restartsAfterCleanExit = env.autorestart !== 'false' && !stopCodes.some((code) => Number(code) === 0);
    return { manager: 'pm2', unit: name, restart: `pm2 restart ${name}`, restartsAfterCleanExit };
  }
  return null;
}

/** What replacing a hub this manager runs from outside it leads to, after "replaced from here, ". */
export function replacedServiceOutcome(info: ServiceManagerInfo): string {
  switch (info.manager) {
    case 'pm2':
      return info.restartsAfterCleanExit === false
        ? 'it exits 0, which pm2 takes as the app stopping (its stop_exit_codes holds 0: pm2 shows it stopped and does not restart it), while this hub runs outside pm2 (its environment, restart policy and logs) and ends with this terminal'
        : 'it exits, pm2 starts its hub again at once, and that hub takes the socket back from this one: two hubs taking it from each other (`stop_exit_codes: [0]` in its ecosystem file, as `snowmux service install pm2` writes, makes pm2 leave a clean exit stopped)';
    case 'systemd':
      return 'it exits 0, which systemd takes as the service stopping (it shows it inactive and does not restart it), while this hub runs outside the unit (its environment, restart policy and logs) and ends with this terminal';
    case 'launchd':
      return 'it exits 0, which launchd takes as the job finishing (it does not restart it), while this hub runs outside the job (its environment and restart policy) and ends with this terminal';
  }
}
