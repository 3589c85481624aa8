#include "openmp_team.h"

#include <atomic>

#ifndef _WIN32
#include <dlfcn.h>
#endif
#ifdef __linux__
#include <pthread.h>
#endif

namespace hearth {

namespace {

using pause_fn = int (*)(int);
constexpr int omp_pause_soft = 1; // omp.h's omp_pause_resource_t: omp_pause_soft = 1

// libgomp's omp_pause_resource_all once it is loaded (ggml links it where its CPU backend is built with
// GCC's OpenMP; the addon itself does not). It frees the calling thread's pool and touches no offload device
// (omp_pause_resource with omp_get_initial_device() would first initialize libgomp's offload plugins).
// Only GCC's runtime: LLVM's libomp pauses the threads of the whole process, not the caller's team.
// Looked up until found; found once, kept (libgomp is never unloaded).
pause_fn lookup() {
    static std::atomic<pause_fn> found{nullptr};
    pause_fn fn = found.load(std::memory_order_acquire);
    if (fn) return fn;
#ifndef _WIN32
    void * h = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return nullptr;
    fn = reinterpret_cast<pause_fn>(dlsym(h, "omp_pause_resource_all"));
    dlclose(h); // NOLOAD took a reference; the library stays loaded by the backend module that needs it
    if (fn) found.store(fn, std::memory_order_release);
#endif
    return fn;
}

} // namespace

void releaseOpenmpTeam() {
    if (pause_fn fn = lookup()) fn(omp_pause_soft);
}

void nameThread(std::thread & t, const char * name) {
#ifdef __linux__
    pthread_setname_np(t.native_handle(), name);
#else
    (void) t;
    (void) name;
#endif
}

} // namespace hearth
