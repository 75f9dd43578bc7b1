import { SHT_NOBITS, SHT_NULL } from './constants.js';

/** The fields of a section header, as read and checked by ElfFile.parse. */
export interface SectionHeader {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

/** One section of an ELF file. */
export class ElfSection implements SectionHeader {
  readonly index: number;
  /** From the section header string table; '' when the file has none (e_shstrndx = 0). */
  readonly name: string;
  /** SHT_* */
  readonly type: number;
  /**
   * SHF_* flags: the low 32 bits of sh_flags as an unsigned number. Every flag the gABI, GNU
   * and LLVM define (SHF_EXCLUDE = 0x80000000 included) lives there; the high half has no
   * defined meaning and is dropped. Test with `(flags & SHF_ALLOC) !== 0`.
   */
  readonly flags: number;
  /** Virtual address when loaded (0 in relocatable objects). */
  readonly addr: bigint;
  /** File offset of the contents (meaningless for SHT_NOBITS and SHT_NULL). */
  readonly offset: number;
  /** Size in bytes; for SHT_NOBITS (.bss) the size in memory, with no bytes in the file. */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  readonly #bytes: Uint8Array;

  constructor(header: SectionHeader, bytes: Uint8Array) {
    this.index = header.index;
    this.name = header.name;
    this.type = header.type;
    this.flags = header.flags;
    this.addr = header.addr;
    this.offset = header.offset;
    this.size = header.size;
    this.link = header.link;
    this.info = header.info;
    this.addralign = header.addralign;
    this.entsize = header.entsize;
    this.#bytes = bytes;
  }

  /**
   * The section's contents as a view into the parsed buffer (no copy: writes show through, and
   * the view lives as long as the buffer). SHT_NOBITS and SHT_NULL sections have no contents in
   * the file and return an empty array: the loader takes a .bss section's size from `size`
   * (allocating `size` zeroes here would let a forged header demand any amount of memory).
   */
  data(): Uint8Array {
    if (this.type === SHT_NOBITS || this.type === SHT_NULL) return this.#bytes.subarray(0, 0);
    return this.#bytes.subarray(this.offset, this.offset + this.size);
  }

  /** True when every bit of `flag` is set. */
  hasFlags(flag: number): boolean {
    return (this.flags & flag) >>> 0 === flag >>> 0;
  }
}
