/**
 * BTF: parsing (.BTF, .BTF.ext, kernel and module BTF), the type graph, marshalling for
 * BPF_BTF_LOAD, and the C header and TypeScript writers. `ebpf-ts/btf`.
 */

export * from './types.js';
export * from './util.js';
export { Spec, type SpecParseOptions } from './spec.js';
export {
  BTF_MAGIC,
  BTF_VERSION,
  BTF_HEADER_LEN,
  BTF_MAX_TYPE,
  HOST_BYTE_ORDER,
  detectByteOrder,
  parseBtfHeader,
  type BtfHeader,
  type ByteOrder,
} from './parse.js';
export * from './ext.js';
export * from './marshal.js';
export * from './kernel.js';
export * from './c_writer.js';
export * from './ts_writer.js';
export * from './core.js';
export * from './codec.js';
