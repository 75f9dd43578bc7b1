/**
 * ebpf-ts: eBPF for Node.js.
 */
export * from './errors.js';
export * from './maps/index.js';
export * from './programs/index.js';
export * from './collection/index.js';
export {
  FD,
  MapType,
  ProgType,
  AttachType,
  LinkType,
  UpdateFlags,
  MapFlags,
  MAP_TYPE_NAMES,
  PROG_TYPE_NAMES,
  ATTACH_TYPE_NAMES,
  LINK_TYPE_NAMES,
  removeMemlockLimit,
  possibleCpus,
  possibleCpuCount,
} from './sys/index.js';
