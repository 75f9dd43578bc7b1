/**
 * BTF -> C: writes a header (vmlinux.h) that clang compiles BPF programs against, like
 * `bpftool btf dump file /sys/kernel/btf/vmlinux format c`.
 *
 * The writer works on the type graph of ./types.ts only (no Spec): give it the types in id
 * order and it emits every named struct, union, enum and typedef among them, each after what
 * it needs:
 *
 * - A type used by value (a member, an array element, a typedef's target) is fully defined
 *   before its user. A named struct or union only reached through a pointer needs no more than
 *   a forward declaration (`struct foo;`), which is how pointer cycles are broken.
 * - Anonymous structs, unions and enums are written inline where they are used; their members'
 *   needs become the needs of the named type that contains them. An anonymous enum nothing
 *   refers to holds global constants and is written on its own (`enum { ... };`).
 * - Layouts are reproduced exactly, as checked against clang: members placed where natural
 *   alignment would not put them get explicit padding (unnamed bitfields, `long: 64;`),
 *   structs whose members can't be naturally aligned are `__attribute__((packed))`, unions
 *   larger than their largest member get `__attribute__((aligned(N)))` (or a padding member),
 *   enums of 1, 2 or 8 bytes get a `mode` attribute.
 * - A name used by more than one struct/union/enum (or typedef/enumerator) gets `___2`, `___3`
 *   appended from its second use on, in the order they are written, as bpftool does.
 * - FUNC, VAR, DATASEC and DECL_TAG are not written (nor does bpftool).
 *
 * Assumes 64-bit pointers (the BPF target): BTF of a 32-bit kernel would not lay out the same.
 */
import { FormatError } from '../errors.js';
import { VOID } from './types.js';
import { forEachChild } from './util.js';
import type {
  EnumType,
  FuncProtoType,
  IntType,
  Member,
  RefType,
  StructType,
  Type,
} from './types.js';

export interface CHeaderOptions {
  /** Include guard macro. Default `__VMLINUX_H__`. */
  guard?: string;
  /**
   * Wrap the types in `#pragma clang attribute push (__attribute__((preserve_access_index)),
   * apply_to = record)` (unless the includer defines BPF_NO_PRESERVE_ACCESS_INDEX), so that
   * every member access is a CO-RE relocation. Default true.
   */
  preserveAccessIndex?: boolean;
  /** Write BTF type tags as `__attribute__((btf_type_tag("...")))`, as bpftool does. Default true. */
  typeTags?: boolean;
}

/** Write a C header defining the named types among `types` (and everything they need). */
export function writeCHeader(types: Iterable<Type>, options: CHeaderOptions = {}): string {
  const guard = options.guard ?? '__VMLINUX_H__';
  const pai = options.preserveAccessIndex ?? true;
  const w = new CWriter({ typeTags: options.typeTags ?? true });
  const list = Array.isArray(types) ? (types as Type[]) : [...types];
  w.markReferenced(list);
  for (const t of list) w.emitTopLevel(t);

  let out = `#ifndef ${guard}\n#define ${guard}\n\n`;
  if (pai) {
    out +=
      '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
      '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
      '#endif\n\n';
  }
  out += w.chunks.join('');
  if (pai) out += '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n';
  out += `#endif /* ${guard} */\n`;
  return out;
}

/**
 * A C declaration of `name` with type `type`, e.g. `int (*handler)(struct sk_buff *)`, as
 * written inside a header (named types by name, anonymous ones inline). Useful for one-off
 * declarations; duplicate names are not disambiguated here.
 */
export function writeCDeclaration(type: Type, name = ''): string {
  return new CWriter({ typeTags: true }).declaration(type, name, 0);
}

/**
 * A short C spelling of a type, for messages and doc comments: `struct task_struct *`,
 * `char[16]`, `int (*)(struct sk_buff *)`; anonymous types as `struct {...}`; names as in BTF.
 * With `name`, a declaration of it: `void (*work_fn)(struct work *)`.
 */
