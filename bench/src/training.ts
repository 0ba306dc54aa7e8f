// The sanity check of a training cell (not a timed assertion): every loss finite, the loss falling
// within the first few optimizer steps, and the first losses as recur js's on the same model and data.

/** What a training cell of a runner without a training step says. */
export const INFERENCE_ONLY = 'inference only';
/** Training steps recur js runs for the reference losses (one optimizer step per chunk each). */
export const REFERENCE_STEPS = 2;
/** Optimizer steps after which the loss must be below the first one. */
export const FEW_STEPS = 4;
/** Largest relative difference of the first loss (before any update) from recur js's: the same model and data. */
export const FIRST_LOSS_REL_OK = 1e-5;
/**
 * Largest relative difference of the next losses from recur js's. Not tighter, because tfjs has one
 * LSTM bias where PyTorch has b_ih and b_hh: Adam moves it by one step where PyTorch moves their sum
 * by two, which alone makes tfjs's losses differ by up to 1% within the first 8 steps (recur with
 * b_hh frozen at zero reproduces tfjs's losses to 1e-5).
 */
export const LOSS_REL_OK = 3e-2;

export interface LossSummary {
  /** Optimizer steps recorded (warm-up included). */
  steps: number;
  first: number;
  /** The loss after `min(FEW_STEPS, steps - 1)` optimizer steps. */
  afterFew: number;
  last: number;
  /** Every loss finite. */
  finite: boolean;
  /** Relative difference of the first loss from recur js's. */
  firstErr: number;
  /** Max relative difference of the first losses from recur js's (the reference's training steps); NaN if none compared. */
  err: number;
}

export function lossSummary(losses: readonly number[], reference: readonly number[]): LossSummary {
  if (losses.length === 0) throw new Error('lossSummary needs at least one loss');
  const rel = (i: number) => {
    const d = Math.abs(losses[i]! - reference[i]!) / Math.abs(reference[i]!);
    return Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  };
  const n = Math.min(losses.length, reference.length);
  let err = n > 0 ? 0 : Number.NaN;
  for (let i = 0; i < n; i++) err = Math.max(err, rel(i));
  return {
    steps: losses.length,
    first: losses[0]!,
    afterFew: losses[Math.min(FEW_STEPS, losses.length - 1)]!,
    last: losses[losses.length - 1]!,
    finite: losses.every(Number.isFinite),
    firstErr: n > 0 ? rel(0) : Number.NaN,
    err,
  };
}

/** What is wrong with a training cell's losses, or null when they pass. */
export function lossProblem(s: LossSummary): string | null {
  if (!s.finite) return 'non-finite loss';
  if (!(s.afterFew < s.first)) return `loss not falling (${s.first.toPrecision(3)} → ${s.afterFew.toPrecision(3)} after ${Math.min(FEW_STEPS, s.steps - 1)} steps)`;
  if (!(s.firstErr <= FIRST_LOSS_REL_OK)) return `first loss differs from recur js's by ${s.firstErr.toExponential(1)}: not the same model`;
  if (!(s.err <= LOSS_REL_OK)) return `losses differ from recur js's by ${s.err.toExponential(1)}`;
  return null;
}

/** The rounds of one training cell as one: the first failing round (else the first), the largest differences. */
export function combineLosses(rounds: readonly LossSummary[]): LossSummary {
  if (rounds.length === 0) throw new Error('combineLosses needs at least one summary');
  const shown = rounds.find((s) => lossProblem(s) !== null) ?? rounds[0]!;
  return { ...shown, firstErr: Math.max(...rounds.map((s) => s.firstErr)), err: Math.max(...rounds.map((s) => s.err)) };
}
