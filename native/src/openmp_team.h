// A context's worker hands its OpenMP team back when it runs out of work (context.cpp's workerLoop).
// ggml's CPU backend computes a graph in `#pragma omp parallel`, so each thread that decodes (each
// context's worker) leads a libgomp team of its own, and libgomp keeps the team's threads for that
// thread's next parallel region. It counts the threads of every live team together (1 + the sum of
// each team's threads less one); once they outnumber the CPUs the process may use, it spins only its
// "throttled" count (100) at a barrier before it sleeps, and ggml meets a barrier between every two
// graph nodes. An idle model's team (the documents' embedding model, loaded for minutes after a search)
// thus slowed a chat generating beside it (bench:beside, docs/benchmarks.md). Handing the team back
// when the worker goes idle leaves only working teams counted: the next step starts its threads again
// (a thread start per team thread, once per burst of work).
#pragma once

namespace hearth {

// Frees the calling thread's idle OpenMP team, where the CPU backend runs on GCC's libgomp (its
// omp_pause_resource_all frees the calling thread's thread pool, OpenMP 5.0); nothing elsewhere (no
// OpenMP, another runtime, Windows). Call only outside a parallel region, from the thread that leads it.
void releaseOpenmpTeam();

// A context worker's thread name (Linux shows it in /proc/PID/task/*/comm, top -H and perf); the
// OpenMP threads of its team are started by it and inherit it.
inline constexpr const char * WORKER_THREAD_NAME = "hearth-work";

// Names the calling thread (Linux; at most 15 characters); nothing elsewhere.
void nameThisThread(const char * name);

} // namespace hearth
