/**
 * Names as libbpf gives them: the object name, and the kernel names of internal maps.
 */
import { basename } from 'node:path';

/** Kernel object names hold at most 15 characters (BPF_OBJ_NAME_LEN - 1). */
export const OBJ_NAME_MAX = 15;

/** libbpf's object name: the file's base name up to its first '.' (`globals.bpf.o` -> `globals`). */
export function objectNameFromPath(path: string): string {
  const b = basename(path);
  const dot = b.indexOf('.');
  return dot < 0 ? b : b.slice(0, dot);
}

/**
 * The kernel name of an internal (global data / kconfig) map, as libbpf's internal_map_name:
 * up to 8 characters of the object name (fewer for suffixes longer than 7) followed by the
 * section name, 15 characters in all; custom sections (`.data.foo`, `.rodata.bar`: a second dot)
 * keep their section name alone. Characters the kernel refuses become '_'.
 */
export function internalMapName(objectName: string, sectionName: string): string {
  let sfxLen = Math.max(7, sectionName.length);
  if (sfxLen >= OBJ_NAME_MAX + 1) sfxLen = OBJ_NAME_MAX;
  const custom = sectionName.indexOf('.', 1) >= 0;
  const pfxLen = custom ? 0 : Math.max(0, Math.min(OBJ_NAME_MAX - sfxLen, objectName.length));
  const name = (objectName.slice(0, pfxLen) + sectionName.slice(0, sfxLen)).slice(0, OBJ_NAME_MAX);
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}
