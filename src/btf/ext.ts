/**
 * .BTF.ext: per-ELF-section function info, line info and CO-RE relocation records of a BPF
 * object (layout: struct btf_ext_header and the btf_ext_info_sec blocks, as libbpf reads them).
 *
 * Each of the three parts is `u32 record_size` followed by blocks of
 * `{ u32 sec_name_off; u32 num_info; u8 data[num_info * record_size] }`. Record sizes come from
 * the file; records larger than this library knows keep their known prefix. String offsets
 * (section names, file names, source lines, CO-RE access strings) index the .BTF string table.
 * Instruction offsets are in bytes from the start of the ELF section, as in the file.
 */

import { FormatError } from '../errors.js';
import { detectByteOrder, HOST_BYTE_ORDER, type ByteOrder } from './parse.js';
import { Spec, type SpecParseOptions } from './spec.js';

// enum bpf_core_relo_kind (include/uapi/linux/bpf.h)
export const BPF_CORE_FIELD_BYTE_OFFSET = 0;
export const BPF_CORE_FIELD_BYTE_SIZE = 1;
export const BPF_CORE_FIELD_EXISTS = 2;
export const BPF_CORE_FIELD_SIGNED = 3;
export const BPF_CORE_FIELD_LSHIFT_U64 = 4;
export const BPF_CORE_FIELD_RSHIFT_U64 = 5;
export const BPF_CORE_TYPE_ID_LOCAL = 6;
export const BPF_CORE_TYPE_ID_TARGET = 7;
export const BPF_CORE_TYPE_EXISTS = 8;
export const BPF_CORE_TYPE_SIZE = 9;
export const BPF_CORE_ENUMVAL_EXISTS = 10;
export const BPF_CORE_ENUMVAL_VALUE = 11;
export const BPF_CORE_TYPE_MATCHES = 12;

/** Names of the CO-RE relocation kinds as libbpf prints them, indexed by kind. */
export const CORE_RELO_KIND_NAMES: readonly string[] = Object.freeze([
  'byte_off',
  'byte_sz',
  'field_exists',
  'signed',
  'lshift_u64',
  'rshift_u64',
  'local_type_id',
  'target_type_id',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
]);

export const BTF_EXT_HEADER_MIN_LEN = 24;
/** Header length including the CO-RE relocation fields. */
export const BTF_EXT_HEADER_CORE_LEN = 32;

/** Minimum record sizes: struct bpf_func_info, bpf_line_info, bpf_core_relo. */
export const FUNC_INFO_MIN_SIZE = 8;
export const LINE_INFO_MIN_SIZE = 16;
export const CORE_RELO_MIN_SIZE = 16;

export interface FuncInfo {
  /** Byte offset of the function's first instruction in its ELF section. */
  insnOffset: number;
  /** Id of the BTF FUNC type in the object's .BTF. */
  typeId: number;
}

export interface LineInfo {
  /** Byte offset of the instruction in its ELF section. */
  insnOffset: number;
  fileName: string;
  /** The source line's text. */
  lineText: string;
  line: number;
  column: number;
}

export interface CoreRelo {
  /** Byte offset of the relocated instruction in its ELF section. */
  insnOffset: number;
  /** Id of the root type in the object's .BTF. */
  typeId: number;
  /** "0:1:2": member/array indexes from the root type; for enum relocations the value index. */
  accessString: string;
  /** One of the BPF_CORE_* constants. */
  kind: number;
}

export interface BtfExt {
  byteOrder: ByteOrder;
  /** Records by ELF section name, in file order. */
  funcInfos: Map<string, FuncInfo[]>;
  lineInfos: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
  /** Record sizes found in the file (0 for an absent part). */
  recordSizes: { funcInfo: number; lineInfo: number; coreRelo: number };
}

/** Where .BTF.ext string offsets are looked up: a Spec (the object's .BTF) does it. */
export interface StringSource {
  stringAt(offset: number): string;
}

