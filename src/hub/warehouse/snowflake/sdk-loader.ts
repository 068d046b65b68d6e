/**
 * Loads snowflake-sdk on first use only: it costs ~300 ms of CPU and pulls in cloud SDKs, so nothing
 * that must start fast (the shim, a hub serving only the embedded warehouse) may import it.
 */
import { parseJsonLossless } from '../lossless-json.js';
import type { SnowflakeSdk } from './sdk-types.js';

export interface SdkLoadOptions {
  /** Honour HTTP(S)_PROXY from the environment. The first load decides (the driver's setting is global). */
  useEnvProxy?: boolean | undefined;
}

let loading: Promise<SnowflakeSdk> | undefined;
let loadedMs: number | undefined;

export function loadSnowflakeSdk(options: SdkLoadOptions = {}): Promise<SnowflakeSdk> {
  if (loading === undefined) {
    loading = load(options);
    loading.catch(() => {
      loading = undefined; // a later call may try again (e.g. after the package is installed)
    });
  }
  return loading;
}

/** How long the first load took, once it finished (for status and benchmarks). */
export function sdkLoadMs(): number | undefined {
  return loadedMs;
}

async function load(options: SdkLoadOptions): Promise<SnowflakeSdk> {
  const started = performance.now();
  // Both are read when the driver module loads: without the first it probes cloud metadata endpoints
  // (slow, and it prints an AWS SDK warning off-cloud); without the second it posts telemetry after each login.
  process.env['SNOWFLAKE_DISABLE_PLATFORM_DETECTION'] ??= 'true';
  process.env['SF_TELEMETRY_DISABLE_CONNECTION_SHAPE'] ??= 'true';
  const mod = await import('snowflake-sdk');
  const sdk = (mod as unknown as { default?: SnowflakeSdk }).default ?? (mod as unknown as SnowflakeSdk);
  // The driver logs to a file/console by default; the hub has its own logger. Its proxy handling reads
  // HTTP(S)_PROXY and NO_PROXY unless told not to (hub.use_env_proxy = false).
  sdk.configure({
    logLevel: 'OFF',
    useEnvProxy: options.useEnvProxy ?? true,
    // VARIANT/OBJECT/ARRAY text: the driver's JSON.parse rounds integers beyond 2^53 (64-bit ids) and falls
    // back to eval for Snowflake's non-strict tokens (NaN, undefined); this parser keeps the integers exact
    // and reads those tokens. Text that is not JSON is XML (PARSE_XML): kept as Snowflake's text, where the
    // driver's XML parser dropped attributes and turned element text into numbers.
    jsonColumnVariantParser: parseVariantText,
    xmlColumnVariantParser: (text: string) => text,
  });
  loadedMs = performance.now() - started;
  return sdk;
}

/** The VARIANT parser set on the driver (process-wide, like every configure option). */
export function parseVariantText(text: string): unknown {
  return parseJsonLossless(text, { snowflakeTokens: true });
}
