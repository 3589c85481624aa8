#include "reaper.h"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace hearth {

namespace {

struct Reaper {
    std::mutex mu;
    std::condition_variable work_cv, idle_cv;
    std::deque<std::function<void()>> jobs;
    bool busy = false, started = false, now = false;
};

// never destroyed: the thread may still wait on it while the process exits
Reaper & reaper() {
    static Reaper * r = new Reaper();
    return *r;
}

void runJob(std::function<void()> & job) {
    try {
        job();
    } catch (const std::exception & e) {
        std::fprintf(stderr, "hearth: reaper job failed: %s\n", e.what());
    }
    job = nullptr; // what it captured goes here, on this thread
}

void reaperLoop() {
    Reaper & r = reaper();
    while (true) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(r.mu);
            r.work_cv.wait(lock, [&] { return !r.jobs.empty(); });
            job = std::move(r.jobs.front());
            r.jobs.pop_front();
            r.busy = true;
        }
        runJob(job);
        {
            std::lock_guard<std::mutex> lock(r.mu);
            r.busy = false;
        }
        r.idle_cv.notify_all();
    }
}

} // namespace

void reap(std::function<void()> job) {
    Reaper & r = reaper();
    {
        std::lock_guard<std::mutex> lock(r.mu);
        if (!r.now) {
            r.jobs.push_back(std::move(job));
            if (!r.started) {
                r.started = true;
                std::thread(reaperLoop).detach();
            }
            r.work_cv.notify_one();
            return;
        }
    }
    runJob(job);
}

void reapAllNow() {
    Reaper & r = reaper();
    std::unique_lock<std::mutex> lock(r.mu);
    r.now = true;
    r.idle_cv.wait(lock, [&] { return r.jobs.empty() && !r.busy; });
}

} // namespace hearth
