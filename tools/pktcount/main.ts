/**
 * `ebpf-ts pktcount --iface IF`: packets and bytes arriving on an interface, per (source
 * address, source port, destination port), for TCP and UDP over IPv4 and IPv6, counted by an XDP
 * program in an LRU hash. Prints the table every interval (counts since the start).
 */
import { isIP } from 'node:net';
import { attachXdp, type XdpMode } from '../../src/links/index.js';
import { clockTime, nonNegativeInteger, positiveNumber, announceReady, reportEvery, runTool, ToolUsageError, type ToolDefinition, type ToolIO } from '../common.js';
import { loadPktcount, type FlowCount, type FlowKey } from './pktcount.js';

const AF_INET = 2;
const AF_INET6 = 10;
const PROTOCOLS: Record<number, string> = { 6: 'TCP', 17: 'UDP' };

export const definition: ToolDefinition = {
  name: 'pktcount',
  usage: '--iface IF [OPTIONS]',
  summary: 'Count packets per (source IP, source port, destination port) arriving on an interface, with XDP.',
  options: [
    { long: 'iface', short: 'i', value: 'IF', help: 'the network interface (required)' },
    { long: 'exclude', short: 'e', value: 'IP,...', help: 'source addresses not to count (IPv4 or IPv6, comma-separated)', parse: parseExcluded },
    { long: 'interval', value: 'SECONDS', help: 'seconds between tables (default 1)', parse: positiveNumber('interval') },
    { long: 'mode', value: 'MODE', help: "XDP mode: 'native' (the driver runs it) or 'generic' (default: native where the driver can)", parse: parseMode },
    { long: 'top', short: 'n', value: 'N', help: 'print the N busiest flows (default 20; 0: all)', parse: nonNegativeInteger('-n N') },
    { long: 'json', help: 'print one JSON object per interval instead of a table' },
  ],
  examples: ['ebpf-ts pktcount --iface eth0', 'ebpf-ts pktcount -i eth0 --exclude 10.0.0.1,fe80::1 --json'],
};

function parseMode(text: string): 'native' | 'generic' {
  if (text !== 'native' && text !== 'generic') throw new ToolUsageError(`--mode must be 'native' or 'generic', got '${text}'`);
  return text;
}

/** An address in flow_key.saddr's layout: IPv4 in the first 4 bytes, IPv6 in all 16. */
export function addressKey(ip: string): Uint8Array {
  const key = new Uint8Array(16);
  if (isIP(ip) === 4) {
    ip.split('.').forEach((part, i) => (key[i] = Number(part)));
  } else if (isIP(ip) === 6) {
    // Expand '::' and embedded IPv4, then write the 8 groups.
    let text = ip;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const b = v4[1]!.split('.').map(Number);
      text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
    }
    const [head, tail] = text.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    groups.forEach((g, i) => {
      const n = parseInt(g, 16);
      key[i * 2] = n >> 8;
      key[i * 2 + 1] = n & 0xff;
    });
  } else {
    throw new ToolUsageError(`--exclude: '${ip}' is not an IPv4 or IPv6 address`);
  }
  return key;
}

function parseExcluded(text: string): Uint8Array[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map(addressKey);
}

/** The source address of a flow, as text. */
export function formatAddress(key: Pick<FlowKey, 'saddr' | 'family'>): string {
  const a = key.saddr;
  if (key.family === AF_INET) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  // The longest run of zero groups becomes '::' (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export async function run(argv: string[], io?: ToolIO): Promise<number> {
  return runTool(definition, 'networking', argv, async (o, signal, out) => {
    const iface = o.iface as string | undefined;
    if (!iface) throw new ToolUsageError('--iface IF is required');
    const intervalS = (o.interval as number | undefined) ?? 1;
    const top = (o.top as number | undefined) ?? 20;
    using objs = loadPktcount();
    for (const key of (o.exclude as Uint8Array[] | undefined) ?? []) objs.maps.excluded.set(key, 1);
    // An unknown interface is an ArgumentError naming it.
    using _link = attachXdp(objs.programs.pktcount, { iface, mode: o.mode as XdpMode | undefined });
    const flows = objs.maps.flows;

    const report = () => {
      const rows: [FlowKey, FlowCount][] = [...flows.entries()];
      rows.sort(([ka, a], [kb, b]) => (b.packets > a.packets ? 1 : b.packets < a.packets ? -1 : ka.sport - kb.sport));
      const shown = top > 0 ? rows.slice(0, top) : rows;
      if (o.json) {
        out.out(JSON.stringify({
          time: clockTime(),
          iface,
          flows: shown.map(([k, v]) => ({
            source: formatAddress(k),
            sport: k.sport,
            dport: k.dport,
            protocol: PROTOCOLS[k.protocol] ?? String(k.protocol),
            family: k.family === AF_INET6 ? 'ipv6' : 'ipv4',
            packets: Number(v.packets),
            bytes: Number(v.bytes),
          })),
        }) + '\n');
        return;
      }
      let text = `\n${clockTime()}  ${iface}: ${rows.length} flows\n`;
      text += `${'SOURCE'.padEnd(40)} ${'SPORT'.padStart(5)} ${'DPORT'.padStart(5)} PROTO ${'PACKETS'.padStart(10)} ${'BYTES'.padStart(12)}\n`;
      for (const [k, v] of shown) {
        text += `${formatAddress(k).padEnd(40)} ${String(k.sport).padStart(5)} ${String(k.dport).padStart(5)} ${(PROTOCOLS[k.protocol] ?? String(k.protocol)).padEnd(5)} ${String(v.packets).padStart(10)} ${String(v.bytes).padStart(12)}\n`;
      }
      out.out(text);
    };

    announceReady(out, 'pktcount', `counting packets on ${iface}`);
    await reportEvery(intervalS, signal, report);
  }, io);
}
