/**
 * Shared pieces of the benchmarks: anchor-format lines, timing, CPU pinning.
 * Lines follow ../shared/anchors/README.md: `anchor=ebpf-ts metric=NAME value=N api=NAME ... ok=0|1`.
 */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export function emit(metric: string, value: number, api: string, ok: boolean, extra: Record<string, string | number> = {}): void {
  const fields = Object.entries(extra)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}`)
    .join(' ');
  console.log(`anchor=ebpf-ts metric=${metric} value=${Math.round(value)} api=${api}${fields ? ' ' + fields : ''} ok=${ok ? 1 : 0}`);
}

export function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
