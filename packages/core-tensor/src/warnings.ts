// Warnings recur prints once per process (like Python's default warning filter): for calls that
// work but probably not as the user meant, such as dropout on a one-layer module.

const seen = new Set<string>();

/**
 * Prints `message` with `console.warn` the first time it is given; later calls with the same text
 * print nothing. Returns whether it printed.
 * @example
 * warnOnce('LSTM: dropout adds dropout after all but the last layer ...');
 */
export function warnOnce(message: string): boolean {
  if (seen.has(message)) return false;
  seen.add(message);
  console.warn(`recur: ${message}`);
  return true;
}