export function cTypeName(type: Type, name = ''): string {
  // Brief declarations keep no state: one writer serves every call.
  briefWriter ??= new CWriter({ typeTags: false, brief: true });
  return briefWriter.declaration(type, name, 0);
}

let briefWriter: CWriter | undefined;

// --- sizes and alignment (as clang lays out what this writer emits) ---------------------------

const MAX_CHAIN = 256;

function malformed(t: Type, what: string): FormatError {
  return new FormatError('ERR_BTF', `BTF type [${t.id}] ${t.kind} '${t.name}': ${what}`);
}

/**
 * What clang makes of `__builtin_va_list` on the BPF target: a `char *`. (The kernel's is
 * x86's 24-byte array; the header can't redefine a built-in, so the layout code pads around
 * the smaller one instead.)
 */
const BPF_VA_LIST: Type = Object.freeze({ id: -1, kind: 'ptr', name: '', target: VOID }) as Type;

/** Strip typedefs and qualifiers. */
function skipAliases(t: Type): Type {
  for (let i = 0; i < MAX_CHAIN; i++) {
    switch (t.kind) {
      case 'typedef':
        if (t.name === '__builtin_va_list') return BPF_VA_LIST;
        t = t.target;
        break;
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        t = t.target;
        break;
      default:
        return t;
    }
  }
  throw malformed(t, 'reference chain too long (a cycle?)');
}

/** Size in bytes of a type used by value (0 for void, functions and forward declarations). */
function cSizeOf(t: Type): number {
  let n = 1;
  for (let i = 0; i < MAX_CHAIN; i++) {
    t = skipAliases(t);
    switch (t.kind) {
      case 'int':
      case 'float':
      case 'enum':
      case 'enum64':
      case 'struct':
      case 'union':
      case 'datasec':
        return n * t.size;
      case 'ptr':
        return n * 8;
      case 'array':
        n *= t.length;
        t = t.element;
        break;
      default:
        return 0;
    }
  }
  throw malformed(t, 'array chain too long (a cycle?)');
}

