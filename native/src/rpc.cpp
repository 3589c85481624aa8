// Remote devices through ggml-rpc (rpc.h). The RPC backend is a module loaded at run time, so its entry
// points come through ggml_backend_reg_get_proc_address, as llama.cpp's common/arg.cpp does for --rpc.
//
// ggml-rpc aborts the process when a connection fails (ggml_abort: at add time when the server cannot
// be reached, mid-work when one goes away). The client probes an endpoint before the host adds it
// (main/engine/rpc.ts); for a server lost mid-work, the abort callback installed here names the
// endpoints that no longer take connections on stderr, where the client reads why the host ended.
#include "rpc.h"

#ifdef _WIN32
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    ifndef NOMINMAX
#        define NOMINMAX
#    endif
#    include <windows.h>
#else
#    include <fcntl.h>
#    include <netdb.h>
#    include <poll.h>
#    include <sys/socket.h>
#    include <unistd.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "ggml-backend.h"
#include "ggml-rpc.h"
#include "ggml.h"
#include "llama_gate.h"

namespace hearth {

namespace {

std::mutex g_list_mu; // held only to read or append the list, never while ggml-rpc works (it may abort)
std::vector<std::string> g_endpoints; // registered, in order
bool g_abort_hook = false; // the JS thread's alone
ggml_abort_callback_t g_prev_abort = nullptr; // the callback set before ours, chained to for other aborts

#ifndef _WIN32
// Whether a TCP connection to host:port opens within timeout_ms (no protocol: the process is ending).
bool accepts(const std::string & endpoint, int timeout_ms) {
    size_t colon = endpoint.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = endpoint.substr(0, colon), port = endpoint.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo * res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) return false;
    bool ok = false;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
        int rc = connect(fd, res->ai_addr, res->ai_addrlen);
        if (rc == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, timeout_ms) == 1) {
                int err = 0;
                socklen_t len = sizeof(err);
                ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
            }
        }
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}
#endif

// ggml_abort's last words: the message as ggml prints it, then, for a failure of the RPC backend, a line
// the client shows (main/engine/rpc.ts rpcLostLine reads "hearth: remote device ...").
void onAbort(const char * message) {
    if (!message || !strstr(message, "ggml-rpc")) {
        if (g_prev_abort) g_prev_abort(message);
        else fprintf(stderr, "%s\n", message ? message : "ggml abort");
        return;
    }
    fprintf(stderr, "%s\n", message);
    std::vector<std::string> eps;
    if (g_list_mu.try_lock()) {
        eps = g_endpoints;
        g_list_mu.unlock();
    }
    std::string gone, all;
    for (const auto & e : eps) all += (all.empty() ? "" : ", ") + e;
#ifndef _WIN32
    // a server that was killed may still be closing its sockets as its connection breaks: ask a few times
    for (int attempt = 0; attempt < 5 && gone.empty(); attempt++) {
        if (attempt > 0) usleep(200 * 1000);
        for (const auto & e : eps) {
            if (!accepts(e, 500)) gone += (gone.empty() ? "" : ", ") + e;
        }
    }
#endif
    if (!gone.empty()) {
        fprintf(stderr, "hearth: remote device lost: the RPC server at %s stopped answering\n", gone.c_str());
    } else if (!all.empty()) {
        fprintf(stderr, "hearth: remote device lost: a connection to an RPC server (%s) failed\n", all.c_str());
    }
    fflush(stderr);
}

using add_server_fn = ggml_backend_reg_t (*)(const char * endpoint);

// addRpcServer(endpoint) -> [device names]: registers the rpc-server's devices (once per endpoint).
Napi::Value AddRpcServer(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw makeError(env, codes::invalid_argument, "addRpcServer(endpoint) needs a host:port");
    std::string endpoint = info[0].As<Napi::String>().Utf8Value();
    if (endpoint.empty() || endpoint.find(':') == std::string::npos) {
        throw makeError(env, codes::invalid_argument, "an RPC endpoint is host:port, not \"" + endpoint + "\"");
    }
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    if (!rpc) throw makeError(env, codes::backend_failed, "the RPC backend (ggml-rpc) is not loaded: this build has no libggml-rpc next to the addon");
    auto add = reinterpret_cast<add_server_fn>(ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server"));
    if (!add) throw makeError(env, codes::backend_failed, "the RPC backend has no ggml_backend_rpc_add_server");
    LlamaUse use(LlamaUseKind::js); // the backend may log while it connects
    if (!g_abort_hook) {
        g_prev_abort = ggml_set_abort_callback(onAbort);
        g_abort_hook = true;
    }
    ggml_backend_reg_t reg = add(endpoint.c_str());
    if (!reg) throw makeError(env, codes::backend_failed, "the RPC server at " + endpoint + " has no devices");
    bool known = false;
    for (size_t i = 0; i < ggml_backend_reg_count(); i++) known = known || ggml_backend_reg_get(i) == reg;
    if (!known) {
        ggml_backend_register(reg);
        std::lock_guard<std::mutex> lock(g_list_mu);
        g_endpoints.push_back(endpoint);
    }
    Napi::Array names = Napi::Array::New(env);
    for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); i++) {
        names.Set((uint32_t) i, ggml_backend_dev_name(ggml_backend_reg_dev_get(reg, i)));
    }
    return names;
}

} // namespace

void addRpcExports(Napi::Env env, Napi::Object exports) {
    Napi::Object proto = Napi::Object::New(env);
    proto.Set("major", RPC_PROTO_MAJOR_VERSION);
    proto.Set("minor", RPC_PROTO_MINOR_VERSION);
    proto.Set("patch", RPC_PROTO_PATCH_VERSION);
    exports.Set("rpcProtocol", proto);
    exports.Set("addRpcServer", Napi::Function::New(env, guard<AddRpcServer>));
}

} // namespace hearth
