/**
 * ebpf-ts/elf: a pure ELF64 reader (no syscalls, no file system access) for relocatable BPF
 * objects, and for the executables and shared libraries that uprobes and USDT probes attach to.
 *
 *   const elf = ElfFile.parse(bytes);
 *   elf.assertNativeByteOrder();
 *   for (const s of elf.sections) if (s.hasFlags(SHF_EXECINSTR)) elf.relocationsFor(s.index);
 *
 * Malformed input raises FormatError with code 'ERR_ELF'.
 */

export * from './constants.js';
export { ElfFile, HOST_LITTLE_ENDIAN } from './file.js';
export { ElfSection } from './section.js';
export type { ElfNote, ElfRelocation, ElfSegment, ElfSymbol } from './types.js';