function pow2Floor(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** A member's bitfield width, 0 if it isn't one (old-style BTF: an INT with fewer bits). */
function bitfieldWidth(m: Member): number {
  if (m.bitfieldSize) return m.bitfieldSize;
  const r = skipAliases(m.type);
  if (r.kind === 'int' && r.bits !== r.size * 8) return r.bits;
  return 0;
}

interface StructLayout {
  packed: boolean;
  /** `__attribute__((aligned(N)))` to add, 0 for none. */
  alignAttr: number;
  /** Alignment of the emitted type, in bytes. */
  align: number;
  /** Padding declarations to write before member i. */
  padBefore: (string[] | undefined)[];
  /** Padding declarations after the last member. */
  padAfter: string[];
}

const PAD_TYPES: [string, number][] = [
  ['char', 8],
  ['short', 16],
  ['int', 32],
  ['long', 64],
];

/**
 * Unnamed bitfields covering bits [from, to) exactly: none of them crosses a boundary of its
 * own type, so clang places each where the previous one ended, packed struct or not. Unnamed
 * bitfields don't change a struct's alignment.
 */
function fillBits(from: number, to: number): string[] {
  const out: string[] = [];
  let cur = from;
  while (cur < to) {
    const chunk = Math.min(to - cur, 64 - (cur % 64));
    for (const [name, bits] of PAD_TYPES) {
      if ((cur % bits) + chunk <= bits) {
        out.push(`${name}: ${chunk}`);
        break;
      }
    }
    cur += chunk;
  }
  return out;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

// --- the writer ---------------------------------------------------------------------------------

const enum State {
  None = 0,
  Busy = 1,
  Done = 2,
}

/** Spellings clang accepts as base type names. */
const C_INT_WORD = /^(?:(?:signed|unsigned|char|short|int|long|_Bool|__int128)(?: |$))+$/;
const C_FLOAT_NAMES = new Set(['float', 'double', 'long double', '_Float16', '__bf16']);

class CWriter {
  readonly chunks: string[] = [];
  private readonly referenced = new Set<Type>();
  /** Definition state of named structs/unions/enums/typedefs. */
  private readonly defined = new Map<Type, State>();
  private readonly fwdDone = new Set<Type>();
  private fwdFrame: Type[] = [];
  /** Typedefs whose line is written, and those whose target is complete too. */
  private readonly typedefDone = new Set<Type>();
  private readonly complete = new Set<Type>();
  /** Anonymous structs whose members are being visited (cycle guard for malformed BTF). */
  private readonly visiting = new Set<Type>();
  private readonly names = new Map<Type, string>();
  private readonly tagCounts = new Map<string, number>();
  private readonly identCounts = new Map<string, number>();
  private readonly layouts = new Map<Type, StructLayout | null>();
  /** The named struct/union whose definition is being emitted (needs no forward declaration). */
  private container: Type | null = null;

  private readonly typeTags: boolean;
  /** Anonymous types as `struct {...}`, names as in BTF (no `___N`). */
  private readonly brief: boolean;

  constructor(options: { typeTags: boolean; brief?: boolean }) {
    this.typeTags = options.typeTags;
    this.brief = options.brief ?? false;
  }

  markReferenced(types: Type[]): void {
    const ref = (t: Type) => this.referenced.add(t);
    for (const t of types) forEachChild(t, ref);
  }


  emitTopLevel(t: Type): void {
    this.flush(this.withFrame(() => this.topLevel(t)));
  }

  private topLevel(t: Type): void {
    switch (t.kind) {
      case 'struct':
      case 'union':
        if (t.name) this.define(t);
        break;
      case 'enum':
      case 'enum64':
        if (t.name || !this.referenced.has(t)) this.define(t);
        break;
      case 'typedef':
        this.defineTypedef(t, false);
        break;
      case 'fwd':
        this.forward(t);
        break;
      default:
        // ints and floats are built in; pointers, arrays, qualifiers and prototypes are only
        // parts of other declarations; funcs, vars, datasecs and decl tags aren't written.
        break;
    }
  }

  // --- ordering: make sure what a declaration needs is written before it -----------------------

  /**
   * Emit what a declaration mentioning `t` needs: full definitions for what it uses by value,
   * forward declarations for named structs/unions it only points to.
   */
  private need(t: Type, viaPtr: boolean, depth = 0): void {
    if (depth > MAX_CHAIN) throw malformed(t, 'type chain too deep (a cycle?)');
    switch (t.kind) {
      case 'ptr':
        this.need(t.target, true, depth + 1);
        break;
      case 'array':
        // Elements must be complete, even behind a pointer: `struct foo (*p)[2]`.
        this.need(t.element, false, depth + 1);
        break;
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        this.need(t.target, viaPtr, depth + 1);
        break;
      case 'func_proto':
        this.need(t.returnType, viaPtr, depth + 1);
        for (const p of t.params) this.need(p.type, viaPtr, depth + 1);
        break;
      case 'typedef':
        this.defineTypedef(t, viaPtr);
        break;
      case 'struct':
      case 'union':
        if (!t.name) {
          // Written inline: its members' needs are ours, pointer or not.
          if (this.visiting.has(t)) break;
          this.visiting.add(t);
          for (const m of t.members) this.need(m.type, false, depth + 1);
          this.visiting.delete(t);
        } else if (viaPtr) {
          this.forward(t);
        } else {
          this.define(t);
        }
        break;
      case 'enum':
      case 'enum64':
        if (t.name) this.define(t);
        break;
      case 'fwd':
        this.forward(t);
        break;
      default:
        break;
    }
  }

  /**
   * Ask for `struct foo;` before the declaration being prepared, unless foo is defined or
   * declared by then, or is the struct being defined around it.
   */
  private forward(t: Type): void {
    if (this.fwdDone.has(t) || this.defined.get(t) === State.Done || t === this.container) return;
    if (t.kind === 'fwd' || t.kind === 'struct' || t.kind === 'union') this.fwdFrame.push(t);
  }

  /**
   * Run `fn` collecting the forward declarations it asks for. They are written just before the
   * declaration that needs them, after its by-value dependencies: a struct both pointed to and
   * embedded is then simply defined first, without a forward declaration.
   */
  private withFrame(fn: () => void): Type[] {
    const saved = this.fwdFrame;
    const frame: Type[] = [];
    this.fwdFrame = frame;
    try {
      fn();
    } finally {
      this.fwdFrame = saved;
    }
    return frame;
  }

  private flush(frame: Type[]): void {
    for (const t of frame) {
      if (this.fwdDone.has(t) || this.defined.get(t) === State.Done) continue;
      const kind = t.kind === 'fwd' ? t.fwdKind : t.kind;
      this.chunks.push(`${kind} ${this.tagName(t)};\n\n`);
      this.fwdDone.add(t);
    }
  }

  private define(t: Type): void {
    const state = this.defined.get(t) ?? State.None;
    if (state === State.Done) return;
    if (state === State.Busy) {
      // Reached again by value while being defined: impossible in valid BTF (infinite size),
      // unless through a pointer in an anonymous member, which a forward declaration settles.
      this.forward(t);
      return;
    }
    if (t.kind === 'struct' || t.kind === 'union') {
      this.defined.set(t, State.Busy);
      const saved = this.container;
      this.container = t;
      const frame = this.withFrame(() => {
        for (const m of t.members) this.need(m.type, false);
      });
      this.container = saved;
      this.flush(frame);
      this.chunks.push(this.structDef(t, 0) + ';\n\n');
      this.defined.set(t, State.Done);
    } else if (t.kind === 'enum' || t.kind === 'enum64') {
      this.defined.set(t, State.Done);
      this.chunks.push(this.enumDef(t, 0) + ';\n\n');
    }
  }

  /**
   * A typedef is written once; it serves as a forward declaration too. Used by value, its
   * target must be complete as well, which may come later than the typedef line itself.
   */
  private defineTypedef(t: RefType, viaPtr: boolean): void {
    const state = this.defined.get(t) ?? State.None;
    if (state === State.Busy) {
      // Needed (through a pointer) while its target is being completed, as in
      // `typedef struct tx tx_t; struct tx { tx_t *next; };`: the line needs no more than a
      // declared target, so write it now.
      this.typedefLine(t);
      return;
    }
    if (state === State.Done && (viaPtr || this.complete.has(t))) return;
    if (state === State.None) skipAliases(t); // throws for a typedef/qualifier cycle
    const saved = this.container;
    this.container = null; // a top-level line of its own: forward declarations are needed
    this.defined.set(t, State.Busy);
    const frame = this.withFrame(() => this.need(t.target, viaPtr));
    this.defined.set(t, State.Done);
    if (!viaPtr) this.complete.add(t);
    if (!this.typedefDone.has(t)) {
      this.flush(frame);
      this.typedefLine(t);
    }
    this.container = saved;
  }

  private typedefLine(t: RefType): void {
    if (this.typedefDone.has(t)) return;
    this.typedefDone.add(t);
    const saved = this.container;
    this.container = null;
    this.flush(this.withFrame(() => this.need(t.target, true)));
    this.container = saved;
    const name = this.identName(t);
    if (t.name === '__builtin_va_list') return; // a compiler built-in
    if (t.target.kind === 'void' && name === '__gnuc_va_list') {
      // Old GCC wrote this typedef with a void target.
      this.chunks.push('typedef __builtin_va_list __gnuc_va_list;\n\n');
      return;
    }
    this.chunks.push(`typedef ${this.declaration(t.target, name, 0)};\n\n`);
  }

  // --- names ------------------------------------------------------------------------------------

  private static sanitize(name: string): string {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
  }

  private static unique(counts: Map<string, number>, name: string): string {
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    return n > 1 ? `${name}___${n}` : name;
  }

  /** struct/union/enum tag, `___N` for later types of the same name. */
  private tagName(t: Type): string {
    let n = this.names.get(t);
    if (n !== undefined) return n;
    const base = CWriter.sanitize(t.name);
    // Forward declarations and value-less enums name whichever type has that name.
    const isDecl = t.kind === 'fwd' || ((t.kind === 'enum' || t.kind === 'enum64') && t.values.length === 0);
    n = isDecl ? base : CWriter.unique(this.tagCounts, base);
    this.names.set(t, n);
    return n;
  }

  /** Typedef names share a namespace with enumerators. */
  private identName(t: Type): string {
    let n = this.names.get(t);
    if (n === undefined) {
      n = CWriter.unique(this.identCounts, CWriter.sanitize(t.name));
      this.names.set(t, n);
    }
    return n;
  }

  // --- declarations -------------------------------------------------------------------------------

  /**
   * The C declaration of `name` as type `t`, built from the inside out: pointers prefix the
   * declarator, arrays and parameter lists suffix it (parenthesised around a pointer), and
   * qualifiers go right of the `*` they qualify or left of the base type.
   */
  declaration(t: Type, name: string, lvl: number): string {
    let decl = name;
    let quals: string[] = [];
    let attrs = '';
    for (let i = 0; ; i++) {
      if (i > MAX_CHAIN) throw malformed(t, 'declaration chain too long (a cycle?)');
      switch (t.kind) {
        case 'const':
        case 'volatile':
        case 'restrict':
          if (!quals.includes(t.kind)) quals.push(t.kind); // outermost first: `const volatile` as written
          t = t.target;
          continue;
        case 'type_tag':
          if (this.typeTags) attrs += ` __attribute__((btf_type_tag("${t.name}")))`;
          t = t.target;
          continue;
        case 'ptr': {
          const q = quals.join(' ') + attrs;
          decl = '*' + (q ? (q.startsWith(' ') ? q : ' ' + q) + (decl && !decl.startsWith('[') ? ' ' : '') + decl : decl);
          quals = [];
          attrs = '';
          t = t.target;
          continue;
        }
        case 'array':
          // Qualifiers of an array qualify its elements: keep them for the element type.
          decl = CWriter.wrap(decl) + `[${t.length}]`;
          t = t.element;
          continue;
        case 'func_proto':
          // Functions can't be qualified (GCC marks noreturn ones volatile): drop qualifiers.
          quals = [];
          decl = CWriter.wrap(decl) + this.params(t, lvl);
          t = t.returnType;
          continue;
        default: {
          const base = (quals.length ? quals.join(' ') + ' ' : '') + this.baseName(t, lvl) + attrs;
          if (!decl) return base;
          return decl.startsWith('[') ? base + decl : `${base} ${decl}`;
        }
      }
    }
  }

  private static wrap(decl: string): string {
    return decl.startsWith('*') ? `(${decl})` : decl;
  }

  private params(t: FuncProtoType, lvl: number): string {
    const ps = t.params;
    if (ps.length === 0 || (ps.length === 1 && ps[0]!.type.kind === 'void')) return '(void)';
    const out: string[] = [];
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      if (i === ps.length - 1 && p.type.kind === 'void') {
        out.push('...');
        break;
      }
      out.push(this.declaration(p.type, p.name ? CWriter.sanitize(p.name) : '', lvl));
    }
    return `(${out.join(', ')})`;
  }

  /** The base type of a declaration: a name, or an anonymous type's definition inline. */
  private baseName(t: Type, lvl: number): string {
    switch (t.kind) {
      case 'void':
        return 'void';
      case 'int':
        return this.brief && t.name ? t.name : CWriter.intName(t);
      case 'float':
        if (C_FLOAT_NAMES.has(t.name)) return t.name;
        if (this.brief && t.name) return t.name;
        return t.size === 4 ? 'float' : t.size === 2 ? '_Float16' : t.size === 16 ? 'long double' : 'double';
      case 'struct':
      case 'union':
        if (this.brief) return t.name ? `${t.kind} ${t.name}` : `${t.kind} {...}`;
        return t.name ? `${t.kind} ${this.tagName(t)}` : this.structDef(t, lvl);
      case 'enum':
      case 'enum64':
        if (this.brief) return t.name ? `enum ${t.name}` : 'enum {...}';
        return t.name ? `enum ${this.tagName(t)}` : this.enumDef(t, lvl);
      case 'fwd':
        return `${t.fwdKind} ${this.brief ? t.name : this.tagName(t)}`;
      case 'typedef':
        return this.brief ? t.name : this.identName(t);
      default:
        // func, var, datasec, decl_tag can't be part of a C type.
        if (this.brief) return `<${t.kind} ${t.name}>`;
        throw malformed(t, 'not a C type');
    }
  }

  /** An INT's name if C spells it so, else the C type of its size and signedness. */
  private static intName(t: IntType): string {
    if (t.name && C_INT_WORD.test(t.name)) return t.name;
    if (t.bool) return '_Bool';
    const s = t.signed ? '' : 'unsigned ';
    switch (t.size) {
      case 1:
        return t.char ? 'char' : t.signed ? 'signed char' : 'unsigned char';
      case 2:
        return s + 'short';
      case 4:
        return s + 'int';
      case 8:
        return s + 'long long';
      case 16:
        return s + '__int128';
      default:
        return s + 'int';
    }
  }

  // --- definitions --------------------------------------------------------------------------------

  private structDef(t: StructType, lvl: number): string {
    const layout = this.layout(t);
    const ind = '\t'.repeat(lvl + 1);
    let s = t.name ? `${t.kind} ${this.tagName(t)} {` : `${t.kind} {`;
    const ms = t.members;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!;
      const pad = layout.padBefore[i];
      if (pad) for (const p of pad) s += `\n${ind}${p};`;
      const w = bitfieldWidth(m);
      s += `\n${ind}${this.declaration(m.type, m.name ? CWriter.sanitize(m.name) : '', lvl + 1)}`;
      if (w) s += `: ${w}`;
      s += ';';
    }
    for (const p of layout.padAfter) s += `\n${ind}${p};`;
    s += ms.length || layout.padAfter.length ? `\n${'\t'.repeat(lvl)}}` : '}';
    if (layout.packed) s += ' __attribute__((packed))';
    if (layout.alignAttr) s += ` __attribute__((aligned(${layout.alignAttr})))`;
    return s;
  }

  private enumDef(t: EnumType, lvl: number): string {
    const head = t.name ? `enum ${this.tagName(t)}` : 'enum';
    if (t.values.length === 0) return head;
    const ind = '\t'.repeat(lvl + 1);
    const is64 = t.kind === 'enum64';
    let s = head + ' {';
    let allInt = true;
    let allUint = true;
    for (const v of t.values) {
      const name = CWriter.unique(this.identCounts, CWriter.sanitize(v.name));
      s += `\n${ind}${name} = ${CWriter.enumValue(v.value, is64, t.signed)},`;
      if (v.value < -0x80000000n || v.value > 0x7fffffffn) allInt = false;
      if (v.value < 0n || v.value > 0xffffffffn) allUint = false;
    }
    s += `\n${'\t'.repeat(lvl)}}`;
    // clang sizes an enum by its values (4 bytes if they fit an int or an unsigned int, else
    // 8); the mode attribute gives it any other size.
    const natural = allInt || allUint ? 4 : 8;
    if (t.size !== natural) {
      const mode = t.size === 1 ? 'QI' : t.size === 2 ? 'HI' : t.size === 8 ? 'DI' : '';
      if (mode) s += ` __attribute__((mode(${mode})))`;
    }
    return s;
  }

  private static enumValue(v: bigint, is64: boolean, signed: boolean): string {
    if (!is64) return `${v}`;
    if (v === -0x8000000000000000n) return '(-9223372036854775807LL - 1)';
    return signed || v < 0n ? `${v}LL` : `${v}ULL`;
  }

  // --- layout ---------------------------------------------------------------------------------------

  /** Alignment in bytes clang gives the type as this writer emits it. */
  private alignOf(t: Type): number {
    t = skipAliases(t);
    for (let i = 0; t.kind === 'array'; i++) {
      if (i > MAX_CHAIN) throw malformed(t, 'array chain too long (a cycle?)');
      t = skipAliases(t.element);
    }
    switch (t.kind) {
      case 'int':
      case 'float':
      case 'enum':
      case 'enum64':
        return Math.min(pow2Floor(Math.max(t.size, 1)), 16);
      case 'ptr':
        return 8;
      case 'struct':
      case 'union':
        return this.layout(t).align;
      default:
        return 1;
    }
  }

  private layout(t: StructType): StructLayout {
    const memo = this.layouts.get(t);
    if (memo) return memo;
    if (memo === null) throw malformed(t, 'contains itself by value');
    this.layouts.set(t, null);
    const l = t.kind === 'struct' ? this.structLayout(t, false) ?? this.structLayout(t, true)! : this.unionLayout(t);
    this.layouts.set(t, l);
    return l;
  }

  /**
   * Place the members as clang would, adding padding where that would put a member before its
   * BTF offset. Returns null when the struct must be packed instead (a member clang can't put
   * where BTF says without packing: misaligned, or a bitfield straddling its storage unit).
   */
  private structLayout(t: StructType, packed: boolean): StructLayout | null {
    const ms = t.members;
    const aligns = ms.map((m) => this.alignOf(m.type));
    let maxAlign = 1;
    for (const a of aligns) maxAlign = Math.max(maxAlign, a);
    if (!packed) {
      // bpftool's test: every non-bitfield member naturally aligned, size a multiple of it.
      if (t.size % maxAlign !== 0) return null;
      for (let i = 0; i < ms.length; i++) {
        if (!bitfieldWidth(ms[i]!) && ms[i]!.bitOffset % (8 * aligns[i]!) !== 0) return null;
      }
    }
    const padBefore: (string[] | undefined)[] = new Array(ms.length);
    let cur = 0;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!;
      const off = m.bitOffset;
      const w = bitfieldWidth(m);
      let unit = 0;
      if (w) {
        unit = cSizeOf(m.type) * 8 || 8;
        if (!packed && Math.floor(off / unit) !== Math.floor((off + w - 1) / unit)) return null;
      }
      const place = (at: number): number => {
        if (w) return packed || Math.floor(at / unit) === Math.floor((at + w - 1) / unit) ? at : roundUp(at, unit);
        return roundUp(at, packed ? 8 : 8 * aligns[i]!);
      };
      if (place(cur) < off) padBefore[i] = fillBits(cur, off);
      // place(cur) > off means overlapping members (malformed BTF): nothing to do but go on.
      cur = Math.max(cur, off) + (w || cSizeOf(m.type) * 8);
    }
    const align = packed ? 1 : maxAlign;
    const size = t.size * 8;
    const padAfter = roundUp(cur, align * 8) < size ? fillBits(cur, size) : [];
    return { packed, alignAttr: 0, align, padBefore, padAfter };
  }

  private unionLayout(t: StructType): StructLayout {
    let maxAlign = 1;
    let maxSize = 0;
    for (const m of t.members) {
      maxAlign = Math.max(maxAlign, this.alignOf(m.type));
      const w = bitfieldWidth(m);
      maxSize = Math.max(maxSize, w ? Math.ceil(w / 8) : cSizeOf(m.type));
    }
    const none: StructLayout = { packed: false, alignAttr: 0, align: maxAlign, padBefore: [], padAfter: [] };
    const natural = roundUp(maxSize, maxAlign);
    if (natural === t.size) return none;
    if (natural > t.size || t.size % maxAlign !== 0) {
      // Smaller than its aligned members: a packed union.
      const l: StructLayout = { ...none, packed: true, align: 1 };
      if (maxSize < t.size) l.padAfter = [CWriter.padStruct(maxSize, t.size)];
      return l;
    }
    // Larger than its members: an alignment attribute if one gives that size, else a member
    // as large as the union.
    for (let a = maxAlign * 2; a <= 4096; a *= 2) {
      if (roundUp(maxSize, a) === t.size) return { ...none, alignAttr: a, align: a };
    }
    return { ...none, padAfter: [CWriter.padStruct(0, t.size)] };
  }

  /** An anonymous struct of unnamed bitfields, to make a union `size` bytes large. */
  private static padStruct(_from: number, size: number): string {
    return `struct { ${fillBits(0, size * 8).join('; ')}; }`;
  }
}
