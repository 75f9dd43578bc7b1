// One trivial program per section family of libbpf's table that loads without an attach
// target on this kernel: the loader must derive each program's type, expected attach type
// and flags from its section name as libbpf does (the tags are compared with bpftool's).
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c sections.bpf.c -o sections.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PROG(sec, name, ret) SEC(sec) int name(void *ctx) { return ret; }

PROG("socket", p00_socket, 0)
PROG("sk_reuseport", p01_sk_reuseport, 1)
PROG("kprobe/do_unlinkat", p02_kprobe_do_unlinkat, 0)
PROG("kretprobe/do_unlinkat", p03_kretprobe_do_unlinka, 0)
PROG("uprobe//bin/true:main", p04_uprobe__bin_true_mai, 0)
PROG("uretprobe//bin/true:main", p05_uretprobe__bin_true_, 0)
PROG("uprobe.s//bin/true:main", p06_uprobe_s__bin_true_m, 0)
PROG("ksyscall/openat", p07_ksyscall_openat, 0)
PROG("kretsyscall/openat", p08_kretsyscall_openat, 0)
PROG("usdt", p09_usdt, 0)
PROG("tc", p10_tc, 0)
PROG("classifier", p11_classifier, 0)
PROG("action", p12_action, 0)
PROG("tracepoint/syscalls/sys_enter_openat", p13_tracepoint_syscalls_, 0)
PROG("tp/sched/sched_switch", p14_tp_sched_sched_switc, 0)
PROG("raw_tracepoint/sched_switch", p15_raw_tracepoint_sched, 0)
PROG("raw_tp.w/sched_switch", p16_raw_tp_w_sched_switc, 0)
PROG("syscall", p17_syscall, 0)
PROG("xdp", p18_xdp, 2)
PROG("xdp.frags", p19_xdp_frags, 2)
PROG("xdp/devmap", p20_xdp_devmap, 2)
PROG("xdp/cpumap", p21_xdp_cpumap, 2)
PROG("perf_event", p22_perf_event, 0)
PROG("lwt_in", p23_lwt_in, 0)
PROG("lwt_out", p24_lwt_out, 0)
PROG("lwt_xmit", p25_lwt_xmit, 0)
PROG("sockops", p26_sockops, 1)
PROG("sk_skb/stream_parser", p27_sk_skb_stream_parser, 0)
PROG("sk_skb/stream_verdict", p28_sk_skb_stream_verdic, 1)
PROG("sk_skb", p29_sk_skb, 1)
PROG("sk_msg", p30_sk_msg, 1)
PROG("flow_dissector", p31_flow_dissector, 0)
PROG("cgroup_skb/ingress", p32_cgroup_skb_ingress, 1)
PROG("cgroup_skb/egress", p33_cgroup_skb_egress, 1)
PROG("cgroup/skb", p34_cgroup_skb, 1)
PROG("cgroup/sock_create", p35_cgroup_sock_create, 1)
PROG("cgroup/sock_release", p36_cgroup_sock_release, 1)
PROG("cgroup/sock", p37_cgroup_sock, 1)
PROG("cgroup/post_bind4", p38_cgroup_post_bind4, 1)
PROG("cgroup/post_bind6", p39_cgroup_post_bind6, 1)
PROG("cgroup/bind4", p40_cgroup_bind4, 1)
PROG("cgroup/bind6", p41_cgroup_bind6, 1)
PROG("cgroup/connect4", p42_cgroup_connect4, 1)
PROG("cgroup/connect6", p43_cgroup_connect6, 1)
PROG("cgroup/sendmsg4", p44_cgroup_sendmsg4, 1)
PROG("cgroup/sendmsg6", p45_cgroup_sendmsg6, 1)
PROG("cgroup/recvmsg4", p46_cgroup_recvmsg4, 1)
PROG("cgroup/recvmsg6", p47_cgroup_recvmsg6, 1)
PROG("cgroup/getpeername4", p48_cgroup_getpeername4, 1)
PROG("cgroup/getsockname6", p49_cgroup_getsockname6, 1)
PROG("cgroup/sysctl", p50_cgroup_sysctl, 1)
PROG("cgroup/getsockopt", p51_cgroup_getsockopt, 1)
PROG("cgroup/setsockopt", p52_cgroup_setsockopt, 1)
PROG("cgroup/dev", p53_cgroup_dev, 1)
PROG("sk_lookup", p54_sk_lookup, 1)

char LICENSE[] SEC("license") = "GPL";
