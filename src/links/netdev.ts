/**
 * Network interfaces by name and index, from sysfs (the current network namespace's view).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { ArgumentError } from '../errors.js';

/** The index of interface `name` (/sys/class/net/<name>/ifindex). */
export function ifindexOf(name: string): number {
  if (!/^[^/\s]{1,15}$/.test(name)) throw new ArgumentError(`invalid interface name '${name}'`);
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    throw new ArgumentError(`no network interface '${name}' in this network namespace`, 'ENODEV');
  }
}

/** The name of interface `ifindex`, or undefined when there is none in this namespace. */
export function ifnameOf(ifindex: number): string | undefined {
  for (const name of readdirSync('/sys/class/net')) {
    try {
      if (Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim()) === ifindex) return name;
    } catch {
      /* went away */
    }
  }
  return undefined;
}

/** The ifindex an options object names: `ifindex`, or `iface` looked up. */
export function resolveIfindex(opts: { ifindex?: number; iface?: string }, what: string): number {
  if (opts.ifindex !== undefined) {
    if (!Number.isInteger(opts.ifindex) || opts.ifindex <= 0) throw new ArgumentError(`${what}: invalid ifindex ${opts.ifindex}`);
    return opts.ifindex;
  }
  if (opts.iface !== undefined) return ifindexOf(opts.iface);
  throw new ArgumentError(`${what}: give an interface (iface or ifindex)`);
}
