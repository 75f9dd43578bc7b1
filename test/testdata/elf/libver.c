// Fixture for test/elf: a tiny x86-64 shared library with GNU symbol versions: two versions of
// `lookup` (lookup@VER_1 hidden, lookup@@VER_2 default), a data symbol and a .bss symbol, so
// the dynamic symbol table, version sections and program headers can be tested (and fuzzed)
// without depending on the system's libc. Built from this directory with GNU ld:
//   clang-19 -O2 -fno-ident -fPIC -shared -nostdlib -Wl,--version-script=libver.map -Wl,--build-id=none -Wl,-z,noseparate-code -Wl,-z,max-page-size=4096 -Wl,--hash-style=gnu libver.c -o libver.x86_64.so

__asm__(".symver lookup_v1, lookup@VER_1");
__asm__(".symver lookup_v2, lookup@@VER_2");

int lookup_v1(int x) { return x + 1; }
int lookup_v2(int x) { return x * 2 + 1; }

int table[4] = {1, 2, 3, 4};
long scratch[64];

int answer(void) { return 42; }
