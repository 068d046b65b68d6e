/**
 * A stage of the call pipeline: one rule (or one mechanism) that gets the call or statement and the rest
 * of the pipeline as `next`. A stage refuses by throwing, acts before `next` (checks, slots, logins) and
 * after it (filtering, accounting, records). Stages compose like undici's interceptors around a core.
 */
export interface Stage<Subject, Result> {
  /** Named in docs/architecture.md and the pipeline-order test. */
  readonly name: string;
  run(subject: Subject, next: () => Promise<Result>): Promise<Result>;
}

/** Runs `subject` through `stages` in order, ending in `core`. */
export function runStages<Subject, Result>(stages: readonly Stage<Subject, Result>[], subject: Subject, core: () => Promise<Result>): Promise<Result> {
  const at = (i: number): Promise<Result> => {
    const stage = stages[i];
    return stage === undefined ? core() : stage.run(subject, () => at(i + 1));
  };
  return at(0);
}
