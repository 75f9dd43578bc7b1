/**
 * BTF -> TypeScript: declarations of the shapes that decoded C values take in JavaScript.
 *
 * Mapping rules (tsTypeFor / tsMemberTypeFor hold them, for this writer and for the codec
 * generators that decode bytes into these shapes):
 *
 * | C (BTF)                                         | TypeScript                                |
 * |-------------------------------------------------|-------------------------------------------|
 * | `_Bool` (INT with the bool encoding)            | `boolean`                                 |
 * | integers of 1, 2, 4 bytes, `char`               | `number`                                  |
 * | integers of 8 and 16 bytes                      | `bigint`                                  |
 * | bitfields of up to 32 bits (any integer type)   | `number` (wider ones: `bigint`)           |
 * | `float`, `double` (FLOAT)                       | `number`                                  |
 * | pointers, function pointers included            | `bigint` (the address)                    |
 * | arrays of plain `char` (`char comm[16]`)        | `string` (up to the first NUL, UTF-8)     |
 * | other arrays of 1-byte integers (`u8[6]`)       | `Uint8Array`                              |
 * | other arrays, flexible ones included            | `T[]` (the length is in the doc comment)  |
 * | struct                                          | `export interface`, PascalCase name       |
 * | union                                           | `export interface` with every member      |
 * | enum                                            | `export const E = {...} as const` and     |
 * |                                                 | `export type E = number` (`bigint` for    |
 * |                                                 | 8-byte enums and ENUM64)                  |
 * | typedef                                         | `export type T = ...`                     |
 * | DATASEC (.bss, .data, .rodata, .kconfig)        | `export interface` of its variables       |
 *
 * - `char` arrays are strings because C uses them for text (comm, filenames); `unsigned char`,
 *   `signed char` and `__u8` arrays are bytes. The codec (btf/codec.ts) decodes to these shapes.
 * - A union's members overlay the same bytes; decoding gives every member's view of them, so
 *   all members are present (none optional).
 * - Enum types are `number`, not the union of their values: values read from the kernel may be
 *   OR-ed flags or values newer than the BTF.
 * - Arrays are `T[]` rather than tuples: lengths run to the thousands, and tuples of 16 are
 *   unwieldy; the doc comment gives the C type with its length.
 * - Anonymous struct/union members (C11) are flattened into the containing interface, as C
 *   accesses them (`skb->len`, not `skb->anon.len`); named members of anonymous type get an
 *   inline object type.
 * - Member types go through typedefs (`pid_t pid` is `pid: number`); typedefs of structs
 *   name the struct's interface. The C type stays in the doc comment, with the byte offset.
 * - Typedefs of anonymous types name them: `typedef struct {...} atomic_t` is `interface
 *   AtomicT`. Anonymous enums that no typedef names write their enumerators as `export const`.
 * - Names: types in PascalCase (`task_struct` -> `TaskStruct`); leading underscores and CO-RE
 *   flavours are kept (`__sk_buff` -> `__SkBuff`, `task_struct___old` -> `TaskStruct___old`);
 *   members and enumerators as in C. A name already taken gets `_2`, `_3`, ... in id order.
 * - Only values have shapes: void, functions, forward declarations are not written.
 *
 * The same input gives byte-identical output.
 */
import { FormatError } from '../errors.js';
import { cTypeName } from './c_writer.js';
import type { DatasecType, EnumType, IntType, Member, RefType, StructType, Type } from './types.js';

export interface TypeScriptOptions {
  /** Write only these types and what they use by value (pointers are addresses: not followed). */
  only?: Type[];
  /** Wrap the declarations in `export namespace <name> { ... }`. */
  namespace?: string;
}

/** How a C type is represented in JavaScript. */
export type TsMapping =
  | { kind: 'boolean'; size: number }
  | { kind: 'number'; size: number; signed: boolean; float: boolean }
  | { kind: 'bigint'; size: number; signed: boolean }
  | { kind: 'pointer' }
  /** An array of 1-byte integers other than plain `char`, as a Uint8Array. */
  | { kind: 'bytes'; length: number; element: IntType }
  /** An array of plain `char`: a NUL-terminated string. */
  | { kind: 'string'; length: number; element: IntType }
  | { kind: 'array'; length: number; element: Type }
  | { kind: 'enum'; type: EnumType; bigint: boolean }
  /** A struct or union (also a datasec's variables). */
  | { kind: 'struct'; type: StructType | DatasecType }
  /** No value: void, functions, forward declarations, vars, decl tags. */
  | { kind: 'none' };

