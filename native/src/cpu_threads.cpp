// The threads a context gets when none are asked for (params.h defaultThreads): llama.cpp's count of
// the machine's performance cores, at most the CPUs this process may run on.
#include "params.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#ifdef __linux__
#include <sched.h>
#endif

namespace hearth {

// The CPUs this process may use: its affinity mask, and on Linux a cgroup v2 CPU quota (a container
// given 2 CPUs of a 32-core machine); 0 when unknown.
static int32_t cpusAllowed() {
    int32_t n = 0;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
    // cgroup v2: the process's own group (/proc/self/cgroup "0::/path") and every group above it
    std::string group;
    {
        std::ifstream cg("/proc/self/cgroup");
        std::string line;
        while (std::getline(cg, line)) {
            if (line.rfind("0::", 0) == 0) group = line.substr(3);
        }
    }
    while (true) {
        std::ifstream f("/sys/fs/cgroup" + (group == "/" ? std::string() : group) + "/cpu.max");
        std::string quota;
        long long period = 0;
        if (f >> quota >> period && quota != "max" && period > 0) {
            const long long q = std::atoll(quota.c_str());
            if (q > 0) {
                const int32_t by_quota = (int32_t) std::max<long long>(1, (q + period - 1) / period);
                n = n > 0 ? std::min(n, by_quota) : by_quota;
            }
        }
        const size_t slash = group.find_last_of('/');
        if (group.empty() || group == "/" || slash == std::string::npos) break;
        group = slash == 0 ? "/" : group.substr(0, slash);
    }
#endif
    return n;
}

int32_t defaultThreads() {
    // computed once: on a hybrid x86 CPU it pins the calling thread to each CPU in turn to find the
    // performance cores, and what the app shows must be what every context gets. llama.cpp counts the
    // machine's cores; more threads than this process may run on only wait for each other
    static const int32_t n = [] {
        const int32_t math = std::max<int32_t>(1, common_cpu_get_num_math());
        const int32_t allowed = cpusAllowed();
        return allowed > 0 ? std::min(math, allowed) : math;
    }();
    return n;
}

} // namespace hearth
