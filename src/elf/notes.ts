/**
 * Note sections (SHT_NOTE): `.note.gnu.build-id`, `.note.stapsdt` (USDT probes), ...
 */

import { type ByteReader, decodeString, fail } from './reader.js';
import type { ElfSection } from './section.js';
import type { ElfNote } from './types.js';

const NOTE_HEADER_SIZE = 12; // namesz, descsz, type: three 32-bit words, in ELF64 too

/**
 * Reads every note of an SHT_NOTE section.
 *
 * Name and descriptor are padded to 4 bytes, even in ELF64 where the gABI says 8: every
 * producer pads to 4 except in sections aligned to 8 (.note.gnu.property), which pad to 8.
 * Readers (binutils, LLVM) key the padding on the section's alignment, and so does this one.
 */
export function readNotes(r: ByteReader, section: ElfSection): ElfNote[] {
  const align = section.addralign === 8 ? 8 : 4;
  // Arithmetic, not bit masks: offsets in files over 2 GiB exceed 32-bit bitwise operators.
  const pad = (n: number) => n + ((align - (n % align)) % align);
  const size = section.size;
  const out: ElfNote[] = [];
  let pos = 0;
  // Each note takes at least its 12-byte header, so the loop ends within size / 12 steps.
  while (pos < size) {
    const at = section.offset + pos;
    if (size - pos < NOTE_HEADER_SIZE) fail(`truncated note header in [${section.index}] ${section.name}`, at);
    const namesz = r.u32(at);
    const descsz = r.u32(at + 4);
    const type = r.u32(at + 8);
    const nameStart = pos + NOTE_HEADER_SIZE;
    if (namesz > size - nameStart) fail(`note name (${namesz} bytes) runs past the end of [${section.index}] ${section.name}`, at);
    const descStart = pad(nameStart + namesz);
    if (descStart > size || descsz > size - descStart) {
      fail(`note descriptor (${descsz} bytes) runs past the end of [${section.index}] ${section.name}`, at + 4);
    }
    // namesz counts the terminating NUL; stop at the first NUL in case of extra padding.
    const nameBytes = r.bytes.subarray(section.offset + nameStart, section.offset + nameStart + namesz);
    const nul = nameBytes.indexOf(0);
    const name = decodeString(nameBytes, 0, nul < 0 ? namesz : nul);
    const descAt = section.offset + descStart;
    out.push({ section: section.index, offset: at, name, type, desc: r.bytes.subarray(descAt, descAt + descsz) });
    // The last note's padding may be missing: stop at the end instead of failing.
    pos = Math.min(pad(descStart + descsz), size);
  }
  return out;
}
