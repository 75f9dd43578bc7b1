/**
 * bpf2ts: typed TypeScript bindings for BPF C programs (the `bpf2ts` command, and its parts
 * for build scripts). `ebpf-ts/bpf2ts`.
 *
 *   runBpf2ts({ name: 'execsnoop', source: 'execsnoop.bpf.c', ringbuf: [['events', 'event']] });
 *   // writes execsnoop.bpf.o and execsnoop.ts
 *
 * The generated modules call the run-time half, runtime.ts, re-exported by `ebpf-ts` as
 * `bpf2ts`.
 */
export { main, parseArgs, runBpf2ts, USAGE, type Bpf2tsOptions, type Bpf2tsResult, type CliIo } from './cli.js';
export { compile, clangArgs, findCompiler, findStrip, nativeTarget, CompileError, DEFAULT_CC, type CompileOptions, type CompileResult, type Target } from './compile.js';
export { generateBindings, type GenerateOptions, type GenerateResult } from './generate.js';
export { Bpf2tsError } from './errors.js';
export { camelCase, pascalCase } from './names.js';
