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

// libgomp's omp_pause_resource_all, found once by findOpenmpRuntime (null: nothing to hand back).
std::atomic<pause_fn> g_pause{nullptr};

} // namespace

void findOpenmpRuntime() {
#ifndef _WIN32
    // only if the backends brought it in (ggml links it where its CPU backend uses GCC's OpenMP; the
    // addon itself does not); the handle is kept, so libgomp stays loaded while the pointer is used
    void * h = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return;
    // LLVM's libomp installed under libgomp's name (some distributions do) pauses the threads of the whole
    // process, not the caller's team: nothing is handed back there
    if (dlsym(h, "__kmpc_fork_call")) return;
    g_pause.store(reinterpret_cast<pause_fn>(dlsym(h, "omp_pause_resource_all")), std::memory_order_release);
#endif
}

void releaseOpenmpTeam() {
    // frees the caller's pool and touches no offload device (omp_pause_resource with
    // omp_get_initial_device() would first initialize libgomp's offload plugins)
    if (pause_fn fn = g_pause.load(std::memory_order_acquire)) fn(omp_pause_soft);
}

void nameThread(std::thread & t, const char * name) noexcept {
#ifdef __linux__
    pthread_setname_np(t.native_handle(), name);
#else
    (void) t;
    (void) name;
#endif
}

} // namespace hearth