const MAX_DEPTH = 256;

/** Skip typedefs and qualifiers. */
function resolveAliases(t: Type): Type {
  for (let i = 0; i < MAX_DEPTH; i++) {
    if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') {
      t = t.target;
    } else {
      return t;
    }
  }
  throw new FormatError('ERR_BTF', `BTF type [${t.id}]: typedef/qualifier chain too long (a cycle?)`);
}

function skipQualifiers(t: Type): Type {
  for (let i = 0; i < MAX_DEPTH; i++) {
    if (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') t = t.target;
    else return t;
  }
  throw new FormatError('ERR_BTF', `BTF type [${t.id}]: qualifier chain too long (a cycle?)`);
}

/** The JavaScript representation of a value of C type `type` (typedefs and qualifiers skipped). */
/** The TS type of a scalar mapping (numbers, bigints, strings, bytes), or undefined for the others. */
export function scalarTypeText(m: TsMapping): string | undefined {
  switch (m.kind) {
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'number';
    case 'bigint':
    case 'pointer':
      return 'bigint';
    case 'bytes':
      return 'Uint8Array';
    case 'string':
      return 'string';
    default:
      return undefined;
  }
}

export function tsTypeFor(type: Type): TsMapping {
  const t = resolveAliases(type);
  switch (t.kind) {
    case 'int':
      if (t.bool) return { kind: 'boolean', size: t.size };
      if (t.size <= 4) return { kind: 'number', size: t.size, signed: t.signed, float: false };
      return { kind: 'bigint', size: t.size, signed: t.signed };
    case 'float':
      return { kind: 'number', size: t.size, signed: true, float: true };
    case 'ptr':
      return { kind: 'pointer' };
    case 'array': {
      const e = resolveAliases(t.element);
      if (e.kind === 'int' && e.size === 1 && !e.bool) {
        // Plain `char` (clang marks it signed, pahole may set the char encoding) is text.
        if (e.char || e.name === 'char') return { kind: 'string', length: t.length, element: e };
        return { kind: 'bytes', length: t.length, element: e };
      }
      return { kind: 'array', length: t.length, element: t.element };
    }
    case 'enum':
    case 'enum64':
      return { kind: 'enum', type: t, bigint: t.kind === 'enum64' || t.size > 4 };
    case 'struct':
    case 'union':
    case 'datasec':
      return { kind: 'struct', type: t };
    default:
      return { kind: 'none' };
  }
}

/**
 * As tsTypeFor, for a struct member: integer bitfields of up to 32 bits are numbers whatever
 * their declared type (`u64 flag: 1` is a number), wider ones bigints.
 */
export function tsMemberTypeFor(member: Member): TsMapping {
  const m = tsTypeFor(member.type);
  const width = member.bitfieldSize;
  if (width && (m.kind === 'number' || m.kind === 'bigint') && !(m.kind === 'number' && m.float)) {
    const signed = m.signed;
    return width <= 32 ? { kind: 'number', size: m.size, signed, float: false } : { kind: 'bigint', size: m.size, signed };
  }
  return m;
}

/** The PascalCase TypeScript name for a C name, before collisions are resolved. */
export function tsTypeName(cName: string): string {
  let name = cName.replace(/[^A-Za-z0-9_$]/g, '_');
  let flavor = '';
  const f = name.indexOf('___', 1);
  if (f > 0 && /[^_]/.test(name.slice(0, f))) {
    flavor = name.slice(f);
    name = name.slice(0, f);
  }
  const lead = /^_*/.exec(name)![0];
  const body = name
    .slice(lead.length)
    .split('_')
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
  let out = lead + body + flavor;
  if (out === '' || /^[0-9]/.test(out)) out = '_' + out;
  return out;
}

/**
 * Global names the declarations themselves use: a C type of that name gets `_2`. (Other globals
 * may be shadowed inside the module, which is harmless: they aren't used there.)
 */
const RESERVED_NAMES = ['Uint8Array'];

/** Words that can't name a `const` (or that TypeScript won't let a module redeclare). */
const JS_RESERVED = new Set([
  'Infinity', 'NaN', 'globalThis', 'undefined',
  'arguments', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default',
  'delete', 'do', 'else', 'enum', 'eval', 'export', 'extends', 'false', 'finally', 'for', 'function',
  'if', 'implements', 'import', 'in', 'instanceof', 'interface', 'let', 'new', 'null', 'package',
  'private', 'protected', 'public', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true',
  'try', 'typeof', 'var', 'void', 'while', 'with', 'yield',
]);

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyKey(name: string): string {
  return IDENT.test(name) ? name : `'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function bytes(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}

function comment(text: string): string {
  return `/** ${text.replace(/\*\//g, '*\\/')} */`;
}

/** Write TypeScript declarations for `types` (all named ones, or `options.only`). */
export function writeTypeScript(types: Iterable<Type> | Type[], options: TypeScriptOptions = {}): string {
  const list = Array.isArray(types) ? types : [...types];
  const w = new TsWriter(list);
  const body = w.write(options.only ?? list);
  let out = '// Generated by ebpf-ts from BTF. Do not edit.\n';
  if (options.namespace) {
    const ns = options.namespace;
    out += `\nexport namespace ${ns} {\n`;
    out += body
      .split('\n')
      .map((l) => (l ? '  ' + l : l))
      .join('\n');
    out += '}\n';
  } else {
    out += body;
  }
  return out;
}

type Named = StructType | EnumType | RefType | DatasecType;

class TsWriter {
  /** Anonymous struct/union/enum -> the first typedef naming it. */
  private readonly namedBy = new Map<Type, RefType>();
  /** Types to write (declarations of their own), in discovery order. */
  private readonly pending: Type[] = [];
  private readonly queued = new Set<Type>();
  private readonly names = new Map<Type, string>();
  /** Anonymous enums written as constants: enumerator index -> const name. */
  private readonly constNames = new Map<Type, string[]>();
  private naming = false;

  constructor(list: Type[]) {
    for (const t of list) {
      if (t.kind !== 'typedef') continue;
      const target = skipQualifiers(t.target);
      if (target.name) continue;
      if (target.kind === 'struct' || target.kind === 'union' || target.kind === 'enum' || target.kind === 'enum64') {
        if (!this.namedBy.has(target)) this.namedBy.set(target, t);
      }
    }
  }

  write(roots: Type[]): string {
    for (const t of roots) this.root(t);
    // Discover everything written (declarations register what they use), then name in id order.
    for (let i = 0; i < this.pending.length; i++) this.declare(this.pending[i]!);
    const order = this.pending.map((t, i) => ({ t, i })).sort((a, b) => a.t.id - b.t.id || a.i - b.i);
    this.assignNames(order.map((o) => o.t));
    this.naming = true;
    return order.map((o) => this.declare(o.t)).join('');
  }

  /** A type asked for: written if it declares something. */
  private root(t: Type): void {
    switch (t.kind) {
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64': {
        // Anonymous types are declared by the typedef naming them, or inline where used;
        // anonymous enums on their own are constants.
        const td = this.namedBy.get(t);
        if (t.name) this.enqueue(t);
        else if (td) this.enqueue(td);
        else if (t.kind === 'enum' || t.kind === 'enum64') this.enqueue(t);
        break;
      }
      case 'typedef':
        // Typedefs of functions and void have no values: nothing to declare.
        if (tsTypeFor(t).kind !== 'none') this.enqueue(t);
        break;
      case 'datasec':
        if (TsWriter.isDataSection(t)) this.enqueue(t);
        break;
      default:
        break;
    }
  }

  private enqueue(t: Type): void {
    if (this.queued.has(t)) return;
    this.queued.add(t);
    this.pending.push(t);
  }

  /** The sections libbpf makes global data maps of (not .maps, .ksyms, license). */
  private static isDataSection(t: DatasecType): boolean {
    const n = t.name;
    const data = n === '.bss' || n === '.kconfig' || /^\.(?:data|rodata)(?:\.|$)/.test(n);
    return data && t.vars.some((v) => v.type.kind === 'var');
  }

  // --- names --------------------------------------------------------------------------------------

  private assignNames(order: Type[]): void {
    const taken = new Set<string>(RESERVED_NAMES);
    const unique = (base: string): string => {
      let n = base;
      for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
      taken.add(n);
      return n;
    };
    for (const t of order) {
      if (t.kind === 'typedef') {
        // `typedef struct foo foo;`: the alias would be the struct's own name; share it.
        const target = skipQualifiers(t.target);
        if (target.name && target.kind !== 'typedef' && this.queued.has(target) && tsTypeName(target.name) === tsTypeName(t.name)) continue;
        this.names.set(t, unique(tsTypeName(t.name)));
      } else if ((t.kind === 'enum' || t.kind === 'enum64') && !t.name) {
        this.constNames.set(
          t,
          t.values.map((v) => {
            const base = v.name.replace(/[^A-Za-z0-9_$]/g, '_');
            return unique(JS_RESERVED.has(base) || !IDENT.test(base) ? `_${base}` : base);
          }),
        );
      } else {
        this.names.set(t, unique(tsTypeName(t.name.replace(/^\./, ''))));
      }
    }
    // Second pass: typedefs sharing their target's name.
    for (const t of order) {
      if (t.kind === 'typedef' && !this.names.has(t)) this.names.set(t, this.names.get(skipQualifiers((t as RefType).target))!);
    }
  }

  /** The TS name of a type with a declaration of its own (registering it to be written). */
  private nameOf(t: Named): string {
    this.enqueue(t);
    if (!this.naming) return '';
    return this.names.get(t)!;
  }

  // --- declarations -------------------------------------------------------------------------------

  private declare(t: Type): string {
    switch (t.kind) {
      case 'struct':
      case 'union':
        return this.structDecl(t, t.kind + ' ' + (t.name || '{...}'), t);
      case 'datasec':
        return this.datasecDecl(t);
      case 'enum':
      case 'enum64':
        return t.name ? this.enumDecl(t, `enum ${t.name}`, t) : this.enumConsts(t);
      case 'typedef':
        return this.typedefDecl(t as RefType);
      default:
        return '';
    }
  }

  private structDecl(t: StructType, cName: string, owner: Named): string {
    const name = this.nameOf(owner);
    let s = `\n${comment(`${cName}, ${bytes(t.size)}`)}\nexport interface ${name} `;
    s += this.objectType(t, '', 0);
    return s + '\n';
  }

  private datasecDecl(t: DatasecType): string {
    const name = this.nameOf(t);
    const size = t.size ? `, ${bytes(t.size)}` : '';
    let s = `\n${comment(`${t.name} section${size}`)}\nexport interface ${name} {\n`;
    const seen = new Set<string>();
    for (const v of t.vars) {
      if (v.type.kind !== 'var') continue;
      const vt = v.type.type;
      const key = TsWriter.uniqueKey(seen, v.type.name);
      // An object's sections have size 0 and offsets 0 until the loader fixes them up.
      const where = t.size ? `offset ${v.offset}, ` : '';
      s += `  ${comment(`${where}${TsWriter.cType(vt)}`)}\n`;
      s += `  ${key}: ${this.typeText(tsTypeFor(vt), vt, '  ', 0)};\n`;
    }
    return s + '}\n';
  }

  private enumDecl(t: EnumType, cName: string, owner: Named): string {
    const name = this.nameOf(owner);
    const big = t.kind === 'enum64' || t.size > 4;
    let s = `\n${comment(`${cName}, ${bytes(t.size)}`)}\nexport const ${name} = {\n`;
    const seen = new Set<string>();
    for (const v of t.values) {
      s += `  ${TsWriter.uniqueKey(seen, v.name)}: ${big ? `${v.value}n` : `${v.value}`},\n`;
    }
    s += `} as const;\nexport type ${name} = ${big ? 'bigint' : 'number'};\n`;
    return s;
  }

  private enumConsts(t: EnumType): string {
    const names = this.naming ? this.constNames.get(t)! : [];
    const big = t.kind === 'enum64' || t.size > 4;
    let s = `\n${comment(`anonymous enum, ${bytes(t.size)}`)}\n`;
    t.values.forEach((v, i) => {
      s += `export const ${names[i] ?? ''} = ${big ? `${v.value}n` : `${v.value}`};\n`;
    });
    return s;
  }

  private typedefDecl(t: RefType): string {
    const target = skipQualifiers(t.target);
    if (!target.name && this.namedBy.get(target) === t) {
      // The typedef names an anonymous type: declare that type under the typedef's name.
      const c = `typedef ${cTypeName(t.target, t.name)}`;
      if (target.kind === 'struct' || target.kind === 'union') return this.structDecl(target, c, t);
      if (target.kind === 'enum' || target.kind === 'enum64') return this.enumDecl(target, c, t);
    }
    const m = tsTypeFor(t.target);
    if (m.kind === 'none') return ''; // typedefs of functions and void have no values
    const name = this.nameOf(t);
    // Sharing its target's name (`typedef struct foo foo`): nothing to declare.
    if (this.naming && target.kind !== 'typedef' && this.queued.has(target) && this.names.get(target) === name) return '';
    const text = this.typeText(m, t.target, '', 0);
    return `\n${comment(`typedef ${cTypeName(t.target, t.name)}`)}\nexport type ${name} = ${text};\n`;
  }

  private static cType(t: Type): string {
    return cTypeName(t);
  }

  private static uniqueKey(seen: Set<string>, name: string): string {
    let n = name;
    for (let i = 2; seen.has(n); i++) n = `${name}_${i}`;
    seen.add(n);
    return propertyKey(n);
  }

  /** `{ ...members... }` of a struct or union, anonymous members flattened. */
  private objectType(t: StructType, indent: string, depth: number): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    this.members(t, 0, indent + '  ', lines, seen, depth);
    if (lines.length === 0) return '{}';
    return `{\n${lines.join('')}${indent}}`;
  }

  private members(t: StructType, base: number, indent: string, out: string[], seen: Set<string>, depth: number): void {
    if (depth > MAX_DEPTH) throw new FormatError('ERR_BTF', `BTF type [${t.id}]: anonymous types nested too deep (a cycle?)`);
    for (const m of t.members) {
      const off = base + m.bitOffset;
      const mt = resolveAliases(m.type);
      if (!m.name) {
        // C11 anonymous struct/union: its members are the container's.
        if (mt.kind === 'struct' || mt.kind === 'union') this.members(mt, off, indent, out, seen, depth + 1);
        continue;
      }
      const where = m.bitfieldSize
        ? `offset ${Math.floor(off / 8)} bit ${off % 8}, ${TsWriter.cType(m.type)}: ${m.bitfieldSize}`
        : `offset ${off % 8 ? `${Math.floor(off / 8)} bit ${off % 8}` : off / 8}, ${TsWriter.cType(m.type)}`;
      out.push(`${indent}${comment(where)}\n`);
      out.push(`${indent}${TsWriter.uniqueKey(seen, m.name)}: ${this.typeText(tsMemberTypeFor(m), m.type, indent, depth + 1)};\n`);
    }
  }

  /** The TS type of a value, given its mapping. */
  private typeText(m: TsMapping, type: Type, indent: string, depth: number): string {
    if (depth > MAX_DEPTH) throw new FormatError('ERR_BTF', `BTF type [${type.id}]: types nested too deep (a cycle?)`);
    const scalar = scalarTypeText(m);
    if (scalar) return scalar;
    switch (m.kind) {
      case 'array': {
        const inner = this.typeText(tsTypeFor(m.element), m.element, indent, depth + 1);
        return `${inner}[]`;
      }
      case 'enum': {
        const e = m.type;
        if (e.name) return this.nameOf(e);
        const td = this.namedBy.get(e);
        if (td) return this.nameOf(td);
        this.enqueue(e); // its enumerators become constants
        return m.bigint ? 'bigint' : 'number';
      }
      case 'struct': {
        const s = m.type;
        if (s.kind === 'datasec') return this.nameOf(s);
        if (s.name) return this.nameOf(s);
        const td = this.namedBy.get(s);
        if (td) return this.nameOf(td);
        return this.objectType(s, indent, depth + 1);
      }
      default: // 'none'; the scalars were handled above
        return 'never';
    }
  }
}
