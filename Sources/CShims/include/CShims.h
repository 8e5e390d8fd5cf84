#ifndef CSHIMS_H
#define CSHIMS_H
// Adaptors for C macros and GNU extensions that Swift's Glibc module does not expose.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static inline unsigned int CShims_major(dev_t device) { return major(device); }
static inline unsigned int CShims_minor(dev_t device) { return minor(device); }
static inline dev_t CShims_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }

/// O_NOATIME: reading for a backup should not change access times.
static inline int CShims_O_NOATIME(void) { return O_NOATIME; }

/// Cores this process may run on (sched_getaffinity), or 0 if unknown.
static inline int CShims_available_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
}

/// A pipe whose ends are closed in child processes that are not meant to inherit them.
static inline int CShims_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

#endif
