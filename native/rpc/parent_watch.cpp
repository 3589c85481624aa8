// Linked into llama.cpp's rpc-server program (ggml-rpc-server) by CMakeLists.txt; its own main is
// untouched. rpc-server serves until it is killed, so a parent that ends without passing a signal on
// (`hearth rpc-server` killed with SIGKILL, a crash) would leave it listening, lending this machine
// to anyone who connects. With HEARTH_RPC_PARENT_STDIN=1 in its environment (main/engine/rpc.ts
// RPC_PARENT_WATCH_ENV), the parent gives it a pipe as stdin and never writes to it: when the parent
// ends in any way the operating system closes the pipe, the read below sees end-of-file, and the
// program ends at once (no message: a write to a stderr nobody reads could block it). Without the
// variable, or when stdin is no pipe, nothing changes; a read that fails otherwise ends the watch,
// never the program.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>
#ifdef _WIN32
#include <windows.h>
#else
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace {

bool stdin_is_pipe() {
#ifdef _WIN32
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    return in != nullptr && in != INVALID_HANDLE_VALUE && GetFileType(in) == FILE_TYPE_PIPE;
#else
    struct stat st;
    return fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
#endif
}

void watch_parent() {
    char buf[256];
#ifdef _WIN32
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    for (;;) {
        DWORD n = 0;
        if (ReadFile(in, buf, sizeof buf, &n, nullptr)) {
            if (n == 0) break; // end of file
            continue;
        }
        if (GetLastError() == ERROR_BROKEN_PIPE) break; // the writer's end closed
        return; // another failure: no longer watching
    }
#else
    for (;;) {
        const ssize_t n = read(0, buf, sizeof buf);
        if (n > 0) continue;
        if (n == 0) break; // end of file: the parent's end closed
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd p = {0, POLLIN, 0};
            poll(&p, 1, -1);
            continue;
        }
        return; // another failure: no longer watching
    }
#endif
    std::_Exit(0);
}

struct ParentWatch {
    ParentWatch() {
        const char * on = std::getenv("HEARTH_RPC_PARENT_STDIN");
        if (!on || std::strcmp(on, "1") != 0 || !stdin_is_pipe()) return;
        try {
            std::thread(watch_parent).detach();
        } catch (const std::system_error &) {
            std::fprintf(stderr, "rpc-server: cannot watch the process that started it (no thread): it will not stop with it\n");
        }
    }
} parent_watch;

}  // namespace
