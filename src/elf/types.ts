/**
 * The plain data shapes the ELF reader hands out. Sizes and offsets are numbers (checked to be
 * exact when read); virtual addresses are bigints, because kernel addresses exceed 2^53.
 */

/** One entry of a symbol table (SHT_SYMTAB or SHT_DYNSYM). */
export interface ElfSymbol {
  /** Index in its table; relocations refer to symbols by this. */
  readonly index: number;
  /** From the string table; an unnamed STT_SECTION symbol takes its section's name. */
  readonly name: string;
  /**
   * st_value as a number: a section-relative offset in relocatable objects (ET_REL), a virtual
   * address in executables and shared objects. Exact up to 2^53 - 1; above that (kernel
   * addresses) it is rounded, and `value64` holds the exact value.
   */
  readonly value: number;
  /** st_value, exact. */
  readonly value64: bigint;
  readonly size: number;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  /** STV_* (the low two bits of st_other). */
  readonly visibility: number;
  /** st_other as stored (the bits above visibility are processor-specific). */
  readonly other: number;
  /**
   * The section the symbol is defined in: SHN_UNDEF (0) for undefined symbols, SHN_ABS or
   * SHN_COMMON (or another reserved index, kept as read) for special ones. SHN_XINDEX is never
   * seen here: it is resolved through the SHT_SYMTAB_SHNDX section.
   */
  readonly sectionIndex: number;
  /**
   * GNU symbol version (`GLIBC_2.14`) of a dynamic symbol, from .gnu.version and
   * .gnu.version_d/.gnu.version_r; undefined for unversioned symbols and for .symtab entries.
   */
  readonly version: string | undefined;
  /**
   * True unless the symbol is this file's default definition of its version: set for a
   * non-default version (`memcpy@GLIBC_2.2.5`, as opposed to `memcpy@@GLIBC_2.14`) and for a
   * version needed from another file (`free@GLIBC_2.2.5` in an executable). readelf prints
   * `@` for these and `@@` for the others.
   */
  readonly versionHidden: boolean;
}

/**
 * One relocation. `offset` is relative to the section it applies to in relocatable objects, a
 * virtual address in executables and shared objects (the ELF meaning of r_offset).
 */
export interface ElfRelocation {
  readonly offset: number;
  /** Index into the symbol table the relocation section links to (0: no symbol). */
  readonly symbolIndex: number;
  /** R_BPF_* for BPF objects; machine-specific otherwise. */
  readonly type: number;
  /**
   * The explicit addend of an SHT_RELA entry. 0 for SHT_REL entries, whose addend is implicit:
   * it is stored in the relocated bytes themselves (the instruction's imm field for BPF).
   */
  readonly addend: number;
}

/** One program header. */
export interface ElfSegment {
  readonly index: number;
  /** PT_* */
  readonly type: number;
  /** PF_* */
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: number;
  readonly align: number;
}

/** One note from an SHT_NOTE section. */
export interface ElfNote {
  /** Index of the section the note is in. */
  readonly section: number;
  /** File offset of the note's header. */
  readonly offset: number;
  /** The owner (`GNU`, `stapsdt`), without its terminating NUL. */
  readonly name: string;
  readonly type: number;
  /** The descriptor bytes: a view into the file, not a copy. */
  readonly desc: Uint8Array;
}
