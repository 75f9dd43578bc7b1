/**
 * Names in generated bindings.
 *
 * The rules (the same input always gives the same names):
 *
 * - C identifiers of programs, maps and global variables become camelCase properties: the name
 *   is split at underscores, the first word is kept as written, every later word gets its first
 *   letter upper-cased (`handle_exec` -> `handleExec`, `XDP_drop` -> `XDPDrop`). Leading
 *   underscores are kept (`__hidden_x` -> `__hiddenX`); dots (section names: `.data.custom`)
 *   and other characters count as underscores.
 * - Types are PascalCase, as `ebpf-ts btf dump ... format ts` names them (`task_struct` ->
 *   `TaskStruct`, CO-RE flavours kept: `task_struct___old` -> `TaskStruct___old`); the object
 *   name given on the command line also becomes PascalCase (`exec_snoop` -> `ExecSnoop`).
 * - Struct members keep their C names: decoded values have the shape `btf dump format ts`
 *   declares and the map dump prints.
 * - Collisions: within one scope (the module's exports; one object's programs; its maps; one
 *   section's variables) the first name in order of appearance keeps it and later ones get
 *   `_2`, `_3`, ... Order of appearance: programs in section order then symbol order (the
 *   order of the object), maps in the order the object defines them, variables by offset in
 *   their section, types by BTF id. Names the generated module itself declares (`open<Name>`,
 *   `load<Name>`, the object interfaces) are claimed before any type name.
 * - Words JavaScript reserves get a trailing `_` where they would be identifiers (`const`
 *   names); as property names they are legal and kept, except `__proto__` (`__proto___`).
 */

/** Reserved words and globals a module can't (or shouldn't) declare as a `const`/`function`. */
export const JS_RESERVED = new Set([
  'Infinity', 'NaN', 'globalThis', 'undefined', 'arguments', 'eval',
  'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete',
  'do', 'else', 'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if',
  'implements', 'import', 'in', 'instanceof', 'interface', 'let', 'new', 'null', 'package',
  'private', 'protected', 'public', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true',
  'try', 'typeof', 'var', 'void', 'while', 'with', 'yield',
  // Type names TypeScript itself claims.
  'any', 'boolean', 'never', 'number', 'bigint', 'object', 'string', 'symbol', 'unknown',
]);

/**
 * Global names the generated code uses: a C type mapping to one of them (`struct Array` ->
 * `Array`) would shadow it inside the module, so it is suffixed instead.
 */
export const GENERATED_CODE_GLOBALS = ['Array', 'Map', 'Object', 'Partial', 'Readonly', 'Symbol', 'Uint8Array', 'ebpf'];

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Whether `name` can be written as a bare identifier / property key. */
export function isIdentifier(name: string): boolean {
  return IDENT.test(name);
}

/** `handle_exec` -> `handleExec` (see the module comment for the rule). */
export function camelCase(cName: string): string {
  const clean = cName.replace(/[^A-Za-z0-9_$]/g, '_');
  const lead = /^_*/.exec(clean)![0];
  // A section name's leading dot is not a leading underscore: `.bss` is `bss`.
  const keepLead = cName.startsWith('.') ? lead.slice(1) : lead;
  const words = clean.slice(lead.length).split('_').filter((w) => w !== '');
  let out = keepLead + words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
  if (out === '') out = '_';
  if (/^[0-9]/.test(out)) out = '_' + out;
  return out;
}

/** `exec_snoop` -> `ExecSnoop`: the object name in exported names. */
export function pascalCase(cName: string): string {
  const c = camelCase(cName);
  const lead = /^_*/.exec(c)![0];
  const rest = c.slice(lead.length);
  return lead + (rest ? rest[0]!.toUpperCase() + rest.slice(1) : '');
}

/**
 * A scope of names: `claim(base)` returns `base`, or `base_2`, `base_3`... when taken, in the
 * order of the calls.
 */
export class NameScope {
  readonly #taken = new Set<string>();
  readonly #identifiers: boolean;

  /**
   * @param identifiers the names become identifiers (reserved words get a trailing `_`);
   *   otherwise property keys (only `__proto__` is changed).
   */
  constructor(identifiers: boolean, reserved: Iterable<string> = []) {
    this.#identifiers = identifiers;
    for (const r of reserved) this.#taken.add(r);
  }

  claim(base: string): string {
    let b = base;
    if (this.#identifiers && JS_RESERVED.has(b)) b += '_';
    if (b === '__proto__') b += '_';
    let n = b;
    for (let i = 2; this.#taken.has(n); i++) n = `${b}_${i}`;
    this.#taken.add(n);
    return n;
  }

  has(name: string): boolean {
    return this.#taken.has(name);
  }
}

/** A property key as written in source: bare when an identifier, else quoted. */
export function propertyKey(name: string): string {
  return IDENT.test(name) ? name : stringLiteral(name);
}

/** A single-quoted JS string literal. */
export function stringLiteral(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

/** Text safe inside a `/** ... *\/` comment. */
export function commentText(s: string): string {
  return s.replace(/\*\//g, '*\\/').replace(/\n/g, ' ');
}
