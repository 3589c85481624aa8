// Linked into llama.cpp's rpc-server program (ggml-rpc-server) by CMakeLists.txt; its own main is
// untouched. rpc-server serves until it is killed, so a parent that ends without passing a signal on
// (`hearth rpc-server` killed with SIGKILL, a crash) would leave it listening, lending this machine
// to anyone who connects. With HEARTH_RPC_PARENT_STDIN=1 in its environment (main/engine/rpc.ts
// RPC_PARENT_WATCH_ENV), the parent keeps the write end of this program's stdin open and never
// writes: when the parent ends in any way the operating system closes that end, the read below sees
// end-of-file, and the program ends. Without the variable nothing changes.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace {

void watch_parent() {
    char buf[256];
#ifdef _WIN32
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    DWORD n = 0;
    while (ReadFile(in, buf, sizeof buf, &n, nullptr) && n > 0) {
    }
#else
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        break;
    }
#endif
    std::fprintf(stderr, "rpc-server: the process that started it ended: stopping\n");
    std::fflush(stderr);
    std::_Exit(0);
}

struct ParentWatch {
    ParentWatch() {
        const char * on = std::getenv("HEARTH_RPC_PARENT_STDIN");
        if (on && std::strcmp(on, "1") == 0) std::thread(watch_parent).detach();
    }
} parent_watch;

}  // namespace
