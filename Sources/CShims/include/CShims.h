#ifndef CSHIMS_H
#define CSHIMS_H
// Adaptors for C macros and GNU extensions that Swift's Glibc module does not expose.
// GNU extensions are defined in CShims.c, which alone sets _GNU_SOURCE: setting it here
// would change glibc's struct definitions for every module that imports this header.
#include <sys/types.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static inline unsigned int CShims_major(dev_t device) { return major(device); }
static inline unsigned int CShims_minor(dev_t device) { return minor(device); }
static inline dev_t CShims_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }

/// O_NOATIME: reading for a backup should not change access times.
int CShims_O_NOATIME(void);

/// Cores this process may run on (sched_getaffinity), or 0 if unknown.
int CShims_available_cores(void);

/// A pipe whose ends are closed in child processes that are not meant to inherit them.
int CShims_pipe_cloexec(int fds[2]);

/// Makes every allocation of at least `bytes` its own mapping, returned to the system when
/// freed (mallopt M_MMAP_THRESHOLD; a fixed value also turns off glibc's dynamic threshold).
void CShims_set_mmap_threshold(int bytes);

#endif
