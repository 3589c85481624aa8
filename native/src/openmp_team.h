// A context's worker hands its OpenMP team back when it has been out of work a while (context.cpp's
// workerLoop). ggml's CPU backend computes a graph in `#pragma omp parallel`, so each thread that decodes
// (each context's worker) leads a libgomp team of its own, and libgomp keeps the team's threads for that
// thread's next parallel region. It counts the threads of every live team together (1 + the sum of
// each team's threads less one); once they outnumber the CPUs the process may use, it spins only its
// "throttled" count (100) at a barrier before it sleeps, and ggml meets a barrier between every two
// graph nodes. An idle model's team (the documents' embedding model, loaded for minutes after a search)
// thus slowed a chat generating beside it (bench:beside, docs/benchmarks.md). Handed back once idle for
// TEAM_IDLE_RELEASE, only teams at work are counted: back-to-back requests keep their team, and the
// first step after a pause starts its threads again.
#pragma once

#include <chrono>
#include <thread>

namespace hearth {

// How long a worker stays out of work before it hands its team back.
inline constexpr std::chrono::milliseconds TEAM_IDLE_RELEASE{50};

// Finds GCC's libgomp in the process, once the backends are loaded (addon.cpp Init); before it, and
// where it finds none (no OpenMP, another runtime, Windows), releaseOpenmpTeam does nothing.
void findOpenmpRuntime();

// Frees the calling thread's OpenMP team, where the CPU backend runs on GCC's libgomp. Call only
// outside a parallel region, from the thread that leads the team. This relies on libgomp's
// implementation (GCC 9 and later), not on the OpenMP spec: libgomp's omp_pause_resource_all frees only
// the calling thread's pool and is safe while other threads' teams exist or run, where the spec allows
// the call only once "all explicit threads that do not bind to the implicit parallel region have
// finalized execution".
void releaseOpenmpTeam();

// A context worker's thread name (Linux shows it in /proc/PID/task/*/comm, top -H and perf); the
// OpenMP threads of its team, and any other thread it starts, inherit it.
inline constexpr const char * WORKER_THREAD_NAME = "hearth-work";

// Names `t` (Linux; at most 15 characters), by its creator, before it can start a team; nothing elsewhere.
void nameThread(std::thread & t, const char * name) noexcept;

} // namespace hearth
