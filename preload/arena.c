/* SPDX-License-Identifier: MIT */
/*
 * The shared state arena (arena.h).
 *
 * An arena is a memfd of ARENA_SIZE bytes (sparse: a page costs memory
 * once touched), mapped MAP_SHARED once, cut into ARENA_SLOT-byte slots
 * after a header: handed out in order, and given back to a free list only
 * by the process that made the arena, once the slot's connection ended
 * everywhere (arena_put() with @reuse). A connection may end in another
 * process (one that claimed its serving, holder.c): that process marks
 * the slot in the header's @released, and the maker takes marked slots
 * back when its free list runs dry. A process knows up to ARENA_MAX arenas: its
 * own (at most one that it allocates from at a time: when full, another)
 * and those it inherited or was handed. Their fds are kept out of the
 * application's way, close-on-exec except across an exec that hands a
 * connection over.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd.h"
#include "preload/arena.h"
#include "preload/defer.h"

#define ARENA_SIZE (16u << 20)		/* 65536 slots, the first ones the header's */
#define ARENA_MAX 16
#define ARENA_NAME "xsock-state"
#define ARENA_NSLOTS (ARENA_SIZE / ARENA_SLOT)

/* At the start of an arena, shared by every process that maps it. */
struct arena_head {
	uint32_t pending;		/* atomic: slots marked in @released */
	uint32_t pad;
	uint8_t released[ARENA_NSLOTS];	/* atomic: slot ended elsewhere, 1 */
};

/* The first slot's offset: the header's slots are never handed out. */
#define ARENA_FIRST \
	((sizeof(struct arena_head) + ARENA_SLOT - 1) / ARENA_SLOT * ARENA_SLOT)

struct arena {
	int fd;
	char *base;
	size_t size;
	bool mine;			/* made by this process image: allocate here */
	bool marked;			/* named in the hand-over being prepared */
};

struct free_slot {
	struct free_slot *next;
};

/* Taken with shim_lock() (defer.h): close() may give a slot back. */
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena arenas[ARENA_MAX];
static int narenas;
static int cur = -1;			/* our arena we allocate from */
static size_t cur_next = ARENA_FIRST;	/* its next never used slot */
static struct free_slot *free_slots;	/* in our arenas */

/* Under arena_lock. */
static int arena_new(void)
{
	struct arena *a;
	int fd;

	if (narenas == ARENA_MAX)
		return -ENOSPC;
	fd = memfd_create(ARENA_NAME, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, ARENA_SIZE) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	a = &arenas[narenas];
	a->base = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a->base == MAP_FAILED) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	a->fd = xs_fd_out_of_way(fd);
	a->size = ARENA_SIZE;
	a->mine = true;
	a->marked = false;
	cur = narenas++;
	cur_next = ARENA_FIRST;
	return 0;
}

/*
 * Under arena_lock: put the slots of our arenas that their connections'
 * last servers marked ended (arena_put()) on the free list. Whether any.
 */
static bool arena_harvest(void)
{
	bool any = false;
	int i;

	for (i = 0; i < narenas; i++) {
		struct arena *a = &arenas[i];
		struct arena_head *h = (struct arena_head *)a->base;
		size_t k, end = i == cur ? cur_next / ARENA_SLOT : a->size / ARENA_SLOT;

		if (!a->mine || !__atomic_load_n(&h->pending, __ATOMIC_RELAXED))
			continue;
		for (k = ARENA_FIRST / ARENA_SLOT; k < end; k++) {
			struct free_slot *f;

			/*
			 * Acquire: pairs with the marker's release; its last
			 * use of the slot happened before we reuse it.
			 */
			if (!__atomic_load_n(&h->released[k], __ATOMIC_RELAXED) ||
			    !__atomic_exchange_n(&h->released[k], 0, __ATOMIC_ACQUIRE))
				continue;
			__atomic_sub_fetch(&h->pending, 1, __ATOMIC_RELAXED);
			f = (struct free_slot *)(a->base + k * ARENA_SLOT);
			f->next = free_slots;
			free_slots = f;
			any = true;
		}
	}
	return any;
}

void arena_prepare(void)
{
	shim_lock(&arena_lock);
	if (cur < 0)
		arena_new();
	shim_unlock(&arena_lock);
}

void *arena_get(void)
{
	void *p = NULL;

	shim_lock(&arena_lock);
	if (free_slots || arena_harvest()) {
		p = free_slots;
		free_slots = free_slots->next;
		memset(p, 0, ARENA_SLOT);
		goto out;
	}
	if ((cur < 0 || cur_next + ARENA_SLOT > arenas[cur].size) && arena_new() < 0)
		goto out;
	/* Never used: zero as the memfd made it. */
	p = arenas[cur].base + cur_next;
	cur_next += ARENA_SLOT;
out:
	shim_unlock(&arena_lock);
	return p;
}

