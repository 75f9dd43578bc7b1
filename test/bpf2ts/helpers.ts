/**
 * Helpers of the bpf2ts tests: a scratch project that resolves `ebpf-ts` as a user's would
 * (node_modules/ebpf-ts links to this checkout, whose dist/ the tests run from), and tsc.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { which } from '../../src/bpf2ts/compile.js';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const testdata = join(root, 'test/testdata');
export const tsc = join(root, 'node_modules/.bin/tsc');
export const cli = join(root, 'bin/bpf2ts.js');

/** Why tests that run clang-19 are skipped, or undefined. */
export function clangSkipReason(): string | undefined {
  if (!which('clang-19')) return 'clang-19 is not installed (Debian package clang-19): bpf2ts compiles with it';
  if (!which('llvm-strip-19') && !which('llvm-objcopy-19')) return 'llvm-strip-19 is not installed (Debian package llvm-19)';
  return undefined;
}

export interface Workspace {
  dir: string;
  /** Runs tsc --strict on `files` (relative to dir); emits .js into dir/out unless noEmit. */
  tsc(files: string[], options?: { noEmit?: boolean; libCheck?: boolean }): { status: number | null; output: string };
  /** The URL of a compiled module in out/. */
  url(file: string): string;
  remove(): void;
}

/** A scratch directory with node_modules/ebpf-ts (this checkout) and @types (node's). */
export function workspace(prefix = 'bpf2ts-test-'): Workspace {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'ebpf-ts'));
  symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bpf2ts-user', private: true, type: 'module' }) + '\n');
  return {
    dir,
    tsc(files, options = {}) {
      const config = {
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'esnext.disposable'],
          types: ['node'],
          rootDir: '.',
          outDir: 'out',
          noEmit: options.noEmit ?? false,
          // libCheck: the library's declarations too, as a user's build without skipLibCheck
          // would (once is enough: it doubles tsc's time).
          skipLibCheck: !options.libCheck,
        },
        files,
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
      const r = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
      return { status: r.status, output: r.stdout + r.stderr };
    },
    url(file) {
      return pathToFileURL(join(dir, 'out', file)).href;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A C string out of a byte array (up to the first NUL). */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('utf8');
}
