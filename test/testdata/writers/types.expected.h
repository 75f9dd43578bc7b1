#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

typedef unsigned long long __u64;

typedef unsigned int __u32;

enum color {
	RED = 0,
	GREEN = 5,
	BLUE = 6,
};

typedef __u32 my_u32;

typedef my_u32 pid_type;

enum temperature {
	COLD = -10,
	WARM = 20,
};

enum small_kind {
	SMALL_A = 0,
	SMALL_B = 1,
} __attribute__((mode(QI)));

enum big_flags {
	FLAG_LOW = 1ULL,
	FLAG_HIGH = 4294967296ULL,
};

typedef enum {
	MODE_OFF = 0,
	MODE_ON = 1,
} mode_t;

typedef struct {
	int counter;
} my_atomic_t;

typedef unsigned char __u8;

typedef unsigned short __u16;

typedef long long __s64;

union value {
	__u64 u;
	__s64 s;
	double d;
	unsigned char bytes[8];
};

struct packed_hdr {
	__u8 kind;
	__u32 len;
	__u16 port;
} __attribute__((packed));

struct aligned_slot {
	__u64 a;
	int b;
	int: 32;
	long: 64;
	long: 64;
};

struct list_node {
	struct list_node *next;
	struct list_node *prev;
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
	char: 8;
	long: 64;
	long: 64;
	struct aligned_slot slot;
	int matrix[2][3];
	char names[4][8];
	struct list_node *node;
	int (*handler)(struct event *, const char *);
	int (*row)[3];
	const volatile __u32 *status;
	float ratio;
	double mean;
	__int128 huge;
	const char * const labels[2];
	struct list_node nodes[2];
	_Bool ok;
	signed char sc;
	__u8 tail[0];
};

struct work_item;

typedef void (*work_fn)(struct work_item *);

union wide_value {
	__u32 word;
	__u16 half[2];
} __attribute__((aligned(16)));

enum port_kind {
	PORT_LOW = 1,
	PORT_HIGH = 4660,
} __attribute__((mode(HI)));

struct tx;

typedef struct tx tx_t;

struct empty {};

struct tight {
	__u8 tag: 3;
	__u16 span: 10;
	__u64 stamp;
	struct packed_hdr inner;
} __attribute__((packed));

struct gappy {
	char c;
	long: 56;
	long: 64;
	__u64 aligned_member;
	struct tight t;
	int last;
};

struct tx {
	tx_t *next;
	void (*done)(struct tx *, int);
	struct empty marker;
	struct gappy gaps[2];
};

struct work_item {
	work_fn fn;
	union wide_value val;
	enum port_kind port;
	long: 48;
	long: 64;
	tx_t tx;
	struct list_node entries[0];
};

struct event___old {
	__u32 pid;
	char comm[16];
};

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
