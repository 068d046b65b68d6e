/** The per-call limits every call is held to (hub settings; a role may narrow the row cap). */
import { DEFAULT_HUB_SETTINGS } from '../config/config-schema.js';

export interface HubLimits {
  /** Default row cap when a call gives no limit. */
  defaultMaxRows: number;
  /** No call may ask for more rows than this. */
  maxRowsCeiling: number;
  maxResultBytes: number;
  callTimeoutMs: number;
}

/** The hub settings' defaults (declared once, in the config schema), plus the row ceiling. */
export const DEFAULT_LIMITS: HubLimits = {
  defaultMaxRows: DEFAULT_HUB_SETTINGS.maxRows,
  maxRowsCeiling: 10_000,
  maxResultBytes: DEFAULT_HUB_SETTINGS.maxResultBytes,
  callTimeoutMs: DEFAULT_HUB_SETTINGS.callTimeoutMs,
};
