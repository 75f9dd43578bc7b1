/*
 * ebpf-ts native addon: the only C in the project.
 *
 * A deliberately tiny surface with no policy: raw syscalls on caller-owned buffers,
 * mmap as detachable external ArrayBuffers, and fd readiness through libuv's uv_poll_t.
 * Every call returns a non-negative result or -errno; TypeScript (src/sys) decides what
 * an errno means. Nothing here allocates per call on the hot paths (bpf on the registered
 * scratch buffer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"

#define CHECK(env, call)                                                      \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      napi_throw_error((env), "EBPF_NATIVE", "napi call failed: " #call);     \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (v >= INT32_MIN && v <= INT32_MAX) {
    napi_create_int32(env, (int32_t)v, &out);
  } else {
    napi_create_double(env, (double)v, &out);
  }
  return out;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* Pointer and length of an ArrayBuffer, TypedArray or DataView. Resolving the pointer
 * materialises V8's on-heap typed arrays off-heap, so it stays valid while the buffer lives. */
int ebpf_get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t;
    size_t n, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &t, &n, data, &ab, &off) != napi_ok) return -1;
    size_t el = 1;
    switch (t) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: el = 1;
    }
    *len = n * el;
    return 0;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t off;
    return napi_get_dataview_info(env, v, len, data, &ab, &off) == napi_ok ? 0 : -1;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  }
  return -1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok ? 0 : -1;
  }
  if (t == napi_number) {
    return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
  }
  return -1;
}

/* bpf(cmd, attr[, size]) -> result or -errno. attr is caller-owned; size defaults to its length. */
static napi_value js_bpf(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "bpf(cmd, attr[, size])");
  int32_t cmd;
  CHECK(env, napi_get_value_int32(env, argv[0], &cmd));
  void *attr;
  size_t len;
  if (ebpf_get_bytes(env, argv[1], &attr, &len) != 0) return throw_type(env, "attr must be an ArrayBuffer view");
  if (argc >= 3) {
    uint32_t size;
    CHECK(env, napi_get_value_uint32(env, argv[2], &size));
    if (size > len) return throw_type(env, "size exceeds attr buffer");
    len = size;
  }
  long r = syscall(__NR_bpf, cmd, attr, (unsigned int)len);
  return make_int(env, r < 0 ? -errno : r);
}

/* The registered request buffer, its pointer resolved once, so that the hot path (map lookups
 * and updates) passes nothing across the N-API boundary. Kept per napi_env (instance data),
 * so that worker threads each have their own. */
typedef struct {
  void *scratch_ptr;
  size_t scratch_len;
  napi_ref scratch_ref;
} instance_t;

/* The instance of the environment running on this thread, for bpfRequest (below): set when
 * the request buffer is registered. Node runs each environment (main thread, each worker) on a
 * thread of its own, so a thread-local finds the right one without napi_get_cb_info.
 * initial-exec: one load from the thread pointer, where the default model for a dlopen'ed
 * object calls __tls_get_addr on every access (8 bytes of glibc's static TLS reserve). */
static __thread instance_t *thread_instance __attribute__((tls_model("initial-exec")));

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  instance_t *in = data;
  if (thread_instance == in) thread_instance = NULL;
  if (in->scratch_ref) napi_delete_reference(env, in->scratch_ref);
  free(in);
}

static napi_value js_set_scratch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  instance_t *in;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&in));
  bool is;
  CHECK(env, napi_is_arraybuffer(env, argv[0], &is));
  if (!is) return throw_type(env, "setScratch(arrayBuffer)");
  if (in->scratch_ref) {
    napi_delete_reference(env, in->scratch_ref);
    in->scratch_ref = NULL;
  }
  CHECK(env, napi_get_arraybuffer_info(env, argv[0], &in->scratch_ptr, &in->scratch_len));
  CHECK(env, napi_create_reference(env, argv[0], 1, &in->scratch_ref));
  thread_instance = in;
  napi_value out;
  CHECK(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)in->scratch_ptr, &out));
  return out;
}

/* Where bpfRequest finds its command and leaves its result in the request buffer: after the
 * largest bpf_attr (168 bytes on 6.18), before the key region at 256. */