/* Under arena_lock: the arena holding @p, or NULL. */
static struct arena *arena_of(const void *p)
{
	int i;

	for (i = 0; i < narenas; i++) {
		const char *c = p;

		if (c >= arenas[i].base && c < arenas[i].base + arenas[i].size)
			return &arenas[i];
	}
	return NULL;
}

void arena_put(void *p, bool reuse)
{
	struct arena *a;

	if (!p)
		return;
	shim_lock(&arena_lock);
	a = arena_of(p);
	if (a && a->mine && reuse) {
		struct free_slot *f = p;

		f->next = free_slots;
		free_slots = f;
	} else if (a && reuse) {
		/* Another process's arena: its maker takes the slot back. */
		struct arena_head *h = (struct arena_head *)a->base;
		size_t k = (size_t)((char *)p - a->base) / ARENA_SLOT;

		/* Release: our last use of the slot before its maker's reuse. */
		if (k >= ARENA_FIRST / ARENA_SLOT && k < a->size / ARENA_SLOT &&
		    !__atomic_exchange_n(&h->released[k], 1, __ATOMIC_RELEASE))
			__atomic_add_fetch(&h->pending, 1, __ATOMIC_RELAXED);
	}
	shim_unlock(&arena_lock);
}

int arena_locate(const void *p, int *fd, uint64_t *off)
{
	struct arena *a;
	int rc = -ENOENT;

	shim_lock(&arena_lock);
	a = arena_of(p);
	if (a) {
		*fd = a->fd;
		*off = (uint64_t)((const char *)p - a->base);
		rc = 0;
	}
	shim_unlock(&arena_lock);
	return rc;
}

int arena_adopt(int fd, uint64_t off, void **p)
{
	struct arena *a = NULL;
	struct stat st;
	char path[64], name[64];
	ssize_t n;
	int i, rc = 0;

	*p = NULL;
	if (off % ARENA_SLOT || off < ARENA_FIRST)
		return -EINVAL;
	shim_lock(&arena_lock);
	for (i = 0; i < narenas; i++) {
		if (arenas[i].fd == fd && !arenas[i].mine)
			a = &arenas[i];
	}
	if (!a) {
		/* A memfd of ours: its link reads "/memfd:xsock-state (deleted)". */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, name, sizeof(name) - 1);
		if (n < 0 || fstat(fd, &st) < 0) {
			rc = -EBADF;
			goto out;
		}
		name[n] = '\0';
		if (strncmp(name, "/memfd:" ARENA_NAME, strlen("/memfd:" ARENA_NAME)) != 0 ||
		    (uint64_t)st.st_size != ARENA_SIZE) {
			rc = -EBADF;
			goto out;
		}
		if (narenas == ARENA_MAX) {
			rc = -ENOSPC;
			goto out;
		}
		a = &arenas[narenas];
		a->base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (a->base == MAP_FAILED) {
			rc = -ENOMEM;
			goto out;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		a->fd = fd;
		a->size = (size_t)st.st_size;
		a->mine = false;
		a->marked = false;
		narenas++;
	}
	if (off + ARENA_SLOT > a->size) {
		rc = -EINVAL;
		goto out;
	}
	*p = a->base + off;
out:
	shim_unlock(&arena_lock);
	return rc;
}

void arena_mark(int fd)
{
	int i;

	shim_lock(&arena_lock);
	for (i = 0; i < narenas; i++) {
		if (arenas[i].fd == fd)
			arenas[i].marked = true;
	}
	shim_unlock(&arena_lock);
}

/* Under arena_lock, or in a forked child (one thread). */
static void set_cloexec(bool on)
{
	int i;

	for (i = 0; i < narenas; i++) {
		if (!arenas[i].marked)
			continue;
		fcntl(arenas[i].fd, F_SETFD, on ? FD_CLOEXEC : 0);
		if (on)
			arenas[i].marked = false;
	}
}

void arena_set_cloexec(bool on)
{
	shim_lock(&arena_lock);
	set_cloexec(on);
	shim_unlock(&arena_lock);
}

int arena_fds(int *v, int max)
{
	int i, n = 0;

	shim_lock(&arena_lock);
	for (i = 0; i < narenas && n < max; i++)
		v[n++] = arenas[i].fd;
	shim_unlock(&arena_lock);
	return n;
}

void arena_child_cloexec(void)
{
	/* The child is single-threaded: no lock (one held at fork stays held). */
	set_cloexec(true);
}

void arena_after_fork(void)
{
	int i;

	pthread_mutex_init(&arena_lock, NULL);
	/* The parent's arenas stay mapped and known; we allocate from our own. */
	for (i = 0; i < narenas; i++)
		arenas[i].mine = false;
	cur = -1;
	cur_next = ARENA_FIRST;
	free_slots = NULL;
}
