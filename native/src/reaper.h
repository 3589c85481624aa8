// Work that must not run on the JS thread and has no promise to settle: joining the worker of a context
// garbage-collected without dispose() (a decode on a GPU backend ignores llama.cpp's abort callback until
// its micro-batch ends) and freeing what it held. One thread, started on first use, runs the jobs in order.
#pragma once

#include <functional>

namespace hearth {

// Runs `job` on the reaper thread; what the job captured is destroyed there too, after it ran.
void reap(std::function<void()> job);

// The environment's teardown (the process ending): waits until every job handed over so far has run, so
// no worker still runs when the backends are unloaded; from then on reap() runs each job at once, on the
// caller's thread.
void reapAllNow();

} // namespace hearth