#define REQUEST_OP_OFFSET 240
#define REQUEST_RESULT_OFFSET 244

/* bpfRequest(): bpf() with attr at the start of the registered buffer, for the element
 * operations (map lookups and updates), where N-API's own work is a measurable share of a
 * ~400 ns syscall: no arguments and no return value. The caller writes
 * `cmd | size << 8` as a u32 at REQUEST_OP_OFFSET of the registered buffer; the result (or
 * -errno) is left as an i32 at REQUEST_RESULT_OFFSET. No napi call at all: the buffer comes
 * from the thread's instance, and returning NULL gives JS undefined. */
static napi_value js_bpf_request(napi_env env, napi_callback_info info) {
  (void)info;
  instance_t *in = thread_instance;
  if (!in || !in->scratch_ptr || in->scratch_len < 256) return throw_type(env, "bpfRequest: no request buffer registered on this thread");
  uint8_t *base = in->scratch_ptr;
  uint32_t packed;
  memcpy(&packed, base + REQUEST_OP_OFFSET, sizeof packed);
  uint32_t cmd = packed & 0xff, size = packed >> 8;
  int32_t result;
  if (size > REQUEST_OP_OFFSET) {
    result = -E2BIG;
  } else {
    long r = syscall(__NR_bpf, cmd, base, size);
    result = r < 0 ? -errno : (int32_t)r;
  }
  memcpy(base + REQUEST_RESULT_OFFSET, &result, sizeof result);
  return NULL;
}

/* addressOf(view) -> bigint: the address of a buffer's first byte, for pointer fields in
 * bpf_attr and perf_event_attr. Valid only while the buffer is alive and reachable. */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p;
  size_t len;
  if (argc < 1 || ebpf_get_bytes(env, argv[0], &p, &len) != 0) return throw_type(env, "addressOf(view)");
  napi_value out;
  CHECK(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &out));
  return out;
}

/* perfEventOpen(attr, pid, cpu, groupFd, flags) -> fd or -errno */
static napi_value js_perf_event_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "perfEventOpen(attr, pid, cpu, groupFd, flags)");
  void *attr;
  size_t len;
  if (ebpf_get_bytes(env, argv[0], &attr, &len) != 0) return throw_type(env, "attr must be an ArrayBuffer view");
  int32_t pid, cpu, group;
  uint32_t flags;
  CHECK(env, napi_get_value_int32(env, argv[1], &pid));
  CHECK(env, napi_get_value_int32(env, argv[2], &cpu));
  CHECK(env, napi_get_value_int32(env, argv[3], &group));
  CHECK(env, napi_get_value_uint32(env, argv[4], &flags));
  long r = syscall(__NR_perf_event_open, attr, pid, cpu, group, flags);
  return make_int(env, r < 0 ? -errno : r);
}

/* ioctl(fd, request, arg) -> result or -errno; arg is an integer (number/bigint) or a buffer. */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t req;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  if (get_i64(env, argv[1], &req) != 0) return throw_type(env, "request must be a number or bigint");
  unsigned long arg = 0;
  if (argc >= 3) {
    int64_t iv;
    void *p;
    size_t len;
    if (get_i64(env, argv[2], &iv) == 0) {
      arg = (unsigned long)iv;
    } else if (ebpf_get_bytes(env, argv[2], &p, &len) == 0) {
      arg = (unsigned long)(uintptr_t)p;
    } else {
      return throw_type(env, "arg must be an integer or a buffer");
    }
  }
  int r = ioctl(fd, (unsigned long)req, arg);
  return make_int(env, r < 0 ? -errno : r);
}

/* pidfdOpen(pid, flags) -> fd or -errno: a pidfd, the key of task local storage maps (5.3+). */
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t pid;
  uint32_t flags = 0;
  CHECK(env, napi_get_value_int32(env, argv[0], &pid));
  if (argc >= 2) CHECK(env, napi_get_value_uint32(env, argv[1], &flags));
#ifdef __NR_pidfd_open
  long r = syscall(__NR_pidfd_open, pid, flags);
  return make_int(env, r < 0 ? -errno : r);
#else
  return make_int(env, -ENOSYS);
#endif
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  int r = close(fd);
  return make_int(env, r < 0 ? -errno : 0);
}

