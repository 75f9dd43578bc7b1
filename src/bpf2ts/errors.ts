/**
 * Errors of the bindings generator. Each names what went wrong and what to do; the CLI prints
 * the message and exits 1 (2 for usage errors).
 */
import { EbpfError } from '../errors.js';

/**
 * Codes:
 * - `ERR_BPF2TS_USAGE`: bad command line (exit 2);
 * - `ERR_BPF2TS_CC`: clang or llvm-strip missing;
 * - `ERR_BPF2TS_COMPILE`: clang failed (its diagnostics were printed as they came);
 * - `ERR_BPF2TS_TYPE`: a `--type` (or record type) the object's BTF doesn't have;
 * - `ERR_BPF2TS_MAP`: a `--ringbuf`/`--perf` binding naming a map the object doesn't have, or
 *   one of the wrong kind;
 * - `ERR_BPF2TS_OBJECT`: the object can't be made into bindings (no BTF...).
 */
export class Bpf2tsError extends EbpfError {}

/** The closest names to `name` (edit distance), for "did you mean" hints. */
export function closeMatches(name: string, candidates: Iterable<string>, max = 3): string[] {
  const scored: { c: string; d: number }[] = [];
  const lower = name.toLowerCase();
  for (const c of new Set(candidates)) {
    const d = editDistance(lower, c.toLowerCase());
    const limit = Math.max(2, Math.floor(name.length / 3));
    if (d <= limit || c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase())) scored.push({ c, d });
  }
  scored.sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : a.c > b.c ? 1 : 0));
  return scored.slice(0, max).map((s) => s.c);
}

function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
