/**
 * Positional arguments of the bench scripts. `Number('--help')` is NaN, and a bench given NaN seconds runs
 * every cell for no time and prints a table of zeros that looks like a result: a value that is not a
 * positive number stops the script with its usage instead, and `--help` prints the usage.
 */

/** The number given at `argv[index]`, `fallback` when absent, or an Error saying which argument is wrong. */
export function positiveNumberArg(argv: readonly string[], index: number, fallback: number): number | Error {
  const raw = argv[index];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) return new Error(`argument ${index - 1} is "${raw}", not a positive number`);
  return value;
}

/** Prints `usage` and exits when the command line asks for help or a numeric argument is not a positive number. */
export function numberArg(index: number, fallback: number, usage: string, argv: readonly string[] = process.argv): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  const value = positiveNumberArg(argv, index, fallback);
  if (value instanceof Error) {
    process.stderr.write(`${value.message}\nusage: ${usage}\n`);
    process.exit(2);
  }
  return value;
}

/** A comma-separated list of positive numbers at `argv[index]` (`fallback` when absent), or the usage and exit. */
export function numberListArg(index: number, fallback: string, usage: string, argv: readonly string[] = process.argv): number[] {
  if (argv.includes('--help') || argv.includes('-h')) return [numberArg(index, 1, usage, argv)];
  const raw = argv[index] ?? fallback;
  const values = raw.split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) {
    process.stderr.write(`argument ${index - 1} is "${raw}", not a comma-separated list of positive numbers\nusage: ${usage}\n`);
    process.exit(2);
  }
  return values;
}
