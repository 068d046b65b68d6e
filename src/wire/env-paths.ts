/**
 * Path settings in a forwarded environment (forwarded-env.ts). A relative one means the editor's directory,
 * which only the shim knows: the hub runs elsewhere (where the first editor that started it ran). Node
 * builtins only: the shim uses it.
 */
import { isAbsolute, resolve } from 'node:path';

/** The forwarded variables that name a file or directory: the key and token files (also in their SNOWFLAKE_CONNECTIONS_<NAME>_ forms) and SNOWFLAKE_HOME. */
const PATH_VARIABLE = /^SNOWFLAKE_(?:HOME|(?:CONNECTIONS_.+_)?(?:PRIVATE_KEY_(?:FILE|PATH)|TOKEN_FILE_PATH))$/;

/** A path that depends on the directory it is read from: neither absolute nor "~"-based. */
function isRelativePath(value: string): boolean {
  return !isAbsolute(value) && value !== '~' && !value.startsWith('~/');
}

/** The names of path variables whose values are relative, for the hub's refusal. */
export function relativePathVariables(env: Record<string, string>): string[] {
  return Object.keys(env).filter((name) => PATH_VARIABLE.test(name) && isRelativePath(env[name]!));
}

/**
 * `selected` with its relative path variables made absolute against `cwd()`, the shim's (the editor's)
 * working directory; as they are when there is none (a deleted directory: the hub then refuses them).
 */
export function withAbsolutePaths(selected: Record<string, string>, cwd: () => string | undefined): Record<string, string> {
  const relative = relativePathVariables(selected);
  // Read only when needed: the working directory of an editor can be gone.
  const dir = relative.length > 0 ? cwd() : undefined;
  if (dir === undefined) return selected;
  const out = { ...selected };
  for (const name of relative) out[name] = resolve(dir, selected[name]!);
  return out;
}
