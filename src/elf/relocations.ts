/**
 * Relocation sections (SHT_REL, SHT_RELA).
 */

import { ELF64_SYM_SIZE, ET_REL, SHT_NOBITS, SHT_RELA } from './constants.js';
import { type ByteReader, fail, hex } from './reader.js';
import type { ElfSection } from './section.js';
import type { ElfRelocation } from './types.js';

/**
 * Reads one relocation section. ElfFile.parse checked its entsize (16 or 24), that its size is
 * a multiple of it, and that `link` is 0 or a symbol table. In a relocatable object each
 * offset is also checked against the size of the section it patches (`info`).
 */
export function readRelocations(r: ByteReader, sections: readonly ElfSection[], rel: ElfSection, fileType: number): ElfRelocation[] {
  const isRela = rel.type === SHT_RELA;
  const entsize = rel.entsize;
  const count = rel.size / entsize;
  const symbolCount = rel.link === 0 ? 1 : sections[rel.link]!.size / ELF64_SYM_SIZE;
  const target = fileType === ET_REL && rel.info !== 0 ? sections[rel.info]! : undefined;
  if (target && target.type === SHT_NOBITS && count > 0) {
    fail(`relocation section [${rel.index}] ${rel.name} applies to [${target.index}] ${target.name}, which has no contents (SHT_NOBITS)`, rel.offset);
  }
  // r_info packs the symbol index in its high 32 bits and the type in its low 32 bits: which
  // word comes first depends on the byte order.
  const symWord = r.le ? 12 : 8;
  const typeWord = r.le ? 8 : 12;
  const out: ElfRelocation[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const off = rel.offset + i * entsize;
    const offset = r.u64lossy(off);
    if (offset > Number.MAX_SAFE_INTEGER) fail(`relocation ${i} in [${rel.index}] ${rel.name}: r_offset ${hex(r.u64big(off))} is too large`, off);
    const symbolIndex = r.u32(off + symWord);
    if (symbolIndex >= symbolCount) {
      fail(`relocation ${i} in [${rel.index}] ${rel.name} refers to symbol ${symbolIndex}, but the symbol table has ${symbolCount} entries`, off + 8);
    }
    if (target && offset >= target.size) {
      fail(`relocation ${i} in [${rel.index}] ${rel.name} patches offset ${offset}, past the end of [${target.index}] ${target.name} (${target.size} bytes)`, off);
    }
    out[i] = {
      offset,
      symbolIndex,
      type: r.u32(off + typeWord),
      addend: isRela ? r.i64(off + 16, 'r_addend') : 0,
    };
  }
  return out;
}

/** The relocations sorted by offset (stable): the array itself when already sorted, as usual. */
export function sortedByOffset(relocs: readonly ElfRelocation[]): readonly ElfRelocation[] {
  for (let i = 1; i < relocs.length; i++) {
    if (relocs[i - 1]!.offset > relocs[i]!.offset) return [...relocs].sort((a, b) => a.offset - b.offset);
  }
  return relocs;
}
