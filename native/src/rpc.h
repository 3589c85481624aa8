// Remote devices through llama.cpp's RPC backend (ggml-rpc, loaded at run time like the CPU module): an
// rpc-server's devices are registered by endpoint ("host:port") and then list, estimate, fit and load
// like local GPUs (ggml reports them as GPU devices).
#pragma once

#include <napi.h>

namespace hearth {

// addRpcServer(endpoint) -> the names of the devices it added; rpcProtocol: the protocol version this
// build speaks ({ major, minor, patch }, ggml-rpc.h), which main/engine/rpc.ts's probe checks against.
void addRpcExports(Napi::Env env, Napi::Object exports);

} // namespace hearth
