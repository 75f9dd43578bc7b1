// Fixture for test/btf/writers*: a BPF object whose BTF holds most shapes the C header and
// TypeScript writers must handle (bitfields, unions, anonymous members, packed and aligned
// layouts, enums of every size and sign, typedefs of anonymous types, arrays of every kind,
// function pointers, pointers to arrays, qualifiers, CO-RE flavours, global data, a map).
// Compiled by scripts/build-testdata.sh (npm run testdata), which runs from this directory:
//   clang-19 -O2 -g -target bpfel -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c types.bpf.c -o types.bpf.o
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED, GREEN = 5, BLUE };
enum temperature { COLD = -10, WARM = 20 };
enum big_flags { FLAG_LOW = 1, FLAG_HIGH = 0x100000000ULL };
enum small_kind { SMALL_A, SMALL_B } __attribute__((packed));

typedef struct {
	int counter;
} my_atomic_t;

struct packed_hdr {
	__u8 kind;
	__u32 len;
	__u16 port;
} __attribute__((packed));

typedef enum { MODE_OFF, MODE_ON } mode_t;

typedef __u32 my_u32;
typedef my_u32 pid_type;

struct list_node {
	struct list_node *next, *prev;
};


struct aligned_slot {
	__u64 a;
	int b;
} __attribute__((aligned(32)));

/* Larger than its members: the header needs an alignment attribute. */
union wide_value {
	__u32 word;
	__u16 half[2];
} __attribute__((aligned(16)));

enum port_kind { PORT_LOW = 1, PORT_HIGH = 0x1234 } __attribute__((packed));

/* Packed, with a bitfield straddling bytes and a member that isn't naturally aligned. */
struct tight {
	__u8 tag: 3;
	__u16 span: 10;
	__u64 stamp;
	struct packed_hdr inner;
} __attribute__((packed));

struct gappy {
	char c;
	__u64 aligned_member __attribute__((aligned(16)));
	struct tight t;
	int last;
};

struct empty {};

typedef struct tx tx_t;
struct tx {
	tx_t *next;
	void (*done)(struct tx *tx, int err);
	struct empty marker;
	struct gappy gaps[2];
};

struct work_item;
typedef void (*work_fn)(struct work_item *item);
struct work_item {
	work_fn fn;
	union wide_value val;
	enum port_kind port;
	tx_t tx;
	struct list_node entries[];
};

union value {
	__u64 u;
	__s64 s;
	double d;
	unsigned char bytes[8];
};

struct event {
	pid_type pid;
	my_u32 tid;
	__u64 ts;
	char comm[16];
	unsigned int flags: 3;
	unsigned int level: 5;
	_Bool urgent: 1;
	unsigned long long wide: 40;
	enum color color;
	enum temperature temp;
	enum small_kind small;
	enum big_flags big;
	mode_t mode;
	my_atomic_t refs;
	union {
		__u32 ipv4;
		__u8 ipv6[16];
	};
	struct {
		__u16 sport;
		__u16 dport;
	} ports;
	union value val;
	struct packed_hdr hdr;
	struct aligned_slot slot;
	int matrix[2][3];
	char names[4][8];
	struct list_node *node;
	int (*handler)(struct event *e, const char *why);
	int (*row)[3];
	const volatile __u32 *status;
	float ratio;
	double mean;
	__int128 huge;
	const char *const labels[2];
	struct list_node nodes[2];
	_Bool ok;
	signed char sc;
	__u8 tail[];
};

/* A CO-RE flavour: same C type as far as relocations go, its own name in BTF. */
struct event___old {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event last_event;
struct work_item *pending_work;
int depth_limit = 16;
struct event___old old_event;
__u64 counter = 1;
const volatile __u32 target_pid = 0;
const volatile enum color wanted = GREEN;

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	if (target_pid && e->pid != target_pid) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->color = wanted;
	counter++;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
