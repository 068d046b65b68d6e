/** Call stage, first rule: the caller's role, and whether it may use this tool at all. */
import { enforceTool } from '../../policy/enforce.js';
import type { CallStage } from '../call-state.js';

export const toolPolicy: CallStage = {
  name: 'tool-policy',
  run(call, next) {
    const role = call.env.governance.roleFor(call.session);
    call.role = role;
    call.rulesGeneration = call.env.governance.policyGeneration;
    enforceTool(role, call.tool);
    return next();
  },
};
