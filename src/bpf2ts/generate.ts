/**
 * The bindings generator: a BPF object's bytes (and options) in, a TypeScript module's text
 * out. Pure: no files, no kernel, no clock; the same input always gives byte-identical output.
 *
 * The module it writes (see the README section on bpf2ts for an example):
 *
 * - embeds the object as base64 text (bundlers and `npm publish` keep it; nothing is read from
 *   disk at run time) and imports the runtime as `import * as ebpf from '<importFrom>'`;
 * - declares an interface and a codec (`Codec<T>`: size, decode, encode) for every map key and
 *   value type, every ring/perf buffer record type bound with `ringbuf`/`perf`, every type
 *   named in `types`, and every struct/union/enum those contain by value; scalar and array keys
 *   and values get codecs too (`u32Codec`, `string16Codec`, `u64Array4Codec`). A codec is the
 *   runtime's BTF codec (btf/codec.ts) of that type in the embedded object's BTF, compiled on
 *   first use: one implementation of the value mapping for bindings, typed maps and map dumps;
 * - `open<Name>()`: the object before load (libbpf's open phase): typed views of the
 *   `.rodata`/`.data`/`.bss` sections' initial values, the map specs (maxEntries...), the
 *   program specs (autoload), and `load(options)`;
 * - `load<Name>(options)`: open, apply `options.rodata`/`data`/`bss`, load; returns the
 *   programs (`Program`), the maps (typed maps for hash/array/LRU/LPM/per-CPU maps, ring and
 *   perf buffers decoding records with their codec, the BpfMap itself otherwise), live typed
 *   views of the global data, `attachAll()`, `close()` and `[Symbol.dispose]`.
 *
 * The shapes values decode to are those of `tsTypeFor` (ts_writer.ts), as in `ebpf-ts btf dump
 * ... format ts` and as btf/codec.ts decodes: integers up to 4 bytes and floats are numbers,
 * 8-byte integers and pointers bigints, `char` arrays strings, other byte arrays Uint8Array,
 * other arrays T[], structs interfaces with their C member names (anonymous members
 * flattened), enums numbers.
 *
 * Calls into the runtime go through `ebpf.bpf2ts.*` (runtime.ts) and a few core exports
 * (CollectionSpec, loadCollection, Program, MapSpec...), so a change of the runtime's APIs
 * needs no change of generated files.
 */
import { ElfFile } from '../elf/index.js';
import { Spec as BtfSpec } from '../btf/spec.js';
import { CollectionSpec, type MapSpec, type ProgramSpec, type VariableSpec } from '../collection/index.js';
import { describeType, resolve, sizeof, skipQualifiers, type EnumType, type Member, type Spec, type StructType, type Type } from '../btf/index.js';
import { scalarTypeText, tsMemberTypeFor, tsTypeFor, tsTypeName, type TsMapping } from '../btf/ts_writer.js';
import { cTypeName } from '../btf/c_writer.js';
import { MAP_TYPE_NAMES, MapType, PERCPU_MAP_TYPES } from '../sys/constants.js';
import { Bpf2tsError, closeMatches } from './errors.js';
import { GENERATED_CODE_GLOBALS, NameScope, camelCase, commentText, pascalCase, propertyKey, stringLiteral } from './names.js';

export interface GenerateOptions {
  /**
   * The object's name: exported names derive from it (`open<Name>`, `load<Name>`,
   * `<Name>Objects`), and it prefixes the kernel names of internal maps (`<name>.rodata`).
   */
  name: string;
  /** Types to generate an interface and codec for: `event`, `struct event`, `pid_t`... */
  types?: readonly string[];
  /** Ring buffer maps whose records are of a type: `[['events', 'event']]` (map, C type). */
  ringbuf?: readonly (readonly [string, string])[];
  /** Perf event array maps whose samples are of a type, as `ringbuf`. */
  perf?: readonly (readonly [string, string])[];
  /** The module the generated code imports the runtime from (default `ebpf-ts`). */
  importFrom?: string;
  /** The source file as given on the command line, named in the header comment. */
  source?: string;
  /** The command line that regenerates the file, named in the header comment. */
  command?: string;
  /**
   * The bytes to embed, when they differ from `object` (a big-endian build: `object` is the
   * host-order build of the same source, read for names and layouts, which are the same).
   */
  embed?: Uint8Array;
}

export interface GenerateResult {
  /** The module's text. */
  code: string;
  /** Things the user should know (maps left untyped...), one sentence each. */
  warnings: string[];
}

/** Map types read and written as key -> value through BTF-typed codecs. */
const TYPED_MAP_TYPES = new Set<number>([
  MapType.HASH,
  MapType.ARRAY,
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_HASH,
  MapType.LRU_PERCPU_HASH,
  MapType.LPM_TRIE,
]);

const RUNTIME = 'ebpf.bpf2ts';

/** A struct, union or enum with a declaration (interface / const+type) and a codec. */
interface Declared {
  /** The resolved type. */
  type: StructType | EnumType;
  /** The name to declare it under, before collisions: its own, its typedef's, or synthesized. */
  base: string;
  /** How the C type is described in comments. */
  cLabel: string;
  tsName: string;
  codecName: string;
}

/** A codec of a scalar or array type (declared types have theirs in Declared). */
interface ShapeCodec {
  key: string;
  base: string;
  type: Type;
  name: string;
}

