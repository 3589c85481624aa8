#include "reaper.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace hearth {

namespace {

// how long the teardown waits for jobs still running (a worker stuck in a GPU call never ends)
constexpr std::chrono::seconds TEARDOWN_WAIT{10};

struct Reaper {
    std::mutex mu;
    std::condition_variable idle_cv;
    int running = 0;
    bool now = false;
};

// never destroyed: a job's thread may still use it while the process exits
Reaper & reaper() {
    static Reaper * r = new Reaper();
    return *r;
}

void runJob(std::function<void()> & job) {
    try {
        job();
    } catch (const std::exception & e) {
        std::fprintf(stderr, "hearth: reaper job failed: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "hearth: reaper job failed\n");
    }
    job = nullptr; // what it captured goes here, on this thread
}

} // namespace

void reap(std::function<void()> job) {
    Reaper & r = reaper();
    // shared with the thread: if no thread can be started, the job is still here to run on this one
    auto held = std::make_shared<std::function<void()>>(std::move(job));
    {
        std::lock_guard<std::mutex> lock(r.mu);
        if (!r.now) {
            try {
                std::thread([held] {
                    runJob(*held);
                    Reaper & r = reaper();
                    {
                        std::lock_guard<std::mutex> lock(r.mu);
                        r.running--;
                    }
                    r.idle_cv.notify_all();
                }).detach();
                r.running++;
                return;
            } catch (const std::exception & e) {
                std::fprintf(stderr, "hearth: reaper thread failed (%s); joining on the caller's thread\n", e.what());
            }
        }
    }
    runJob(*held);
}

void reapAllNow() {
    Reaper & r = reaper();
    std::unique_lock<std::mutex> lock(r.mu);
    r.now = true;
    if (!r.idle_cv.wait_for(lock, TEARDOWN_WAIT, [&] { return r.running == 0; })) {
        std::fprintf(stderr, "hearth: %d context(s) still stopping at exit\n", r.running);
    }
}

} // namespace hearth
