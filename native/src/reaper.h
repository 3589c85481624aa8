// Work that must not run on the JS thread and has no promise to settle: joining the worker of a context
// garbage-collected without dispose() (a decode on a GPU backend ignores llama.cpp's abort callback until
// its micro-batch ends) and freeing what it held. Each job runs on a thread of its own, so one worker that
// never ends (a hung GPU) holds back only its own memory, not every later context's.
#pragma once

#include <functional>

namespace hearth {

// Runs `job` on a new detached thread; what the job captured is destroyed there too, after it ran. If no
// thread can be started, the job runs on the caller's thread.
void reap(std::function<void()> job);

// The environment's teardown (the process ending): waits, up to a bound, until every job handed over so
// far has run, so no worker still runs when the backends are unloaded; from then on reap() runs each job
// at once, on the caller's thread.
void reapAllNow();

} // namespace hearth
