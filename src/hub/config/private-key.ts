/**
 * Loads and validates a key-pair private key at configuration time, so a wrong path, a missing or wrong
 * passphrase, or a non-RSA key fails at start-up with the setting's name instead of at the first login.
 * The profile keeps the PEM and passphrase (the driver signs its own JWTs); this only proves they work.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SnowmuxError } from '../../errors.js';
import { expandHome, shownSecretPath } from './profile-settings.js';
import { readProblem } from '../../wire/bounded-read.js';
import { UntrustedFileError, readTrustedFile } from '../../wire/file-trust.js';

export interface KeySetting {
  value: string;
  /** e.g. "env SNOWFLAKE_PRIVATE_KEY_PATH" */
  source: string;
}

export interface PrivateKeyInput {
  profileName: string;
  /** Path to a PEM file (exclusive with inline). */
  path?: KeySetting | undefined;
  /** Inline PEM text or base64 DER (exclusive with path). */
  inline?: KeySetting | undefined;
  passphrase?: KeySetting | undefined;
  /** How to set a passphrase, for the "encrypted but no passphrase" message. */
  passphraseHint: string;
  /** The user's home directory for a leading "~/"; when undefined, the one `env` gives (user-path.ts), refused when there is none. */
  homedir?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface LoadedPrivateKey {
  /** PKCS#8 PEM (unencrypted keys are normalised to PKCS#8; encrypted keys are kept as given). */
  pem: string;
  encrypted: boolean;
  /** Secret-free description for auth.source, e.g. "file ~/keys/rsa_key.p8 (env SNOWFLAKE_PRIVATE_KEY_PATH)". */
  description: string;
}

const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/;

function fail(message: string, cause?: unknown): never {
  throw new SnowmuxError('CONFIG_INVALID', message, cause === undefined ? undefined : { cause });
}

function readKeyFile(profileName: string, setting: KeySetting, homedir: string | undefined, env: NodeJS.ProcessEnv | undefined): string {
  const path = expandHome(setting.value, homedir, `the private key file ${shownSecretPath(setting.value)} of Snowflake profile "${profileName}" (set by ${setting.source})`, env);
  try {
    // Another user who could swap the key would have every call run, and be recorded, as them.
    return readTrustedFile(path, { what: `Snowflake profile "${profileName}": the private key file ${shownSecretPath(setting.value)} (set by ${setting.source}) decides whom the hub logs in as`, noun: 'the key' }).text;
  } catch (err) {
    if (err instanceof UntrustedFileError) throw new SnowmuxError('CONFIG_UNSAFE', err.message, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a directory'
      : (readProblem(err) ?? code ?? 'read failed');
    return fail(
      `Snowflake profile "${profileName}": cannot read the private key file ${shownSecretPath(setting.value)} (set by ${setting.source}): ${reason}. ` +
        'Check the path and the file permissions, or point the setting at your rsa_key.p8.',
      err,
    );
  }
}

function wrapPem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/**
 * Turns the forms people actually paste into PEM: real PEM, PEM whose newlines were written as "\n" (common
 * in JSON editor configs), or base64 DER PKCS#8 (what the Python connector's private_key accepts).
 */
function toPem(text: string): { pem: string; derEncrypted?: boolean } | undefined {
  let value = text.trim();
  if (value.includes('-----BEGIN')) {
    if (!value.includes('\n') && value.includes('\\n')) value = value.replace(/\\n/g, '\n');
    return { pem: `${value}\n` };
  }
  const compact = value.replace(/\s+/g, '');
  if (compact.length < 64 || !/^[A-Za-z0-9+/]+=*$/.test(compact)) return undefined;
  const der = Buffer.from(compact, 'base64');
  try {
    createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    return { pem: wrapPem('PRIVATE KEY', der), derEncrypted: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE') {
      return { pem: wrapPem('ENCRYPTED PRIVATE KEY', der), derEncrypted: true };
    }
    return undefined;
  }
}

/** Reads (if needed), decrypts and checks a private key; throws CONFIG_INVALID naming the setting. */
export function loadPrivateKey(input: PrivateKeyInput): LoadedPrivateKey {
  const { profileName } = input;
  const setting = input.path ?? input.inline;
  if (setting === undefined) return fail(`Snowflake profile "${profileName}" has no private key.`);
  const fromFile = input.path !== undefined;
  const text = fromFile ? readKeyFile(profileName, setting, input.homedir, input.env) : setting.value;
  const what = fromFile ? `the private key file ${setting.value} (${setting.source})` : `the private key in ${setting.source}`;
  const description = fromFile ? `file ${setting.value} (${setting.source})` : `inline (${setting.source})`;

  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(text)) {
    return fail(`Snowflake profile "${profileName}": ${what} is a public key. Point it at the private key (e.g. rsa_key.p8); the public key belongs in Snowflake (ALTER USER … SET RSA_PUBLIC_KEY).`);
  }
  const converted = toPem(text);
  if (converted === undefined) {
    return fail(
      `Snowflake profile "${profileName}": ${what} is not a PEM private key. ` +
        'Expected text starting with "-----BEGIN PRIVATE KEY-----" or "-----BEGIN ENCRYPTED PRIVATE KEY-----" (see Snowflake key-pair authentication).',
    );
  }
  const encrypted = converted.derEncrypted ?? ENCRYPTED_PEM.test(converted.pem);
  const passphrase = input.passphrase;
  if (encrypted && passphrase === undefined) {
    return fail(`Snowflake profile "${profileName}": ${what} is encrypted but no passphrase is set. Set ${input.passphraseHint}.`);
  }

  let key: KeyObject;
  try {
    key = createPrivateKey({
      key: converted.pem,
      format: 'pem',
      ...(encrypted && passphrase !== undefined ? { passphrase: passphrase.value } : {}),
    });
  } catch (err) {
    if (encrypted) {
      return fail(
        `Snowflake profile "${profileName}": ${what} could not be decrypted with the passphrase from ${passphrase?.source}. Check the passphrase.`,
        err,
      );
    }
    return fail(`Snowflake profile "${profileName}": ${what} is not a valid private key (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}). Check its contents.`, err);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    return fail(`Snowflake profile "${profileName}": ${what} is a ${key.asymmetricKeyType ?? 'non-RSA'} key; Snowflake key-pair authentication needs an RSA key (2048 bits or more).`);
  }
  // Unencrypted keys in other encodings (PKCS#1 "BEGIN RSA PRIVATE KEY") are normalised to PKCS#8 for the driver.
  const pem = encrypted || /-----BEGIN PRIVATE KEY-----/.test(converted.pem)
    ? converted.pem
    : (key.export({ type: 'pkcs8', format: 'pem' }) as string);
  return { pem, encrypted, description };
}
