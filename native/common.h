/* What native/ebpf.c and native/net.c share. */
#ifndef EBPF_TS_NATIVE_COMMON_H
#define EBPF_TS_NATIVE_COMMON_H
#include <node_api.h>
#include <stddef.h>

/* Pointer and length of an ArrayBuffer, TypedArray (any element type) or DataView; -1 for
 * anything else. */
int ebpf_get_bytes(napi_env env, napi_value v, void **data, size_t *len);

/* native/net.c: registers the socket calls on the addon's exports. */
napi_status ebpf_net_init(napi_env env, napi_value exports);
#endif
