/**
 * Kernel symbols from /proc/kallsyms, to name the targets of calls in translated programs as
 * bpftool does: the kernel replaces a helper call's id by the helper's address relative to
 * __bpf_call_base, and bpf-to-bpf calls point at JITed functions (`bpf_prog_<tag>_<name>`).
 */
import { readFileSync } from 'node:fs';

export interface KernelSymbols {
  /** Address of __bpf_call_base, or 0n when addresses are hidden (kernel.kptr_restrict). */
  callBase: bigint;
  /** The first symbol at exactly `address`, if any. */
  lookup(address: bigint): string | undefined;
}

const EMPTY: KernelSymbols = { callBase: 0n, lookup: () => undefined };

/**
 * Reads /proc/kallsyms ("ffffffff81000000 T _text", one symbol a line). A listing only needs
 * the few addresses its calls name, so lookups search the text (an indexOf each) rather than
 * building a table of the ~100k symbols, which would cost more than the rest of the command.
 * Hidden addresses (all zero without privileges or with kernel.kptr_restrict) give no symbols,
 * and bpftool then prints raw addresses; so do we.
 */
export function loadKernelSymbols(path = '/proc/kallsyms'): KernelSymbols {
  let text: string;
  try {
    text = '\n' + readFileSync(path, 'latin1');
  } catch {
    return EMPTY;
  }
  const base = /\n([0-9a-f]+) \S __bpf_call_base\n/.exec(text);
  if (!base || /^0+$/.test(base[1]!)) return EMPTY;
  const width = base[1]!.length;
  const cache = new Map<bigint, string | undefined>();
  const lookup = (address: bigint): string | undefined => {
    if (cache.has(address)) return cache.get(address);
    let name: string | undefined;
    if (address !== 0n) {
      const at = text.indexOf(`\n${BigInt.asUintN(64, address).toString(16).padStart(width, '0')} `);
      if (at >= 0) {
        // "\nADDRESS T name\t[module]": the name starts after the type letter.
        const start = at + 1 + width + 3;
        let end = start;
        while (end < text.length && text.charCodeAt(end) > 32) end++;
        name = text.slice(start, end);
      }
    }
    cache.set(address, name);
    return name;
  };
  return { callBase: BigInt('0x' + base[1]), lookup };
}
