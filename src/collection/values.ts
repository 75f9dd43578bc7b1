/**
 * JS values to and from the bytes of a BTF-typed variable (global data, kconfig values),
 * through the BTF codec (btf/codec.ts holds the mapping between C types and JS values).
 *
 * Writing a struct here is a partial update, as for a variable in place: members left out keep
 * their current value (the codec itself zeroes them, as a whole-value write). A union given
 * here replaces the whole union.
 */
import { ArgumentError } from '../errors.js';
import { btfCodec, codecKeys, resolve, type Type } from '../btf/index.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * `patch` over `base` for a value of type `t`: struct (and datasec) members merge recursively;
 * a union is replaced by what the patch gives (its members share bytes, so merging the others'
 * old values back would overwrite the new one); everything else replaces.
 */
function merge(t: Type, base: unknown, patch: unknown): unknown {
  const r = resolve(t);
  if ((r.kind !== 'struct' && r.kind !== 'datasec') || !isPlainObject(base) || !isPlainObject(patch)) return patch;
  const keys = codecKeys(r);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const mt = keys.get(k);
    out[k] = mt && k in base ? merge(mt, base[k], v) : v;
  }
  return out;
}

function bytesOf(dv: DataView): Uint8Array {
  return new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
}

/** Decodes the value of type `t` at `off` (see btf/codec.ts for the mapping). */
export function decodeValue(t: Type, dv: DataView, off: number, le = true): unknown {
  return btfCodec(t, { littleEndian: le }).decode(bytesOf(dv), off);
}

/**
 * Encodes `value` as type `t` into `dv` at `off`. Members of structs and unions left out keep
 * their current bytes. Throws ArgumentError for values that don't fit the type (out of range
 * integers, unknown enumerators or members, strings too long, wrong shapes), naming `what`.
 */
export function encodeValue(t: Type, value: unknown, dv: DataView, off: number, le = true, what = 'value'): void {
  const codec = btfCodec(t, { littleEndian: le });
  const bytes = bytesOf(dv);
  const r = resolve(t);
  let v = value;
  if ((r.kind === 'struct' || r.kind === 'datasec') && isPlainObject(value)) v = merge(r, codec.decode(bytes, off), value);
  try {
    codec.encode(v, bytes, off);
  } catch (e) {
    if (e instanceof ArgumentError && what !== 'value' && e.message.startsWith('value')) {
      throw new ArgumentError(what + e.message.slice('value'.length), e.code);
    }
    throw e;
  }
}
