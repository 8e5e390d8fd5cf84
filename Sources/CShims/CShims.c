#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <unistd.h>
#include "CShims.h"

int CShims_O_NOATIME(void) { return O_NOATIME; }

int CShims_available_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
}

int CShims_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

void CShims_set_mmap_threshold(int bytes) { mallopt(M_MMAP_THRESHOLD, bytes); }
