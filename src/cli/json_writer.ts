/**
 * A streaming JSON writer that lays out text exactly as bpftool's json_writer.c does, so that
 * `-j` and `-p` output (and the JSON-like text bpftool prints for BTF-formatted map entries)
 * can be compared byte for byte with bpftool's.
 *
 * The pretty layout is bpftool's, not JSON.stringify's: 4-space indentation, a new line before
 * each object member, but array elements kept on the line (`[1,2,3]`, `[{` ... `},{` ... `}`).
 * Numbers are written as given (strings or bigints), so 64-bit values keep every digit.
 */
export class JsonWriter {
  #out = '';
  #depth = 0;
  #sep = '';
  readonly pretty: boolean;

  constructor(pretty = false) {
    this.pretty = pretty;
  }

  /** The text written so far. */
  get text(): string {
    return this.#out;
  }

  /** Takes the text written so far (and forgets it), keeping the writer's state. */
  take(): string {
    const t = this.#out;
    this.#out = '';
    return t;
  }

  /** Forgets that a value was written at the top level (jsonw_reset), to write another one. */
  reset(): void {
    this.#sep = '';
  }

  #eol(): void {
    if (!this.pretty) return;
    this.#out += '\n' + '    '.repeat(this.#depth);
  }

  /** Writes the separator owed by the previous element. */
  #eor(): void {
    this.#out += this.#sep;
    this.#sep = ',';
  }

  #begin(c: string): this {
    this.#eor();
    this.#out += c;
    this.#depth++;
    this.#sep = '';
    return this;
  }

  #end(c: string): this {
    this.#depth--;
    if (this.#sep !== '') this.#eol();
    this.#out += c;
    this.#sep = ',';
    return this;
  }

  startObject(): this {
    return this.#begin('{');
  }
  endObject(): this {
    return this.#end('}');
  }
  startArray(): this {
    return this.#begin('[');
  }
  endArray(): this {
    return this.#end(']');
  }

  name(name: string): this {
    this.#eor();
    this.#eol();
    this.#sep = '';
    this.#out += quote(name) + (this.pretty ? ': ' : ':');
    return this;
  }

  /** A value written verbatim (jsonw_printf): a number, or text the caller already quoted. */
  raw(text: string): this {
    this.#eor();
    this.#out += text;
    return this;
  }

  string(s: string): this {
    return this.raw(quote(s));
  }
  number(n: number | bigint): this {
    return this.raw(String(n));
  }
  bool(b: boolean): this {
    return this.raw(b ? 'true' : 'false');
  }
  null(): this {
    return this.raw('null');
  }

  stringField(name: string, s: string): this {
    return this.name(name).string(s);
  }
  numberField(name: string, n: number | bigint): this {
    return this.name(name).number(n);
  }
  boolField(name: string, b: boolean): this {
    return this.name(name).bool(b);
  }
  nullField(name: string): this {
    return this.name(name).null();
  }

  /**
   * Any JSON-like value: objects keep their key order, bigints keep every digit, undefined
   * members are left out.
   */
  value(v: unknown): this {
    if (v === null || v === undefined) return this.null();
    if (typeof v === 'string') return this.string(v);
    if (typeof v === 'number' || typeof v === 'bigint') return this.number(v);
    if (typeof v === 'boolean') return this.bool(v);
    if (Array.isArray(v)) {
      this.startArray();
      for (const x of v) this.value(x);
      return this.endArray();
    }
    this.startObject();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x !== undefined) this.name(k).value(x);
    }
    return this.endObject();
  }

  /** `["0x01","0x02"]`: bytes as bpftool's print_hex_data_json writes them. */
  hexBytes(bytes: Uint8Array): this {
    this.startArray();
    for (const b of bytes) this.raw(`"0x${b.toString(16).padStart(2, '0')}"`);
    return this.endArray();
  }

  /** `[1,2]`: bytes as bpftool's print_data_json writes them. */
  decimalBytes(bytes: Uint8Array): this {
    this.startArray();
    for (const b of bytes) this.raw(String(b));
    return this.endArray();
  }
}

/**
 * A JSON string. bpftool's writer escapes only C escapes; JSON.stringify escapes the same
 * characters the same way for printable text, and control characters validly.
 */
export function quote(s: string): string {
  return JSON.stringify(s);
}
