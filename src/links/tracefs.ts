/**
 * tracefs and the perf PMUs: tracepoint ids, dynamic kprobe/uprobe events (the fallback for
 * kernels without the kprobe/uprobe PMUs, before 4.17), and PMU types and config bits.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { NotSupportedError, ArgumentError } from '../errors.js';

let root: string | null | undefined;

/**
 * Where tracefs is mounted: /sys/kernel/tracing (4.1+), or /sys/kernel/debug/tracing when only
 * debugfs is mounted. undefined when neither has it (mount it with
 * `mount -t tracefs tracefs /sys/kernel/tracing`).
 */
export function tracefsRoot(): string | undefined {
  if (root === undefined) {
    root = null;
    for (const dir of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
      if (existsSync(`${dir}/events`)) {
        root = dir;
        break;
      }
    }
  }
  return root ?? undefined;
}

function requireTracefs(what: string): string {
  const r = tracefsRoot();
  if (!r) {
    throw new NotSupportedError(
      'tracefs',
      `${what}: tracefs is not mounted at /sys/kernel/tracing (or /sys/kernel/debug/tracing): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing'`,
    );
  }
  return r;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The id of tracepoint `group/name` (events/<group>/<name>/id), for perf_event_open. */
export function tracepointId(group: string, name: string): number {
  if (!NAME.test(group) || !NAME.test(name)) throw new ArgumentError(`invalid tracepoint '${group}/${name}': group and name are [A-Za-z0-9_.-]`);
  const r = requireTracefs(`tracepoint ${group}/${name}`);
  const path = `${r}/events/${group}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotSupportedError(`tracepoint ${group}/${name}`, `tracepoint ${group}/${name}: this kernel has no such tracepoint (${path} missing)`);
    }
    throw e;
  }
  return Number(text.trim());
}

export type ProbeKind = 'kprobe' | 'uprobe';

export interface Pmu {
  /** perf_event_attr.type of the PMU. */
  type: number;
  /** The config bit that makes a return probe. */
  retprobeBit: number;
}

const pmuCache = new Map<ProbeKind, Pmu | null>();

/** The kprobe or uprobe PMU (4.17+), or undefined when the kernel has none. */
export function probePmu(kind: ProbeKind): Pmu | undefined {
  let p = pmuCache.get(kind);
  if (p === undefined) {
    p = null;
    const dir = `/sys/bus/event_source/devices/${kind}`;
    try {
      const type = Number(readFileSync(`${dir}/type`, 'utf8').trim());
      // format/retprobe reads "config:0": the bit of config that asks for a return probe.
      let bit = 0;
      try {
        const m = /config:(\d+)/.exec(readFileSync(`${dir}/format/retprobe`, 'utf8'));
        if (m) bit = Number(m[1]);
      } catch {
        /* older kernels have no format directory; bit 0 is what they use */
      }
      p = { type, retprobeBit: bit };
    } catch {
      p = null;
    }
    pmuCache.set(kind, p);
  }
  return p ?? undefined;
}

/** Whether tracefs offers `kprobe_events` or `uprobe_events` (CONFIG_KPROBE_EVENTS / CONFIG_UPROBE_EVENTS). */
export function hasProbeEvents(kind: ProbeKind): boolean {
  const r = tracefsRoot();
  return r !== undefined && existsSync(`${r}/${kind}_events`);
}

let counter = 0;
/** The group of the tracefs probe events this library creates. */
export const PROBE_EVENT_GROUP = 'ebpf_ts';

/** A tracefs probe event made by createProbeEvent: its id for perf_event_open, and how to remove it. */
export interface ProbeEvent {
  group: string;
  event: string;
  id: number;
  remove(): void;
}

/**
 * Creates a kprobe or uprobe event through tracefs (the legacy interface, before the PMUs):
 * `p:ebpf_ts/<unique> <target>` (or `r:` for a return probe), written to kprobe_events or
 * uprobe_events. The name is unique per process and call, so concurrent users don't collide.
 * remove() deletes the event; it fails with EBUSY while a perf event still uses it, so call it
 * after closing the perf event.
 */
export function createProbeEvent(kind: ProbeKind, target: string, retprobe: boolean, label: string, maxActive = 0): ProbeEvent {
  const r = requireTracefs(`${kind} event for ${target}`);
  const file = `${r}/${kind}_events`;
  if (!existsSync(file)) {
    throw new NotSupportedError(
      kind === 'kprobe' ? 'kprobes (CONFIG_KPROBES, CONFIG_KPROBE_EVENTS)' : 'uprobes (CONFIG_UPROBE_EVENTS)',
      `${kind} on ${target}: this kernel has neither the ${kind} PMU (/sys/bus/event_source/devices/${kind}) nor ${file}`,
    );
  }
  const event = `${kind[0]}_${process.pid}_${counter++}_${label.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 63);
  const type = retprobe ? (maxActive > 0 && kind === 'kprobe' ? `r${maxActive}` : 'r') : 'p';
  const line = `${type}:${PROBE_EVENT_GROUP}/${event} ${target}\n`;
  try {
    appendFileSync(file, line);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArgumentError(`${kind} on ${target}: tracefs refused '${line.trim()}' (${code}): no such ${kind === 'kprobe' ? 'kernel function' : 'file or offset'}?`, code ?? 'EINVAL');
  }
  const remove = () => {
    try {
      appendFileSync(file, `-:${PROBE_EVENT_GROUP}/${event}\n`);
    } catch (e) {
      // ENOENT: already gone. EBUSY: still in use (a pinned link): the kernel keeps it.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EBUSY') throw e;
    }
  };
  let id: number;
  try {
    id = Number(readFileSync(`${r}/events/${PROBE_EVENT_GROUP}/${event}/id`, 'utf8').trim());
  } catch (e) {
    remove();
    throw e;
  }
  return { group: PROBE_EVENT_GROUP, event, id, remove };
}
