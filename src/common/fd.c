/* SPDX-License-Identifier: MIT */
/* Long-lived fds out of the application's way (fd.h). */
#include "config.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/fd.h"

int xs_fd_floor(void)
{
	struct rlimit rl;
	rlim_t base;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 256)
		return -1;
	base = rl.rlim_cur == RLIM_INFINITY ? 1u << 16 : rl.rlim_cur / 2;
	if (base > (1u << 16))
		base = 1u << 16;
	return (int)base;
}

int xs_fd_out_of_way(int fd)
{
	int base = xs_fd_floor();
	int nfd;

	if (fd < 0 || base < 0 || fd >= base)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (nfd < 0)
		return fd;
	close(fd);
	return nfd;
}
