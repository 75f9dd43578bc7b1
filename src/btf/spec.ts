/**
 * Spec: the types of one BTF blob (vmlinux, a kernel module's split BTF, a BPF object's .BTF).
 *
 * `Spec.parse` decodes lazily (see parse.ts): parsing vmlinux only frames the ~100k records;
 * types become objects when asked for, and the name index is built on the first name lookup.
 * The Spec keeps views of the input bytes: don't modify them afterwards.
 *
 * Ids: 0 is VOID; own types are `firstTypeId..lastTypeId`. Split BTF (`options.base`) numbers
 * its types after the base's last id and its string offsets after the base's strings; lookups
 * by id or name on a split Spec see the base's types too.
 */

import { BtfData, type ByteOrder } from './parse.js';
import type { Kind, Type } from './types.js';
import { BtfNotFoundError, KIND_NAMES, kindNumber, type TypeOfKind } from './util.js';

export interface SpecParseOptions {
  /** The base Spec of split BTF (vmlinux for a kernel module's /sys/kernel/btf/<module>). */
  base?: Spec;
}

export class Spec implements Iterable<Type> {
  readonly #data: BtfData;
  readonly #base: Spec | undefined;

  private constructor(data: BtfData, base: Spec | undefined) {
    this.#data = data;
    this.#base = base;
  }

  /**
   * Parses raw BTF (a .BTF section, /sys/kernel/btf/*) in either byte order. Throws FormatError
   * (code ERR_BTF) for a malformed header or type section framing; see parse.ts for what is
   * checked later, when types are materialised.
   */
  static parse(bytes: Uint8Array, options: SpecParseOptions = {}): Spec {
    const base = options.base;
    return new Spec(new BtfData(bytes, base ? base.#data : undefined), base);
  }

  /** The base of split BTF, or undefined. */
  get base(): Spec | undefined {
    return this.#base;
  }

  get byteOrder(): ByteOrder {
    return this.#data.byteOrder;
  }

  /** Number of this Spec's own types (without void and without the base's types). */
  get typeCount(): number {
    return this.#data.count;
  }

  /** Id of the first own type: 1, or the base's last id + 1 for split BTF. */
  get firstTypeId(): number {
    return this.#data.firstId;
  }

  /** Highest valid type id (what `bpftool btf dump` prints last). */
  get lastTypeId(): number {
    return this.#data.lastId;
  }

  /** Length in bytes of this Spec's own string section. */
  get stringsLength(): number {
    return this.#data.strings.length;
  }

  /** String offset one past the last string of this Spec (base strings included). */
  get stringsEnd(): number {
    return this.#data.strStart + this.#data.strings.length;
  }

  /** The type with id `id` (0 is VOID; base ids resolve in the base). Throws BtfNotFoundError. */
  typeById(id: number): Type {
    const t = Number.isInteger(id) && id >= 0 ? this.#data.lookup(id) : undefined;
    if (t === undefined) throw new BtfNotFoundError(`no BTF type with id ${id} (last id is ${this.lastTypeId})`);
    return t;
  }

  /** Like typeById, but undefined for an id out of range. */
  tryTypeById(id: number): Type | undefined {
    return Number.isInteger(id) && id >= 0 ? this.#data.lookup(id) : undefined;
  }

  /** Kind of type `id` without materialising it. Throws BtfNotFoundError for a bad id. */
  kindOf(id: number): Kind {
    const n = Number.isInteger(id) && id >= 0 ? this.#data.kindNumberOf(id) : -1;
    if (n < 0) throw new BtfNotFoundError(`no BTF type with id ${id} (last id is ${this.lastTypeId})`);
    return KIND_NAMES[n]!;
  }

  /** Whether `t` is the object this Spec (or its base) hands out for `t.id`. */
  owns(t: Type): boolean {
    return t.id >= 0 && this.#data.lookup(t.id) === t;
  }

  /** This Spec's own types in id order (not void, not the base's). */
  *types(): IterableIterator<Type> {
    const d = this.#data;
    for (let id = d.firstId, last = d.lastId; id <= last; id++) yield d.lookup(id)!;
  }

  /** The base's types then this Spec's own, in id order (not void). */
  *allTypes(): IterableIterator<Type> {
    if (this.#base) yield* this.#base.allTypes();
    yield* this.types();
  }

  [Symbol.iterator](): IterableIterator<Type> {
    return this.types();
  }

  /** Ids of the types named exactly `name` (base types first, ascending). '' finds nothing. */
  typeIdsByName(name: string): number[] {
    return this.#data.idsByName(name);
  }

  /** The types named exactly `name`, base types first, in id order. */
  typesByName(name: string): Type[] {
    return this.typeIdsByName(name).map((id) => this.#data.lookup(id)!);
  }

  /** The first type (lowest id) of kind `kind` named `name`, or undefined. */
  findType<K extends Kind>(kind: K, name: string): TypeOfKind<K> | undefined {
    const want = kindNumber(kind);
    for (const id of this.typeIdsByName(name)) {
      if (this.#data.kindNumberOf(id) === want) return this.#data.lookup(id) as TypeOfKind<K>;
    }
    return undefined;
  }

  /** Like findType, but throws BtfNotFoundError when there is no such type. */
  typeByName<K extends Kind>(kind: K, name: string): TypeOfKind<K> {
    const t = this.findType(kind, name);
    if (!t) throw new BtfNotFoundError(`no BTF ${kind} named '${name}'`);
    return t;
  }

  /** The first type (lowest id) named `name`, of any kind. Throws BtfNotFoundError. */
  anyTypeByName(name: string): Type {
    const ids = this.typeIdsByName(name);
    if (ids.length === 0) throw new BtfNotFoundError(`no BTF type named '${name}'`);
    return this.#data.lookup(ids[0]!)!;
  }

  /** The string at `offset` in the string table (base strings included for split BTF). */
  stringAt(offset: number): string {
    return this.#data.stringAt(offset);
  }
}
