/**
 * `ebpf-ts prog loadall OBJ PINDIR [pinmaps MAPDIR]`, like `bpftool prog loadall`: create the
 * object's maps, load every program, pin each program as PINDIR/<program name> (and each map
 * as MAPDIR/<map name> with `pinmaps`). Exit 0 only when everything loaded; otherwise the
 * reason on stderr (the verifier's last lines for a rejection) and nothing left pinned.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EbpfError, VerifierError } from '../errors.js';
import { loadCollection, loadCollectionSpec, type Collection } from '../collection/index.js';

export class LoadallUsageError extends Error {}

export interface LoadallIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs the command on its arguments (after `prog loadall`); returns the exit code. */
export function loadall(args: string[], io: LoadallIO): number {
  const [obj, pinDir, ...rest] = args;
  if (!obj || !pinDir) throw new LoadallUsageError('usage: prog loadall OBJ PINDIR [pinmaps MAPDIR]');
  let mapDir: string | undefined;
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === 'pinmaps' && rest[i + 1]) mapDir = rest[i + 1];
    else throw new LoadallUsageError(`prog loadall: unexpected argument '${rest[i]}'`);
  }
  const pins: string[] = [];
  let col: Collection | undefined;
  try {
    const spec = loadCollectionSpec(obj);
    col = loadCollection(spec);
    mkdirSync(pinDir, { recursive: true });
    for (const [name, prog] of col.programs) {
      const path = join(pinDir, name);
      prog.pin(path);
      pins.push(path);
    }
    if (mapDir) {
      mkdirSync(mapDir, { recursive: true });
      for (const [name, map] of col.maps) {
        const ms = spec.maps.get(name)!;
        // libbpf pins internal maps under their kernel name, with the dots bpffs refuses in
        // file names made '_' (`obj.rodata` -> `obj_rodata`).
        const base = ms.kind === 'btf' || ms.kind === 'legacy' ? name : ms.kernelName;
        const path = join(mapDir, base.replace(/\./g, '_'));
        map.pin(path);
        pins.push(path);
      }
    }
    return 0;
  } catch (e) {
    for (const p of pins.reverse()) rmSync(p, { force: true });
    if (e instanceof VerifierError) {
      io.err(`ebpf-ts: failed to load object '${obj}': ${e.message}`);
      return 1;
    }
    if (e instanceof EbpfError) {
      io.err(`ebpf-ts: failed to load object '${obj}': ${e.message}`);
      return 1;
    }
    if ((e as NodeJS.ErrnoException)?.code && typeof (e as Error).message === 'string') {
      io.err(`ebpf-ts: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  } finally {
    col?.close();
  }
}
