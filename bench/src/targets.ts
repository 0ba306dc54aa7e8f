// The targets table of the benchmark (from the issues' "Targets" sections): each row a measured ratio
// against what it needs, marked met or missed, or the reason it could not be measured in this run.

export interface Target {
  label: string;
  /** The measured ratio; undefined when a cell of it was not timed. */
  value: number | undefined;
  /** What the ratio must reach: at least `need`, or at most with `atMost`. */
  need: number;
  atMost?: boolean;
  /** Why `value` is missing (a skipped cell); without it, a missing value leaves the row out. */
  missing?: string;
}

export function targetMet(t: Target): boolean | undefined {
  if (t.value === undefined) return undefined;
  return t.atMost ? t.value <= t.need : t.value >= t.need;
}

/** A markdown row `| label | measured | met |`, or null for a target this run did not cover. */
export function targetRow(t: Target): string | null {
  const met = targetMet(t);
  if (met === undefined) return t.missing ? `| ${t.label} | — (${t.missing}) | — |` : null;
  return `| ${t.label} | ${t.value!.toFixed(2)}× | ${met ? '✓' : '✗ missed'} |`;
}