function extError(message: string, offset?: number): FormatError {
  return new FormatError('ERR_BTF', `.BTF.ext: ${message}`, offset);
}

/** Parses .BTF.ext; strings resolve through `strings`, normally the object's .BTF Spec. */
export function parseBtfExt(bytes: Uint8Array, strings: StringSource): BtfExt {
  const byteOrder = detectByteOrder(bytes, '.BTF.ext');
  if (bytes.length < BTF_EXT_HEADER_MIN_LEN) throw extError(`${bytes.length} bytes, too short for the header`, 0);
  const le = byteOrder === 'little';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[2]!;
  if (version !== 1) throw extError(`unsupported version ${version}`, 2);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < BTF_EXT_HEADER_MIN_LEN) throw extError(`header length ${hdrLen} is less than ${BTF_EXT_HEADER_MIN_LEN}`, 4);
  if (hdrLen > bytes.length) throw extError(`header length ${hdrLen} runs past the end of the ${bytes.length}-byte blob`, 4);

  const cache = new Map<number, string>();
  const str = (off: number, at: number, what: string): string => {
    let s = cache.get(off);
    if (s === undefined) {
      try {
        s = strings.stringAt(off);
      } catch (err) {
        if (err instanceof FormatError) throw extError(`${what}: bad string offset ${off}`, at);
        throw err;
      }
      cache.set(off, s);
    }
    return s;
  };

  // Walks one part: calls `rec(pos, sectionName)` for each record; returns the record size.
  const part = (
    name: string,
    hdrField: number,
    minSize: number,
    rec: (pos: number, out: unknown[]) => unknown,
    into: Map<string, unknown[]>,
  ): number => {
    const off = dv.getUint32(hdrField, le);
    const len = dv.getUint32(hdrField + 4, le);
    if (len === 0) return 0;
    const start = hdrLen + off;
    if (off % 4 !== 0) throw extError(`${name} part at offset ${off} is not 4-byte aligned`, hdrField);
    if (start + len > bytes.length) throw extError(`${name} part [${off}, +${len}) runs past the end of the data`, hdrField);
    if (len < 4) throw extError(`${name} part is ${len} bytes, too short for a record size`, start);
    const recSize = dv.getUint32(start, le);
    if (recSize < minSize || recSize % 4 !== 0) throw extError(`${name} record size ${recSize} is invalid (minimum ${minSize}, multiple of 4)`, start);
    const end = start + len;
    let p = start + 4;
    while (p < end) {
      if (end - p < 8) throw extError(`${name}: truncated section header`, p);
      const secNameOff = dv.getUint32(p, le);
      const num = dv.getUint32(p + 4, le);
      if (num === 0) throw extError(`${name}: section with no records`, p + 4);
      const secName = str(secNameOff, p, `${name} section name`);
      p += 8;
      if (num * recSize > end - p) throw extError(`${name}: ${num} records of ${recSize} bytes in '${secName}' run past the end of the part`, p - 4);
      let list = into.get(secName);
      if (!list) into.set(secName, (list = []));
      for (let i = 0; i < num; i++, p += recSize) list.push(rec(p, list));
    }
    return recSize;
  };

  const funcInfos = new Map<string, FuncInfo[]>();
  const lineInfos = new Map<string, LineInfo[]>();
  const coreRelos = new Map<string, CoreRelo[]>();

  const funcSize = part(
    'func_info',
    8,
    FUNC_INFO_MIN_SIZE,
    (p): FuncInfo => ({ insnOffset: dv.getUint32(p, le), typeId: dv.getUint32(p + 4, le) }),
    funcInfos as Map<string, unknown[]>,
  );
  const lineSize = part(
    'line_info',
    16,
    LINE_INFO_MIN_SIZE,
    (p): LineInfo => {
      const lineCol = dv.getUint32(p + 12, le);
      return {
        insnOffset: dv.getUint32(p, le),
        fileName: str(dv.getUint32(p + 4, le), p + 4, 'line_info file name'),
        lineText: str(dv.getUint32(p + 8, le), p + 8, 'line_info line'),
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
      };
    },
    lineInfos as Map<string, unknown[]>,
  );
  let coreSize = 0;
  if (hdrLen >= BTF_EXT_HEADER_CORE_LEN) {
    coreSize = part(
      'core_relo',
      24,
      CORE_RELO_MIN_SIZE,
      (p): CoreRelo => ({
        insnOffset: dv.getUint32(p, le),
        typeId: dv.getUint32(p + 4, le),
        accessString: str(dv.getUint32(p + 8, le), p + 8, 'core_relo access string'),
        kind: dv.getUint32(p + 12, le),
      }),
      coreRelos as Map<string, unknown[]>,
    );
  }
  return { byteOrder, funcInfos, lineInfos, coreRelos, recordSizes: { funcInfo: funcSize, lineInfo: lineSize, coreRelo: coreSize } };
}

