/**
 * What the running kernel accepts of what a collection needs: the BTF kinds (to sanitise the
 * object's BTF as libbpf's bpf_object__sanitize_btf does) and mmapable arrays. Each probe loads
 * a tiny BTF blob or creates a tiny map, once per process.
 */
import { encodeBtf, type BtfFeatures, type Type } from '../btf/index.js';
import { FD, MapFlags, MapType, btfLoadRaw, mapCreate } from '../sys/index.js';

let btfFeatures: BtfFeatures | undefined;
let mmapable: boolean | undefined;

function loads(types: Type[]): boolean {
  const { result } = btfLoadRaw(encodeBtf(types).bytes);
  if (result < 0) return false;
  new FD(result, 'BTF probe').close();
  return true;
}

const int = (): Type => ({ id: 0, kind: 'int', name: 'int', size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });

/** Probes (once) which BTF kinds and features the kernel's BTF loader accepts. */
export function probeBtfFeatures(): BtfFeatures {
  if (btfFeatures) return btfFeatures;
  const i = int();
  const proto: Type = { id: 0, kind: 'func_proto', name: '', returnType: i, params: [{ name: 'x', type: i }] };
  const func = (linkage: 'static' | 'global'): Type => ({ id: 0, kind: 'func', name: 'f', proto: proto as never, linkage });
  const v: Type = { id: 0, kind: 'var', name: 'v', type: i, linkage: 'global' };
  const datasec = (name: string): Type => ({ id: 0, kind: 'datasec', name, size: 4, vars: [{ type: v, offset: 0, size: 4 }] });
  const st: Type = { id: 0, kind: 'struct', name: 's', size: 4, members: [{ name: 'm', type: i, bitOffset: 0, bitfieldSize: 0 }] };
  const tag: Type = { id: 0, kind: 'type_tag', name: 'tag', target: i };
  btfFeatures = {
    func: loads([i, proto, func('static')]),
    globalFunc: loads([i, proto, func('global')]),
    datasec: loads([i, v, datasec('.data')]),
    float: loads([{ id: 0, kind: 'float', name: 'float', size: 4 }]),
    declTag: loads([i, st, { id: 0, kind: 'decl_tag', name: 'tag', target: st, componentIndex: -1 }]),
    typeTag: loads([i, tag, { id: 0, kind: 'ptr', name: '', target: tag }]),
    enum64: loads([{ id: 0, kind: 'enum64', name: 'e', size: 8, signed: false, values: [{ name: 'A', value: 1n << 40n }] }]),
    qmarkDatasec: loads([i, v, datasec('?.data')]),
  };
  return btfFeatures;
}

/** Whether arrays can be created with BPF_F_MMAPABLE (5.5+). */
export function probeMmapableArrays(): boolean {
  if (mmapable !== undefined) return mmapable;
  try {
    mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, mapFlags: MapFlags.MMAPABLE }).close();
    mmapable = true;
  } catch {
    mmapable = false;
  }
  return mmapable;
}