/* A mapping shared by the ArrayBuffer and its finalizer, so that an explicit munmap and a
 * later garbage collection never unmap twice. */
typedef struct {
  void *addr;
  size_t len;
  int mapped;
} mapping_t;

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping_t *m = hint;
  if (m->mapped) munmap(m->addr, m->len);
  free(m);
}

/* mmap(fd, length, prot, flags, offset) -> external ArrayBuffer, or -errno */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, prot, flags;
  int64_t len, off;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  CHECK(env, napi_get_value_int64(env, argv[1], &len));
  CHECK(env, napi_get_value_int32(env, argv[2], &prot));
  CHECK(env, napi_get_value_int32(env, argv[3], &flags));
  CHECK(env, napi_get_value_int64(env, argv[4], &off));
  if (len <= 0) return make_int(env, -EINVAL);
  void *p = mmap(NULL, (size_t)len, prot, flags, fd, (off_t)off);
  if (p == MAP_FAILED) return make_int(env, -errno);
  mapping_t *m = malloc(sizeof *m);
  if (!m) {
    munmap(p, (size_t)len);
    return make_int(env, -ENOMEM);
  }
  m->addr = p;
  m->len = (size_t)len;
  m->mapped = 1;
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, p, (size_t)len, mapping_finalize, m, &ab);
  if (st != napi_ok) {
    munmap(p, (size_t)len);
    free(m);
    napi_throw_error(env, "EBPF_NATIVE", "napi_create_external_arraybuffer failed (V8 sandbox?)");
    return NULL;
  }
  /* Remember the mapping on the buffer so munmap can find it without trusting the caller. */
  napi_value ext;
  CHECK(env, napi_create_external(env, m, NULL, NULL, &ext));
  napi_property_descriptor d = {"__ebpfMapping", NULL, NULL, NULL, NULL, ext, napi_default, NULL};
  CHECK(env, napi_define_properties(env, ab, 1, &d));
  return ab;
}

/* munmap(arrayBuffer) -> 0 or -errno. Detaches the buffer first: every view on it becomes
 * zero-length, so no view can outlive the mapping. Idempotent. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is;
  CHECK(env, napi_is_arraybuffer(env, argv[0], &is));
  if (!is) return throw_type(env, "munmap(arrayBuffer)");
  napi_value ext;
  bool has;
  CHECK(env, napi_has_named_property(env, argv[0], "__ebpfMapping", &has));
  if (!has) return throw_type(env, "munmap: not a buffer returned by mmap");
  CHECK(env, napi_get_named_property(env, argv[0], "__ebpfMapping", &ext));
  mapping_t *m;
  CHECK(env, napi_get_value_external(env, ext, (void **)&m));
  if (!m->mapped) return make_int(env, 0);
  CHECK(env, napi_detach_arraybuffer(env, argv[0]));
  m->mapped = 0;
  int r = munmap(m->addr, m->len);
  return make_int(env, r < 0 ? -errno : 0);
}

/* setrlimit(resource, cur, max) with bigint or number limits; -1 means RLIM_INFINITY. */
static napi_value js_setrlimit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t res;
  int64_t cur, max;
  CHECK(env, napi_get_value_int32(env, argv[0], &res));
  if (get_i64(env, argv[1], &cur) != 0 || get_i64(env, argv[2], &max) != 0) return throw_type(env, "limits must be integers");
  struct rlimit rl = {cur < 0 ? RLIM_INFINITY : (rlim_t)cur, max < 0 ? RLIM_INFINITY : (rlim_t)max};
  int r = setrlimit(res, &rl);
  return make_int(env, r < 0 ? -errno : 0);
}

/* getrlimit(resource) -> [cur, max] as bigints (RLIM_INFINITY as -1n), or -errno */
static napi_value js_getrlimit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t res;
  CHECK(env, napi_get_value_int32(env, argv[0], &res));
  struct rlimit rl;
  if (getrlimit(res, &rl) < 0) return make_int(env, -errno);
  napi_value arr, a, b;
  CHECK(env, napi_create_array_with_length(env, 2, &arr));
  CHECK(env, napi_create_bigint_int64(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur, &a));
  CHECK(env, napi_create_bigint_int64(env, rl.rlim_max == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_max, &b));
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

