/**
 * Collections: BPF ELF objects loaded the way libbpf loads them.
 *
 *   const spec = loadCollectionSpec('prog.bpf.o');          // parse: pure, deterministic
 *   spec.setConstant('min_pid', 100);                         // .rodata, typed through BTF
 *   spec.map('events').maxEntries = 1024;                     // edit before load
 *   spec.program('debug_prog').autoload = false;
 *   using col = loadCollection(spec, { pinPath: '/sys/fs/bpf/myapp' });
 *   col.program('handle_exec').testRun({ ... });
 *   col.variable('hits').get();                               // .bss through mmap
 *
 * CollectionSpec.fromELF / loadCollectionSpec parse (no kernel); loadCollection creates the
 * maps and loads the programs into a Collection, which owns every fd.
 */
export * from './types.js';
export { CollectionSpec, VariableSpec, loadCollectionSpec, type CollectionSpecOptions } from './spec.js';
export { SECTION_DEFS, SecFlags, lookupSection, sectionMatches, type SectionDef, type SectionInfo } from './sections.js';
export { internalMapName, objectNameFromPath } from './naming.js';
export { decodeValue, encodeValue } from './values.js';
export { MAX_DATA_SECTION_SIZE, MAX_KCONFIG_SIZE } from './elf.js';
export {
  Collection,
  DEFAULT_PIN_PATH,
  PinnedMapMismatchError,
  POISON_CALL_KFUNC_BASE,
  loadCollection,
  type CollectionOptions,
  type CollectionVariable,
} from './load.js';
export { kernelVersionCode, parseKernelRelease, parseKconfig } from './kernel.js';
export { probeBtfFeatures, probeMmapableArrays } from './features.js';