function lowerFirst(s: string): string {
  const lead = /^_*/.exec(s)![0];
  const rest = s.slice(lead.length);
  return lead + (rest ? rest[0]!.toLowerCase() + rest.slice(1) : '');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Generates the bindings module for a BPF object. Throws Bpf2tsError for bad options. */
export function generateBindings(object: Uint8Array, options: GenerateOptions): GenerateResult {
  return new Generator(object, options).run();
}

/** A member of a struct, with the key decoding gives it. */
interface Field {
  key: string;
  member: Member;
  /** Bit offset from the start of the outermost struct. */
  bitOffset: number;
}

class Generator {
  readonly object: Uint8Array;
  readonly options: GenerateOptions;
  readonly spec: CollectionSpec;
  readonly btf: Spec | undefined;
  readonly warnings: string[] = [];
  readonly P: string;
  readonly camel: string;
  /** Module-level identifiers (exports and internals). */
  readonly ids: NameScope;
  /** Anonymous struct/union/enum -> the first typedef (by id) naming it. */
  readonly typedefOf = new Map<Type, Type>();
  readonly declared = new Map<Type, Declared>();
  readonly shapeCodecs = new Map<string, ShapeCodec>();
  readonly fixed: Record<string, string> = {};

  constructor(object: Uint8Array, options: GenerateOptions) {
    this.object = object;
    this.options = options;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.name)) {
      throw new Bpf2tsError('ERR_BPF2TS_USAGE', `the name '${options.name}' must be a C identifier (letters, digits, '_'): it becomes open${pascalCase(options.name)}() and load${pascalCase(options.name)}()`);
    }
    this.spec = CollectionSpec.fromELF(object, { name: options.name });
    this.btf = this.spec.btf;
    this.P = pascalCase(options.name);
    this.camel = camelCase(options.name);
    this.ids = new NameScope(true, GENERATED_CODE_GLOBALS);
    if (this.btf) {
      for (const t of this.btf.types()) {
        if (t.kind !== 'typedef') continue;
        const target = skipQualifiers(t.target);
        if (!target.name && (target.kind === 'struct' || target.kind === 'union' || target.kind === 'enum' || target.kind === 'enum64') && !this.typedefOf.has(target)) {
          this.typedefOf.set(target, t);
        }
      }
    }
  }

  // --- the plan: what the module contains ---------------------------------------------------

  run(): GenerateResult {
    const P = this.P;
    // Names the module itself declares come first: C types colliding with them get `_2`.
    for (const n of ['open', 'load']) this.fixed[n] = this.ids.claim(`${n}${P}`);
    for (const n of ['Spec', 'Objects', 'Programs', 'Maps', 'ProgramSpecs', 'MapSpecs', 'LoadOptions']) this.fixed[n] = this.ids.claim(`${P}${n}`);
    this.fixed['objectBytes'] = this.ids.claim(`${this.camel}ObjectBytes`);
    this.fixed['base64'] = this.ids.claim('objectBase64');
    this.fixed['loadObjects'] = this.ids.claim('loadObjects');
    this.fixed['types'] = this.ids.claim('objectTypes');

    const programs = this.planPrograms();
    const maps = this.planMaps();
    const views = this.planViews();
    const extra = this.planTypes();

    // The views' names are the module's own too: before the C types'.
    for (const v of views) {
      v.tsName = this.ids.claim(`${P}${pascalCase(v.map.name)}`);
      v.factory = this.ids.claim(`${camelCase(v.map.name)}View`);
    }
    this.nameDeclared();

    return { code: this.emit(programs, maps, views, extra), warnings: this.warnings };
  }

  planPrograms(): { spec: ProgramSpec; key: string }[] {
    const scope = new NameScope(false);
    return [...this.spec.programs.values()].map((p) => ({ spec: p, key: scope.claim(camelCase(p.name)) }));
  }

  planMaps(): PlannedMap[] {
    const scope = new NameScope(false);
    const bindings = new Map<string, { kind: 'ringbuf' | 'perf'; type: string }>();
    for (const [kind, list] of [['ringbuf', this.options.ringbuf ?? []], ['perf', this.options.perf ?? []]] as const) {
      for (const [map, type] of list) {
        if (bindings.has(map)) throw new Bpf2tsError('ERR_BPF2TS_USAGE', `map '${map}' is bound to a record type twice`);
        bindings.set(map, { kind, type });
      }
    }
    const userMaps = [...this.spec.maps.values()].filter((m) => m.kind === 'btf' || m.kind === 'legacy');
    for (const [map, b] of bindings) {
      const m = this.spec.maps.get(map);
      if (!m || !(m.kind === 'btf' || m.kind === 'legacy')) {
        const hint = closeMatches(map, userMaps.map((x) => x.name));
        throw new Bpf2tsError(
          'ERR_BPF2TS_MAP',
          `--${b.kind} ${map}=${b.type}: the object has no map '${map}'` +
            (hint.length ? ` (did you mean ${hint.map((h) => `'${h}'`).join(', ')}?)` : '') +
            ` (its maps: ${userMaps.map((x) => x.name).join(', ') || 'none'})`,
        );
      }
      const want = b.kind === 'ringbuf' ? MapType.RINGBUF : MapType.PERF_EVENT_ARRAY;
      if (m.type !== want) {
        throw new Bpf2tsError('ERR_BPF2TS_MAP', `--${b.kind} ${map}=${b.type}: map '${map}' is a ${MAP_TYPE_NAMES[m.type] ?? m.type} map, not a ${b.kind === 'ringbuf' ? 'ringbuf' : 'perf_event_array'} map`);
      }
    }
    const out: PlannedMap[] = [];
    for (const m of userMaps) {
      const key = scope.claim(camelCase(m.name));
      const b = bindings.get(m.name);
      if (m.type === MapType.RINGBUF || m.type === MapType.PERF_EVENT_ARRAY) {
        const record = b ? this.lookupType(b.type, `--${b.kind} ${m.name}=${b.type}`) : undefined;
        if (record) this.useType(record, `${pascalCase(m.name)}Record`);
        out.push({ spec: m, key, kind: m.type === MapType.RINGBUF ? 'ringbuf' : 'perf', record });
        continue;
      }
      if (TYPED_MAP_TYPES.has(m.type)) {
        if (m.key && m.value) {
          this.useType(m.key, `${pascalCase(m.name)}Key`);
          this.useType(m.value, `${pascalCase(m.name)}Value`);
          out.push({ spec: m, key, kind: 'typed', keyType: m.key, valueType: m.value, perCpu: PERCPU_MAP_TYPES.has(m.type) });
          continue;
        }
        const where =
          m.kind === 'legacy'
            ? `it is defined in the legacy "maps" section (struct bpf_map_def), which has no BTF types`
            : `its definition gives ${m.key ? 'no value type' : m.value ? 'no key type' : 'key_size/value_size, not types'}`;
        this.warnings.push(
          `map '${m.name}' has no BTF key/value types (${where}): it gets raw Uint8Array access (a BpfMap). ` +
            `For typed access, define it in SEC(".maps") with __type(key, ...) and __type(value, ...).`,
        );
      }
      out.push({ spec: m, key, kind: 'raw' });
    }
    return out;
  }

  planViews(): PlannedView[] {
    const views: PlannedView[] = [];
    const byMap = new Map<string, VariableSpec[]>();
    for (const v of this.spec.variables.values()) {
      if (v.linkage !== 'global') continue; // statics and __hidden: not part of the interface, as libbpf's skeletons
      const list = byMap.get(v.mapName) ?? [];
      list.push(v);
      byMap.set(v.mapName, list);
    }
    const scope = new NameScope(false, ['collection', 'programs', 'maps', 'spec', 'load', 'attachAll', 'links', 'close']);
    for (const m of this.spec.maps.values()) {
      if (m.kind !== 'data' && m.kind !== 'rodata' && m.kind !== 'bss') continue;
      const vars = (byMap.get(m.name) ?? []).slice().sort((a, b) => a.offset - b.offset || cmp(a.name, b.name));
      if (vars.length === 0) continue;
      const vscope = new NameScope(false);
      const planned = vars.map((v) => {
        this.useType(v.type, pascalCase(v.name));
        return { spec: v, key: vscope.claim(camelCase(v.name)) };
      });
      views.push({ map: m, key: scope.claim(camelCase(m.name)), vars: planned, readOnly: m.kind === 'rodata', tsName: '', factory: '' });
    }
    return views;
  }

  planTypes(): Type[] {
    const out: Type[] = [];
    for (const name of this.options.types ?? []) {
      const t = this.lookupType(name, `--type ${name}`);
      this.useType(t, pascalCase(name.replace(/^(struct|union|enum)\s+/, '')));
      out.push(t);
    }
    return out;
  }

  /** Finds a type by C name (`event`, `struct event`, `pid_t`); throws a helpful error. */
  lookupType(name: string, what: string): Type {
    const btf = this.btf;
    if (!btf) throw new Bpf2tsError('ERR_BPF2TS_OBJECT', `${what}: the object has no BTF (.BTF section): compile it with -g (clang -O2 -g -target bpf)`);
    const m = /^\s*(struct|union|enum)\s+(\S+)\s*$/.exec(name);
    const kindWanted = m?.[1];
    const bare = m ? m[2]! : name.trim();
    const candidates = btf.typesByName(bare).filter((t) => {
      if (kindWanted === 'struct') return t.kind === 'struct';
      if (kindWanted === 'union') return t.kind === 'union';
      if (kindWanted === 'enum') return t.kind === 'enum' || t.kind === 'enum64';
      return t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64' || t.kind === 'typedef' || t.kind === 'int' || t.kind === 'float';
    });
    // A complete struct before a typedef of the same name; forward declarations don't count.
    const order = (t: Type) => (t.kind === 'typedef' ? 1 : 0);
    candidates.sort((a, b) => order(a) - order(b) || a.id - b.id);
    const found = candidates[0];
    if (found) {
      if (tsTypeFor(found).kind === 'none') throw new Bpf2tsError('ERR_BPF2TS_TYPE', `${what}: '${name}' is ${describeType(found)}, which has no value to decode`);
      return found;
    }
    const fwd = btf.typesByName(bare).find((t) => t.kind === 'fwd');
    const names: string[] = [];
    for (const t of btf.types()) {
      if ((t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64' || t.kind === 'typedef') && t.name) names.push(t.name);
    }
    const hint = closeMatches(bare, names);
    const label = kindWanted ? `${kindWanted} ${bare}` : `struct ${bare}`;
    throw new Bpf2tsError(
      'ERR_BPF2TS_TYPE',
      `${what}: the object's BTF has no type '${name}'` +
        (hint.length ? ` (did you mean ${hint.map((h) => `'${h}'`).join(', ')}?)` : '') +
        `. ${fwd ? `It is only declared (a forward declaration), never defined. ` : ''}` +
        `clang writes a type into BTF only when a global, a map or a function signature uses it; a type used only ` +
        `for local variables (struct event *e = bpf_ringbuf_reserve(...)) is left out. Add a global that mentions it, e.g. ` +
        `\`const ${label} *unused_${bare.replace(/[^A-Za-z0-9_]/g, '_')} __attribute__((unused));\` or \`__type(value, ${label})\` in a map.`,
    );
  }

  // --- types ---------------------------------------------------------------------------------

  /** Registers the declarations `t` needs (by value), naming an anonymous root `rootBase`. */
  useType(t: Type, rootBase?: string): void {
    const r = resolve(t);
    if (r.kind === 'struct' || r.kind === 'union' || r.kind === 'enum' || r.kind === 'enum64') {
      this.declare(r, rootBase);
    } else if (r.kind === 'array') {
      this.useType(r.element);
    }
  }

  declare(t: StructType | EnumType, rootBase: string | undefined): void {
    const named = !!t.name || this.typedefOf.has(t);
    if (!named && rootBase === undefined) {
      // Anonymous and nested: written inline; what it contains may still need declarations.
      if (t.kind === 'struct' || t.kind === 'union') for (const m of t.members) this.useType(m.type);
      return;
    }
    if (this.declared.has(t)) return;
    let base: string;
    let cLabel: string;
    if (t.name) {
      base = tsTypeName(t.name);
      cLabel = `${t.kind === 'enum64' ? 'enum' : t.kind} ${t.name}`;
    } else if (this.typedefOf.has(t)) {
      const td = this.typedefOf.get(t)!;
      base = tsTypeName(td.name);
      cLabel = `typedef ${t.kind === 'enum64' ? 'enum' : t.kind} {...} ${td.name}`;
    } else {
      base = rootBase!;
      cLabel = `anonymous ${t.kind === 'enum64' ? 'enum' : t.kind}`;
    }
    this.declared.set(t, { type: t, base, cLabel, tsName: '', codecName: '' });
    if (t.kind === 'struct' || t.kind === 'union') for (const m of t.members) this.useType(m.type);
  }

  nameDeclared(): void {
    const list = [...this.declared.values()].sort((a, b) => a.type.id - b.type.id);
    for (const d of list) d.tsName = this.ids.claim(d.base);
    for (const d of list) d.codecName = this.ids.claim(`${lowerFirst(d.tsName)}Codec`);
  }

  /** The TS type text for a value of `t` with mapping `m`. */
  tsText(m: TsMapping, t: Type, indent: string): string {
    const scalar = scalarTypeText(m);
    if (scalar) return scalar;
    switch (m.kind) {
      case 'array': {
        const inner = this.tsText(tsTypeFor(m.element), m.element, indent);
        return /^[A-Za-z_$][\w$]*$/.test(inner) ? `${inner}[]` : `(${inner})[]`;
      }
      case 'enum': {
        const d = this.declared.get(m.type);
        return d ? d.tsName : m.bigint ? 'bigint' : 'number';
      }
      case 'struct': {
        const s = m.type;
        if (s.kind === 'datasec') return 'never';
        const d = this.declared.get(s);
        if (d) return d.tsName;
        return this.inlineObjectType(s, indent);
      }
      default: // 'none'; the scalars were handled above
        return 'never';
    }
    void t;
  }

  /**
   * The members of a struct as decoding gives them: anonymous struct/union members (C11)
   * flattened, a key already used suffixed `_2`, `_3`... (btf/codec.ts's rule), unnamed
   * bitfields (padding) left out.
   */
  fields(t: StructType, base: number, seen: Set<string>): Field[] {
    const out: Field[] = [];
    for (const m of t.members) {
      const off = base + m.bitOffset;
      const mt = resolve(m.type);
      if (!m.name) {
        if ((mt.kind === 'struct' || mt.kind === 'union') && !m.bitfieldSize) out.push(...this.fields(mt, off, seen));
        continue;
      }
      let key = m.name;
      for (let i = 2; seen.has(key); i++) key = `${m.name}_${i}`;
      seen.add(key);
      out.push({ key, member: m, bitOffset: off });
    }
    return out;
  }

  memberComment(f: Field): string {
    const m = f.member;
    const off = f.bitOffset;
    const where = m.bitfieldSize
      ? `offset ${Math.floor(off / 8)} bit ${off % 8}, ${cTypeName(m.type)}: ${m.bitfieldSize}`
      : `offset ${off / 8}, ${cTypeName(m.type)}`;
    return `/** ${commentText(where)} */`;
  }

  inlineObjectType(t: StructType, indent: string): string {
    const fields = this.fields(t, 0, new Set());
    if (fields.length === 0) return '{}';
    const inner = indent + '  ';
    let s = '{\n';
    for (const f of fields) {
      s += `${inner}${this.memberComment(f)}\n`;
      s += `${inner}${propertyKey(f.key)}: ${this.tsText(tsMemberTypeFor(f.member), f.member.type, inner)};\n`;
    }
    return s + `${indent}}`;
  }

  // --- codecs --------------------------------------------------------------------------------

  /** The codec constant for values of `t` (registering a scalar/array codec when needed). */
  codecFor(t: Type): string {
    const r = resolve(t);
    const d = this.declared.get(r);
    if (d) return d.codecName;
    if (r.kind === 'struct' || r.kind === 'union' || r.kind === 'enum' || r.kind === 'enum64') {
      throw new Bpf2tsError('ERR_BPF2TS_OBJECT', `internal: ${describeType(r)} has no declaration`);
    }
    const { key, base } = this.shapeOf(r);
    let c = this.shapeCodecs.get(key);
    if (!c) {
      c = { key, base, type: r, name: this.ids.claim(`${base}Codec`) };
      this.shapeCodecs.set(key, c);
    }
    return c.name;
  }

  /** A key identifying a non-declared type's encoding, and a base for its codec's name. */
  shapeOf(r: Type): { key: string; base: string } {
    const m = tsTypeFor(r);
    switch (m.kind) {
      case 'boolean':
        return { key: `bool${m.size}`, base: m.size === 1 ? 'bool' : `bool${m.size * 8}` };
      case 'number':
        if (m.float) return { key: `f${m.size * 8}`, base: `f${m.size * 8}` };
        return { key: `${m.signed ? 'i' : 'u'}${m.size * 8}`, base: `${m.signed ? 'i' : 'u'}${m.size * 8}` };
      case 'bigint':
        return { key: `${m.signed ? 'i' : 'u'}${m.size * 8}`, base: `${m.signed ? 'i' : 'u'}${m.size * 8}` };
      case 'pointer':
        return { key: 'ptr', base: 'pointer' };
      case 'bytes':
        return { key: `bytes${m.length}`, base: `bytes${m.length}` };
      case 'string':
        return { key: `string${m.length}`, base: `string${m.length}` };
      case 'array': {
        const e = resolve(m.element);
        const d = this.declared.get(e);
        const inner = d ? { key: `decl${e.id}`, base: lowerFirst(d.tsName) } : this.shapeOf(e);
        return { key: `${inner.key}[${m.length}]`, base: `${inner.base}Array${m.length}` };
      }
      case 'enum': {
        const w = `${m.type.signed ? 'i' : 'u'}${m.type.size * 8}`;
        return { key: w, base: w };
      }
      case 'struct':
        // Anonymous structs reach here only nested: inline. As a root they are declared.
        return { key: `anon${r.id}`, base: `anonymous${r.id}` };
      case 'none':
        throw new Bpf2tsError('ERR_BPF2TS_TYPE', `${describeType(r)} has no value to encode or decode`);
    }
  }

  #embedSpec: BtfSpec | undefined;

  /**
   * Codecs name types by id in the embedded object's BTF. When that object is another build
   * (the other byte order) than the one read here, check the id means the same type there.
   */
  checkEmbeddedType(t: Type): void {
    const embed = this.options.embed;
    if (!embed || embed === this.object) return;
    if (!this.#embedSpec) {
      const sec = ElfFile.parse(embed).sectionByName('.BTF');
      if (!sec) throw new Bpf2tsError('ERR_BPF2TS_OBJECT', 'the object to embed has no .BTF section');
      this.#embedSpec = BtfSpec.parse(sec.data());
    }
    const other = this.#embedSpec.tryTypeById(t.id);
    if (!other || other.kind !== t.kind || other.name !== t.name) {
      throw new Bpf2tsError('ERR_BPF2TS_OBJECT', `the two builds of the object differ: BTF type ${t.id} is ${describeType(t)} in one and ${other ? describeType(other) : 'missing'} in the other`);
    }
  }

  /** A codec constant: the runtime's BTF codec for type `id` of the embedded object. */
  codecText(name: string, t: Type, tsType: string, label: string): string {
    const size = sizeof(t);
    this.checkEmbeddedType(t);
    return (
      `/** Decodes and encodes ${commentText(label)} (${size} bytes). */\n` +
      `export const ${name}: ${RUNTIME}.Codec<${tsType}> = ${RUNTIME}.lazyCodec<${tsType}>(${this.fixed['types']}, ${t.id}, ${size});\n`
    );
  }

  /** The TS type of values of `t` (a root: declared types by name). */
  valueType(t: Type): string {
    return this.tsText(tsTypeFor(t), t, '');
  }

  // --- output --------------------------------------------------------------------------------

  emit(programs: { spec: ProgramSpec; key: string }[], maps: PlannedMap[], views: PlannedView[], extra: Type[]): string {
    const f = this.fixed;
    const o = this.options;
    const out: string[] = [];
    const header = [`// Code generated by bpf2ts${o.source ? ` from ${o.source}` : ''}. DO NOT EDIT.`];
    if (o.command) header.push(`// Regenerate with: ${o.command}`);
    out.push(header.join('\n') + '\n');
    out.push(`import * as ebpf from ${stringLiteral(o.importFrom ?? 'ebpf-ts')};\n`);
    // The embedded BTF, for the codecs: written below once it is known whether there are any
    // (an object without typed maps, records or variables has none, and an unused constant
    // would fail a strict `noUnusedLocals` build of the user's project).
    const typesAt = out.length;

    // Type declarations and their codecs, by BTF id. Codecs of scalar/array types are
    // registered while writing (map keys, variables), so they are written afterwards.
    const decls = [...this.declared.values()].sort((a, b) => a.type.id - b.type.id);
    for (const d of decls) out.push(this.declText(d));

    // Map plans need codec names: resolve them now so the shape codecs are all registered.
    const mapLines = maps.map((m) => this.mapMember(m));
    const viewTexts = views.map((v) => this.viewText(v));
    for (const t of extra) this.codecFor(t);
    const shapes = [...this.shapeCodecs.values()];
    for (const c of shapes) out.push(this.codecText(c.name, c.type, this.valueType(c.type), cTypeName(c.type)));
    if (decls.length + shapes.length > 0) {
      out.splice(typesAt, 0, `/** The embedded object's BTF, parsed on first use: the codecs' types. */\nconst ${f['types']} = ${RUNTIME}.embeddedTypes(${f['objectBytes']});\n`);
    }
    out.push(...viewTexts);

    // Interfaces of the object.
    out.push(this.interfaceText(`${f['ProgramSpecs']}`, `The programs of ${o.name} before load: set \`autoload\` to skip one.`,
      programs.map((p) => ({ doc: this.programDoc(p.spec), line: `readonly ${propertyKey(p.key)}: ebpf.ProgramSpec;` }))));
    out.push(this.interfaceText(`${f['MapSpecs']}`, `The maps of ${o.name} before load: change \`maxEntries\`, \`flags\`, \`pinning\`...`,
      maps.map((m) => ({ doc: this.mapDoc(m), line: `readonly ${propertyKey(m.key)}: ebpf.MapSpec;` }))));
    out.push(this.interfaceText(`${f['Programs']}`, `The loaded programs of ${o.name} (a program whose autoload was turned off throws when used).`,
      programs.map((p) => ({ doc: this.programDoc(p.spec), line: `readonly ${propertyKey(p.key)}: ebpf.Program;` }))));
    out.push(this.interfaceText(`${f['Maps']}`, `The maps of ${o.name}.`, mapLines.map((m) => ({ doc: m.doc, line: `readonly ${propertyKey(m.key)}: ${m.type};` }))));

    const specLines = [
      { doc: 'The parsed object: everything loading will create, editable.', line: 'readonly spec: ebpf.CollectionSpec;' },
      { doc: 'Program specs by name.', line: `readonly programs: ${f['ProgramSpecs']};` },
      { doc: 'Map specs by name.', line: `readonly maps: ${f['MapSpecs']};` },
      ...views.map((v) => ({ doc: `Initial values of ${v.map.name}${v.readOnly ? ' (constants for the programs: set them here, before load)' : ''}.`, line: `readonly ${propertyKey(v.key)}: ${v.tsName};` })),
      { doc: 'Creates the maps and loads the programs.', line: `load(options?: ebpf.CollectionOptions): ${f['Objects']};` },
    ];
    out.push(this.interfaceText(f['Spec']!, `${o.name} before load (libbpf's open phase).`, specLines));

    const objLines = [
      { doc: 'The loaded collection (every program and map, by C name).', line: 'readonly collection: ebpf.Collection;' },
      { doc: 'The programs.', line: `readonly programs: ${f['Programs']};` },
      { doc: 'The maps, typed.', line: `readonly maps: ${f['Maps']};` },
      ...views.map((v) => ({
        doc: `${v.map.name}, live (mmapped)${v.readOnly ? ': frozen, read-only' : ': what the programs see'}.`,
        line: `readonly ${propertyKey(v.key)}: ${v.readOnly ? `Readonly<${v.tsName}>` : v.tsName};`,
      })),
      {
        doc: "Attaches every loaded program whose section names its hook (tracepoint/..., uprobe/...; xdp, tc and cgroup programs when the options name an interface or cgroup), as libbpf's skeleton attach; returns the links by program name; close() detaches them.",
        line: `attachAll(options?: ${RUNTIME}.AttachAllOptions): Map<string, ${RUNTIME}.Attachment>;`,
      },
      { doc: 'Detaches what attachAll() attached, closes the programs and maps. Idempotent.', line: 'close(): void;' },
      { doc: 'close()', line: '[Symbol.dispose](): void;' },
    ];
    out.push(this.interfaceText(f['Objects']!, `${o.name}, loaded.`, objLines));

    const optLines = views.map((v) => ({ doc: `Values set in ${v.map.name} before load.`, line: `${propertyKey(v.key)}?: Partial<${v.tsName}>;` }));
    out.push(
      `/** Options of ${f['load']}(): the loader's options, and initial values of global variables. */\n` +
        `export interface ${f['LoadOptions']} extends ebpf.CollectionOptions ${optLines.length ? `{\n${optLines.map((l) => `  /** ${commentText(l.doc)} */\n  ${l.line}\n`).join('')}}` : '{}'}\n`,
    );

    out.push(this.openText(programs, maps, views));
    out.push(this.loadText(programs, views, mapLines));
    out.push(this.embedText());
    return out.join('\n');
  }

  interfaceText(name: string, doc: string, lines: { doc: string; line: string }[]): string {
    let s = `/** ${commentText(doc)} */\nexport interface ${name} {`;
    if (lines.length === 0) return s + '}\n';
    s += '\n';
    for (const l of lines) s += `  /** ${commentText(l.doc)} */\n  ${l.line}\n`;
    return s + '}\n';
  }

  programDoc(p: ProgramSpec): string {
    return `SEC("${p.sectionName}") ${p.name}${p.autoload ? '' : ' (autoload off: SEC("?..."))'}`;
  }

  mapDoc(m: PlannedMap): string {
    const s = m.spec;
    const type = MAP_TYPE_NAMES[s.type] ?? `type ${s.type}`;
    let doc = `${s.name}: ${type}, max_entries ${s.maxEntries}`;
    if (m.kind === 'typed') doc += `, key ${cTypeName(m.keyType)}, value ${cTypeName(m.valueType)}`;
    if ((m.kind === 'ringbuf' || m.kind === 'perf') && m.record) doc += `, records: ${cTypeName(m.record)}`;
    return doc;
  }

  mapMember(m: PlannedMap): { key: string; type: string; init: string; doc: string } {
    const name = stringLiteral(m.spec.name);
    const doc = this.mapDoc(m);
    switch (m.kind) {
      case 'typed': {
        const kt = this.valueType(m.keyType);
        const vt = this.valueType(m.valueType);
        const kc = this.codecFor(m.keyType);
        const vc = this.codecFor(m.valueType);
        if (m.perCpu) {
          return { key: m.key, doc: doc + ' (per-CPU: a value per possible CPU)', type: `${RUNTIME}.TypedMap<${kt}, ${vt}[]>`, init: `ctx.perCpuMap(${name}, ${kc}, ${vc})` };
        }
        return { key: m.key, doc, type: `${RUNTIME}.TypedMap<${kt}, ${vt}>`, init: `ctx.typedMap(${name}, ${kc}, ${vc})` };
      }
      case 'ringbuf':
      case 'perf': {
        const fn = m.kind === 'ringbuf' ? 'ringBuffer' : 'perfBuffer';
        const cls = m.kind === 'ringbuf' ? 'RingBufferMap' : 'PerfBufferMap';
        if (m.record) {
          const rt = this.valueType(m.record);
          return { key: m.key, doc, type: `${RUNTIME}.${cls}<${rt}>`, init: `ctx.${fn}(${name}, ${this.codecFor(m.record)})` };
        }
        const flag = m.kind === 'ringbuf' ? 'ringbuf' : 'perf';
        return { key: m.key, doc: `${doc} (records as bytes: bind a type with --${flag} ${m.spec.name}=TYPE)`, type: `${RUNTIME}.${cls}<Uint8Array>`, init: `ctx.${fn}(${name})` };
      }
      case 'raw':
        return { key: m.key, doc, type: 'ebpf.BpfMap', init: `collection.map(${name})` };
    }
  }

  declText(d: Declared): string {
    const t = d.type;
    let s = '';
    if (t.kind === 'enum' || t.kind === 'enum64') {
      const big = t.kind === 'enum64' || t.size > 4;
      s += `/** ${commentText(d.cLabel)}, ${t.size} bytes */\nexport const ${d.tsName} = {\n`;
      const seen = new Set<string>();
      for (const v of t.values) {
        let k = v.name;
        for (let i = 2; seen.has(k); i++) k = `${v.name}_${i}`;
        seen.add(k);
        s += `  ${propertyKey(k)}: ${big ? `${v.value}n` : `${v.value}`},\n`;
      }
      s += `} as const;\nexport type ${d.tsName} = ${big ? 'bigint' : 'number'};\n\n`;
    } else {
      s += `/** ${commentText(d.cLabel)}, ${t.size} bytes */\nexport interface ${d.tsName} ${this.inlineObjectType(t as StructType, '')}\n\n`;
    }
    s += this.codecText(d.codecName, t, d.tsName, d.cLabel);
    return s;
  }

  viewText(v: PlannedView): string {
    const lines: string[] = [];
    lines.push(`/** The global variables of ${commentText(v.map.name)} (${v.map.valueSize} bytes). */`);
    lines.push(`export interface ${v.tsName} {`);
    for (const pv of v.vars) {
      lines.push(`  /** offset ${pv.spec.offset}, ${commentText(cTypeName(pv.spec.type, pv.spec.name))} */`);
      lines.push(`  ${propertyKey(pv.key)}: ${this.valueType(pv.spec.type)};`);
    }
    lines.push('}\n');
    lines.push(`function ${v.factory}(store: ${RUNTIME}.DataStore): ${v.tsName} {`);
    lines.push('  return {');
    for (const pv of v.vars) {
      const c = this.codecFor(pv.spec.type);
      const tt = this.valueType(pv.spec.type);
      const k = propertyKey(pv.key);
      lines.push(`    get ${k}(): ${tt} {`);
      lines.push(`      return store.get(${c}, ${pv.spec.offset});`);
      lines.push('    },');
      lines.push(`    set ${k}(value: ${tt}) {`);
      lines.push(`      store.set(${c}, ${pv.spec.offset}, value);`);
      lines.push('    },');
    }
    lines.push('  };');
    lines.push('}\n');
    return lines.join('\n');
  }

  openText(programs: { spec: ProgramSpec; key: string }[], maps: PlannedMap[], views: PlannedView[]): string {
    const f = this.fixed;
    const l: string[] = [];
    l.push(`/** Parses the embedded object: ${this.options.name} before load, to adjust, then load(). */`);
    l.push(`export function ${f['open']}(): ${f['Spec']} {`);
    l.push(`  const spec = ebpf.CollectionSpec.fromELF(${f['objectBytes']}(), { name: ${stringLiteral(this.options.name)} });`);
    l.push(`  const programs: ${f['ProgramSpecs']} = {`);
    for (const p of programs) l.push(`    get ${propertyKey(p.key)}() {\n      return spec.program(${stringLiteral(p.spec.name)});\n    },`);
    l.push('  };');
    l.push(`  const maps: ${f['MapSpecs']} = {`);
    for (const m of maps) l.push(`    get ${propertyKey(m.key)}() {\n      return spec.map(${stringLiteral(m.spec.name)});\n    },`);
    l.push('  };');
    l.push('  return {');
    l.push('    spec,');
    l.push('    programs,');
    l.push('    maps,');
    for (const v of views) l.push(`    ${propertyKey(v.key)}: ${v.factory}(${RUNTIME}.specData(spec, ${stringLiteral(v.map.name)})),`);
    l.push(`    load: (options?: ebpf.CollectionOptions) => ${f['loadObjects']}(spec, options),`);
    l.push('  };');
    l.push('}\n');
    l.push(`/** Loads ${this.options.name}: ${f['open']}(), the initial values in \`options\`, then load(). */`);
    l.push(`export function ${f['load']}(options: ${f['LoadOptions']} = {}): ${f['Objects']} {`);
    l.push(`  const opened = ${f['open']}();`);
    if (views.length) {
      l.push(`  const { ${views.map((v) => `${propertyKey(v.key)}: ${v.key}Values`).join(', ')}, ...collectionOptions } = options;`);
      for (const v of views) l.push(`  if (${v.key}Values) Object.assign(opened.${v.key}, ${v.key}Values);`);
      l.push('  return opened.load(collectionOptions);');
    } else {
      l.push('  return opened.load(options);');
    }
    l.push('}\n');
    return l.join('\n');
  }

  loadText(programs: { spec: ProgramSpec; key: string }[], views: PlannedView[], mapLines: { key: string; init: string }[]): string {
    const f = this.fixed;
    const l: string[] = [];
    l.push(`function ${f['loadObjects']}(spec: ebpf.CollectionSpec, options?: ebpf.CollectionOptions): ${f['Objects']} {`);
    l.push('  const collection = ebpf.loadCollection(spec, options);');
    l.push(`  const ctx = new ${RUNTIME}.LoadedObject(collection);`);
    l.push('  try {');
    l.push(`    const programs: ${f['Programs']} = {`);
    for (const p of programs) l.push(`      get ${propertyKey(p.key)}() {\n        return collection.program(${stringLiteral(p.spec.name)});\n      },`);
    l.push('    };');
    l.push(`    const maps: ${f['Maps']} = {`);
    for (const m of mapLines) l.push(`      ${propertyKey(m.key)}: ${m.init},`);
    l.push('    };');
    l.push('    const close = (): void => ctx.close();');
    l.push('    return {');
    l.push('      collection,');
    l.push('      programs,');
    l.push('      maps,');
    for (const v of views) l.push(`      ${propertyKey(v.key)}: ${v.factory}(ctx.globalData(${stringLiteral(v.map.name)}, ${v.readOnly})),`);
    l.push(`      attachAll: (options?: ${RUNTIME}.AttachAllOptions) => ctx.attachAll(options),`);
    l.push('      close,');
    l.push('      [Symbol.dispose]: close,');
    l.push('    };');
    l.push('  } catch (err) {');
    l.push('    ctx.close();');
    l.push('    throw err;');
    l.push('  }');
    l.push('}\n');
    return l.join('\n');
  }

  embedText(): string {
    const bytes = this.options.embed ?? this.object;
    const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    const chunks: string[] = [];
    for (let i = 0; i < b64.length; i += 96) chunks.push(b64.slice(i, i + 96));
    const f = this.fixed;
    const l: string[] = [];
    l.push(`/** The embedded object (${bytes.byteLength} bytes), a fresh copy on each call. */`);
    l.push(`export function ${f['objectBytes']}(): Uint8Array {`);
    l.push(`  return ${RUNTIME}.decodeBase64(${f['base64']});`);
    l.push('}\n');
    l.push(`// ${this.options.name}: ${bytes.byteLength} bytes of BPF ELF (${bytes[5] === 2 ? 'big' : 'little'}-endian), base64.`);
    l.push(`const ${f['base64']} = [`);
    for (const c of chunks) l.push(`  '${c}',`);
    l.push("].join('');");
    return l.join('\n') + '\n';
  }
}

type PlannedMap =
  | { spec: MapSpec; key: string; kind: 'typed'; keyType: Type; valueType: Type; perCpu: boolean }
  | { spec: MapSpec; key: string; kind: 'ringbuf' | 'perf'; record: Type | undefined }
  | { spec: MapSpec; key: string; kind: 'raw' };

interface PlannedView {
  map: MapSpec;
  key: string;
  vars: { spec: VariableSpec; key: string }[];
  readOnly: boolean;
  tsName: string;
  factory: string;
}

