/**
 * Call stage: an editor whose own settings were partly ignored, or carry a warning (a key file others can
 * read, a password and a key both set), is told so in its session's first result
 * (a SNOWFLAKE_WAREHOUSE with no account silently serves the embedded sample otherwise, and the hub's log
 * is not where the person who wrote the editor's config looks). Once per session and target: the model
 * and the person reading its tool output see it, later results stay as they were.
 */
import type { CallStage } from '../call-state.js';
import type { WarehouseTarget } from '../../warehouse/warehouse-registry.js';

/** Targets whose session was told (a target is resolved, and kept, per session). */
const told = new WeakSet<WarehouseTarget>();

export const settingsNotice: CallStage = {
  name: 'settings-notice',
  async run(call, next) {
    const result = await next();
    const where = call.target;
    if (!where?.notices || where.notices.length === 0 || told.has(where)) return result;
    told.add(where);
    const text = `snowmux: a note on this session's settings — ${where.notices.join(' ')}`;
    return { ...result, content: [...(result.content ?? []), { type: 'text', text }] };
  },
};
