/*
 * ebpf-ts native addon: socket calls, for netlink (XDP and TC attachment on kernels or drivers
 * without BPF links, `net` listings) and socket options (SO_ATTACH_BPF, SO_DETACH_BPF,
 * SO_ATTACH_REUSEPORT_EBPF). Same rules as ebpf.c: raw syscalls on caller-owned buffers, no
 * policy, every call returns a non-negative result or -errno.
 *
 * Wiring (one line each): call ebpf_net_init(env, exports) from init() in ebpf.c, and add
 * "native/net.c" to "sources" in binding.gyp.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

napi_status ebpf_net_init(napi_env env, napi_value exports);

static napi_value net_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static napi_value net_type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* Pointer and length of a TypedArray, DataView or ArrayBuffer; NULL/0 for null or undefined.
 * Returns -1 for anything else. */
static int net_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 0;
  }
  return ebpf_get_bytes(env, v, data, len);
}

static int net_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return (int)argc;
}

static int net_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

/* socket(domain, type, protocol) -> fd (close-on-exec) or -errno. */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t domain, type, protocol;
  if (net_args(env, info, 3, argv) < 3 || net_i32(env, argv[0], &domain) || net_i32(env, argv[1], &type) ||
      net_i32(env, argv[2], &protocol))
    return net_type_error(env, "socket(domain, type, protocol)");
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  return net_int(env, fd < 0 ? -errno : fd);
}

/* bind(fd, sockaddr bytes) -> 0 or -errno. */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void *addr;
  size_t len;
  if (net_args(env, info, 2, argv) < 2 || net_i32(env, argv[0], &fd) || net_bytes(env, argv[1], &addr, &len))
    return net_type_error(env, "bind(fd, addr)");
  int r = bind(fd, (const struct sockaddr *)addr, (socklen_t)len);
  return net_int(env, r < 0 ? -errno : r);
}

/* sendto(fd, buf, flags, addr|null) -> bytes sent or -errno. */
static napi_value js_sendto(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, flags = 0;
  void *buf, *addr;
  size_t len, alen;
  if (net_args(env, info, 4, argv) < 2 || net_i32(env, argv[0], &fd) || net_bytes(env, argv[1], &buf, &len) ||
      net_bytes(env, argv[3], &addr, &alen))
    return net_type_error(env, "sendto(fd, buf, flags, addr)");
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_number && net_i32(env, argv[2], &flags)) return net_type_error(env, "sendto: flags");
  ssize_t r;
  do {
    r = sendto(fd, buf, len, flags, (const struct sockaddr *)addr, (socklen_t)alen);
  } while (r < 0 && errno == EINTR);
  return net_int(env, r < 0 ? -errno : r);
}

/* recv(fd, buf, flags) -> bytes received or -errno. MSG_DONTWAIT in flags for non-blocking. */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, flags = 0;
  void *buf;
  size_t len;
  if (net_args(env, info, 3, argv) < 2 || net_i32(env, argv[0], &fd) || net_bytes(env, argv[1], &buf, &len))
    return net_type_error(env, "recv(fd, buf, flags)");
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_number && net_i32(env, argv[2], &flags)) return net_type_error(env, "recv: flags");
  ssize_t r;
  do {
    r = recv(fd, buf, len, flags);
  } while (r < 0 && errno == EINTR);
  return net_int(env, r < 0 ? -errno : r);
}

/* setsockopt(fd, level, name, value bytes) -> 0 or -errno. */
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name;
  void *val;
  size_t len;
  if (net_args(env, info, 4, argv) < 4 || net_i32(env, argv[0], &fd) || net_i32(env, argv[1], &level) ||
      net_i32(env, argv[2], &name) || net_bytes(env, argv[3], &val, &len))
    return net_type_error(env, "setsockopt(fd, level, name, value)");
  int r = setsockopt(fd, level, name, val, (socklen_t)len);
  return net_int(env, r < 0 ? -errno : r);
}

/* getsockopt(fd, level, name, buf) -> the option's length or -errno. */
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name;
  void *val;
  size_t len;
  if (net_args(env, info, 4, argv) < 4 || net_i32(env, argv[0], &fd) || net_i32(env, argv[1], &level) ||
      net_i32(env, argv[2], &name) || net_bytes(env, argv[3], &val, &len))
    return net_type_error(env, "getsockopt(fd, level, name, buf)");
  socklen_t l = (socklen_t)len;
  int r = getsockopt(fd, level, name, val, &l);
  return net_int(env, r < 0 ? -errno : (int64_t)l);
}

/* getsockname(fd, buf) -> the address's length or -errno (a netlink socket's port id). */
static napi_value js_getsockname(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void *buf;
  size_t len;
  if (net_args(env, info, 2, argv) < 2 || net_i32(env, argv[0], &fd) || net_bytes(env, argv[1], &buf, &len))
    return net_type_error(env, "getsockname(fd, buf)");
  socklen_t l = (socklen_t)len;
  int r = getsockname(fd, (struct sockaddr *)buf, &l);
  return net_int(env, r < 0 ? -errno : (int64_t)l);
}

napi_status ebpf_net_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendto", NULL, js_sendto, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recv", NULL, js_recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockname", NULL, js_getsockname, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
