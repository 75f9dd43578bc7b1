{
  "targets": [
    {
      "target_name": "ebpf_native",
      "sources": ["native/ebpf.c", "native/net.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
