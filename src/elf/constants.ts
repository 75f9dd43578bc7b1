/**
 * ELF constants (System V gABI, glibc's <elf.h>, LLVM's ELF.h for the BPF relocation types).
 * Only the values this project reads or writes are here; the file formats are stable, so
 * these never change.
 */

// e_ident
export const ELFMAG = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46); // "\x7fELF"
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;
export const EI_NIDENT = 16;

export const ELFCLASSNONE = 0;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;

export const ELFDATANONE = 0;
/** Little-endian (what `clang -target bpf` produces on x86-64 and arm64 hosts). */
export const ELFDATA2LSB = 1;
/** Big-endian (`clang -target bpfeb`). */
export const ELFDATA2MSB = 2;

export const EV_CURRENT = 1;

export const ELFOSABI_NONE = 0;
export const ELFOSABI_LINUX = 3; // also ELFOSABI_GNU

// e_type
export const ET_NONE = 0;
/** Relocatable object: what clang emits for BPF programs. */
export const ET_REL = 1;
export const ET_EXEC = 2;
/** Shared object, and position-independent executables. */
export const ET_DYN = 3;
export const ET_CORE = 4;

// e_machine
export const EM_NONE = 0;
export const EM_386 = 3;
export const EM_ARM = 40;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_BPF = 247;

// Structure sizes in ELF64.
export const ELF64_EHDR_SIZE = 64;
export const ELF64_SHDR_SIZE = 64;
export const ELF64_PHDR_SIZE = 56;
export const ELF64_SYM_SIZE = 24;
export const ELF64_REL_SIZE = 16;
export const ELF64_RELA_SIZE = 24;

// Special section indices.
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_LOPROC = 0xff00;
export const SHN_HIPROC = 0xff1f;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
/** The real index lives elsewhere: e_shstrndx in section 0's sh_link, st_shndx in SHT_SYMTAB_SHNDX. */
export const SHN_XINDEX = 0xffff;
export const SHN_HIRESERVE = 0xffff;

/** e_phnum value meaning "the real count is in section 0's sh_info". */
export const PN_XNUM = 0xffff;

// sh_type
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_SHLIB = 10;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

// sh_flags. Every defined flag lives in the low 32 bits (see ElfSection.flags).
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHF_INFO_LINK = 0x40;
export const SHF_LINK_ORDER = 0x80;
export const SHF_OS_NONCONFORMING = 0x100;
export const SHF_GROUP = 0x200;
export const SHF_TLS = 0x400;
export const SHF_COMPRESSED = 0x800;
export const SHF_EXCLUDE = 0x80000000;

// Symbol types (low nibble of st_info).
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

// Symbol bindings (high nibble of st_info).
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;

// Symbol visibility (low 2 bits of st_other).
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

// p_type
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

// p_flags
export const PF_X = 0x1;
export const PF_W = 0x2;
export const PF_R = 0x4;

// GNU symbol versioning (.gnu.version entries).
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
/** Set in a .gnu.version entry when the version is not the default one (`sym@VER`, not `sym@@VER`). */
export const VERSYM_HIDDEN = 0x8000;
export const VERSYM_VERSION = 0x7fff;
/** vd_flags bit: the entry names the file itself (its soname), not a version. */
export const VER_FLG_BASE = 0x1;

/**
 * BPF relocation types (LLVM's ELFRelocs/BPF.def; the kernel's Documentation/bpf/llvm_reloc.rst).
 * In SHT_REL sections the addend is implicit: it is read from the relocated bytes.
 */
export const R_BPF_NONE = 0;
/** ld_imm64 (two instruction slots): map references and global data addresses. */
export const R_BPF_64_64 = 1;
/** 64-bit absolute data (DWARF). */
export const R_BPF_64_ABS64 = 2;
/** 32-bit absolute data (DWARF, BTF). */
export const R_BPF_64_ABS32 = 3;
/** 32-bit data that a dynamic loader must not touch (BTF, BTF.ext section offsets). */
export const R_BPF_64_NODYLD32 = 4;
/** The imm field of a call instruction (bpf-to-bpf calls, callbacks). */
export const R_BPF_64_32 = 10;

// Well-known note types.
export const NT_GNU_ABI_TAG = 1;
export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_PROPERTY_TYPE_0 = 5;
/** Type of the notes in `.note.stapsdt` (owner "stapsdt"): USDT probes. */
export const NT_STAPSDT = 3;

const SHT_NAMES: Record<number, string> = {
  [SHT_NULL]: 'SHT_NULL',
  [SHT_PROGBITS]: 'SHT_PROGBITS',
  [SHT_SYMTAB]: 'SHT_SYMTAB',
  [SHT_STRTAB]: 'SHT_STRTAB',
  [SHT_RELA]: 'SHT_RELA',
  [SHT_HASH]: 'SHT_HASH',
  [SHT_DYNAMIC]: 'SHT_DYNAMIC',
  [SHT_NOTE]: 'SHT_NOTE',
  [SHT_NOBITS]: 'SHT_NOBITS',
  [SHT_REL]: 'SHT_REL',
  [SHT_SHLIB]: 'SHT_SHLIB',
  [SHT_DYNSYM]: 'SHT_DYNSYM',
  [SHT_INIT_ARRAY]: 'SHT_INIT_ARRAY',
  [SHT_FINI_ARRAY]: 'SHT_FINI_ARRAY',
  [SHT_PREINIT_ARRAY]: 'SHT_PREINIT_ARRAY',
  [SHT_GROUP]: 'SHT_GROUP',
  [SHT_SYMTAB_SHNDX]: 'SHT_SYMTAB_SHNDX',
  [SHT_LLVM_ADDRSIG]: 'SHT_LLVM_ADDRSIG',
  [SHT_GNU_HASH]: 'SHT_GNU_HASH',
  [SHT_GNU_VERDEF]: 'SHT_GNU_VERDEF',
  [SHT_GNU_VERNEED]: 'SHT_GNU_VERNEED',
  [SHT_GNU_VERSYM]: 'SHT_GNU_VERSYM',
};

/** `SHT_PROGBITS` for 1, `0x70000001` style hex for types without a name here. */
export function sectionTypeName(type: number): string {
  return SHT_NAMES[type] ?? `0x${type.toString(16)}`;
}

const R_BPF_NAMES: Record<number, string> = {
  [R_BPF_NONE]: 'R_BPF_NONE',
  [R_BPF_64_64]: 'R_BPF_64_64',
  [R_BPF_64_ABS64]: 'R_BPF_64_ABS64',
  [R_BPF_64_ABS32]: 'R_BPF_64_ABS32',
  [R_BPF_64_NODYLD32]: 'R_BPF_64_NODYLD32',
  [R_BPF_64_32]: 'R_BPF_64_32',
};

/** `R_BPF_64_64` for 1, and so on; the number itself for unknown types. */
export function bpfRelocationTypeName(type: number): string {
  return R_BPF_NAMES[type] ?? String(type);
}
