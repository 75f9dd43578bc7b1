// Fixture for test/elf: an x86-64 relocatable object with two USDT probes, written the way
// <sys/sdt.h> lays them out (a note per probe in .note.stapsdt, owner "stapsdt", type 3,
// descriptor: probe address, .stapsdt.base address, semaphore address, then provider, name
// and argument strings), without depending on systemtap's header. The notes' addresses come
// with SHT_RELA relocations (explicit addends), and .stapsdt.base with a COMDAT group.
// Compiled from this directory:
//   clang-19 -O2 -fno-ident -target x86_64-linux-gnu -c usdt.c -o usdt.x86_64.o

#define STR(x) #x
#define PROBE(provider, name, sem, args)                                          \
  __asm__ __volatile__("990: nop\n"                                               \
                       ".pushsection .note.stapsdt,\"\",\"note\"\n"               \
                       ".balign 4\n"                                              \
                       ".4byte 992f-991f, 994f-993f, 3\n"                         \
                       "991: .asciz \"stapsdt\"\n"                                \
                       "992: .balign 4\n"                                         \
                       "993: .8byte 990b\n"                                       \
                       ".8byte _.stapsdt.base\n"                                  \
                       ".8byte " sem "\n"                                         \
                       ".asciz \"" STR(provider) "\"\n"                           \
                       ".asciz \"" STR(name) "\"\n"                               \
                       ".asciz \"" args "\"\n"                                    \
                       "994: .balign 4\n"                                         \
                       ".popsection\n"                                            \
                       ".ifndef _.stapsdt.base\n"                                 \
                       ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
                       ".weak _.stapsdt.base\n"                                   \
                       ".hidden _.stapsdt.base\n"                                 \
                       "_.stapsdt.base: .space 1\n"                               \
                       ".size _.stapsdt.base, 1\n"                                \
                       ".popsection\n"                                            \
                       ".endif\n")

__attribute__((section(".probes"))) unsigned short fixture_request_semaphore;

int handle_request(int id) {
  PROBE(fixture, request__start, "fixture_request_semaphore", "-4@%edi");
  int r = id * 3 + 1;
  PROBE(fixture, request__done, "0", "-4@%edi -4@%eax");
  return r;
}

long counter;