/* ---- fd readiness through libuv: no threads, no busy loop ---- */

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_ref self; /* keeps the JS handle object alive while the poll is active */
  int active;
  int closing;
} poller_t;

static void poller_on_close(uv_handle_t *h) {
  poller_t *p = (poller_t *)h;
  free(p);
}

static void poller_on_event(uv_poll_t *h, int status, int events) {
  poller_t *p = (poller_t *)h;
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, argv[2], result;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && cb) {
    napi_get_global(env, &global);
    napi_create_int32(env, status, &argv[0]);
    napi_create_int32(env, events, &argv[1]);
    /* napi_make_callback runs microtasks afterwards, so awaiting readers resume promptly. */
    napi_async_context ctx = NULL;
    napi_value resource_name;
    napi_create_string_utf8(env, "ebpf-ts:poll", NAPI_AUTO_LENGTH, &resource_name);
    if (napi_async_init(env, NULL, resource_name, &ctx) == napi_ok) {
      napi_status st = napi_make_callback(env, ctx, global, cb, 2, argv, &result);
      napi_async_destroy(env, ctx);
      if (st == napi_pending_exception) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poller_release(napi_env env, poller_t *p) {
  if (p->closing) return;
  p->closing = 1;
  if (p->active) uv_poll_stop(&p->handle);
  p->active = 0;
  if (p->callback) napi_delete_reference(env, p->callback);
  if (p->self) napi_delete_reference(env, p->self);
  p->callback = NULL;
  p->self = NULL;
  uv_close((uv_handle_t *)&p->handle, poller_on_close);
}

/* pollStart(fd, events, callback(status, events)) -> handle object. events: 1 readable,
 * 2 writable, 4 disconnect (UV_READABLE...). The handle must be stopped with pollStop. */
static napi_value js_poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, events;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  CHECK(env, napi_get_value_int32(env, argv[1], &events));
  napi_valuetype t;
  CHECK(env, napi_typeof(env, argv[2], &t));
  if (t != napi_function) return throw_type(env, "callback must be a function");
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  poller_t *p = calloc(1, sizeof *p);
  if (!p) return make_int(env, -ENOMEM);
  p->env = env;
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
    free(p);
    return make_int(env, r); /* libuv errors are -errno on Linux */
  }
  r = uv_poll_start(&p->handle, events, poller_on_event);
  if (r < 0) {
    uv_close((uv_handle_t *)&p->handle, poller_on_close);
    return make_int(env, r);
  }
  p->active = 1;
  napi_value obj;
  CHECK(env, napi_create_object(env, &obj));
  CHECK(env, napi_wrap(env, obj, p, NULL, NULL, NULL));
  CHECK(env, napi_create_reference(env, argv[2], 1, &p->callback));
  CHECK(env, napi_create_reference(env, obj, 1, &p->self));
  return obj;
}

/* pollStop(handle): stops and releases the poll handle; idempotent. */
static napi_value js_poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  poller_t *p = NULL;
  if (napi_remove_wrap(env, argv[0], (void **)&p) != napi_ok || !p) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    return undef; /* already stopped */
  }
  poller_release(env, p);
  return make_int(env, 0);
}

static napi_value init(napi_env env, napi_value exports) {
  instance_t *in = calloc(1, sizeof *in);
  if (!in) return NULL;
  CHECK(env, napi_set_instance_data(env, in, instance_finalize, NULL));
  napi_property_descriptor props[] = {
      {"bpf", NULL, js_bpf, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setScratch", NULL, js_set_scratch, NULL, NULL, NULL, napi_enumerable, in},
      {"bpfRequest", NULL, js_bpf_request, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addressOf", NULL, js_address_of, NULL, NULL, NULL, napi_enumerable, NULL},
      {"perfEventOpen", NULL, js_perf_event_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctl", NULL, js_ioctl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mmap", NULL, js_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"munmap", NULL, js_munmap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setrlimit", NULL, js_setrlimit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getrlimit", NULL, js_getrlimit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, js_poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStop", NULL, js_poll_stop, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  CHECK(env, ebpf_net_init(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