/** The BTF of a BPF object: its .BTF types and, when present, its .BTF.ext records. */
export interface ObjectBtf {
  spec: Spec;
  ext: BtfExt | undefined;
}

/**
 * Parses a BPF object's BTF from the bytes of its `.BTF` and `.BTF.ext` sections (the ELF
 * reader finds them). Pure; throws FormatError (ERR_BTF) for malformed input.
 */
export function parseObjectBtf(sections: { btf: Uint8Array; btfExt?: Uint8Array | undefined }, options: SpecParseOptions = {}): ObjectBtf {
  const spec = Spec.parse(sections.btf, options);
  const ext = sections.btfExt ? parseBtfExt(sections.btfExt, spec) : undefined;
  return { spec, ext };
}

// ---------------------------------------------------------------------------------------------
// Records for BPF_PROG_LOAD (struct bpf_func_info / bpf_line_info): there the instruction
// offsets count instructions from the program's start, not bytes, and strings index the
// string table of the BTF object loaded with BPF_BTF_LOAD.
// ---------------------------------------------------------------------------------------------

export interface ProgFuncInfo {
  /** Instruction index in the program (not bytes). */
  insn: number;
  /** Type id in the loaded BTF. */
  typeId: number;
}

export interface ProgLineInfo {
  /** Instruction index in the program (not bytes). */
  insn: number;
  fileName: string;
  lineText: string;
  line: number;
  column: number;
}

/** struct bpf_func_info[] for BPF_PROG_LOAD's func_info (record size 8). */
export function marshalFuncInfos(infos: readonly ProgFuncInfo[], byteOrder: ByteOrder = HOST_BYTE_ORDER): Uint8Array {
  const out = new Uint8Array(infos.length * FUNC_INFO_MIN_SIZE);
  const dv = new DataView(out.buffer);
  const le = byteOrder === 'little';
  infos.forEach((f, i) => {
    dv.setUint32(i * 8, f.insn, le);
    dv.setUint32(i * 8 + 4, f.typeId, le);
  });
  return out;
}

/**
 * struct bpf_line_info[] for BPF_PROG_LOAD's line_info (record size 16). `stringOffset` maps
 * file names and source lines to offsets in the loaded BTF's string table (see encodeBtf's
 * `extraStrings` and `stringOffset`).
 */
export function marshalLineInfos(
  infos: readonly ProgLineInfo[],
  stringOffset: (s: string) => number,
  byteOrder: ByteOrder = HOST_BYTE_ORDER,
): Uint8Array {
  const out = new Uint8Array(infos.length * LINE_INFO_MIN_SIZE);
  const dv = new DataView(out.buffer);
  const le = byteOrder === 'little';
  infos.forEach((l, i) => {
    const p = i * 16;
    dv.setUint32(p, l.insn, le);
    dv.setUint32(p + 4, stringOffset(l.fileName), le);
    dv.setUint32(p + 8, stringOffset(l.lineText), le);
    dv.setUint32(p + 12, ((l.line << 10) | (l.column & 0x3ff)) >>> 0, le);
  });
  return out;
}
