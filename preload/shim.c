/* SPDX-License-Identifier: MIT */
/*
 * The shim's core: the process context and the fd table.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/log.h"
#include "conn/status.h"
#include "preload/shim.h"

/* ---- the process context --------------------------------------------------- */

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xs_ctx *ctx;
static bool ctx_failed;
static char **env_saved;	/* "XSOCK_...=value" as the process started */

extern char **environ;

/*
 * xsock is configured through XSOCK_* environment variables, read when a
 * context (and its status table) is opened. Some programs replace their
 * environment after fork(): an nginx worker keeps only TZ. Remember the
 * variables as the process started, and put back those that went missing
 * when a context is opened.
 */
static void env_save(void)
{
	unsigned int n = 0, i = 0;
	char **e;

	if (!environ)
		return;
	for (e = environ; *e; e++)
		n += strncmp(*e, "XSOCK_", 6) == 0;
	env_saved = calloc(n + 1, sizeof(*env_saved));
	if (!env_saved)
		return;
	for (e = environ; *e && i < n; e++)
		if (strncmp(*e, "XSOCK_", 6) == 0 && (env_saved[i] = strdup(*e)) != NULL)
			i++;
}

static void env_restore(void)
{
	char **e, name[64];

	for (e = env_saved; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : 0;

		if (!len || len >= sizeof(name))
			continue;
		memcpy(name, *e, len);
		name[len] = '\0';
		if (!getenv(name))
			setenv(name, eq + 1, 0);
	}
}

static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;	/* shim_sock_alloc() */

/*
 * A forked child opens its own context: on Xen it must not use its
 * parent's event-channel or store handles (src/platform/xen/xen.c). The
 * parent's stays allocated: connections the child inherited point to it.
 */
static void ctx_child_after_fork(void)
{
	pthread_mutex_init(&ctx_lock, NULL);
	/* A thread of the parent may have held it (records are allocated
	 * and freed outside the event thread's fork quiescence). */
	pthread_mutex_init(&free_lock, NULL);
	__atomic_store_n(&ctx, NULL, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void ctx_constructor(void)
{
	env_save();
	pthread_atfork(NULL, NULL, ctx_child_after_fork);
}

struct xs_ctx *shim_ctx(void)
{
	struct xs_ctx *c = __atomic_load_n(&ctx, __ATOMIC_ACQUIRE);

	if (c || ctx_failed)
		return c;
	SHIM_ENTER();
	pthread_mutex_lock(&ctx_lock);
	if (!ctx && !ctx_failed) {
		int rc;

		env_restore();
		rc = xs_ctx_open(&c);

		if (rc < 0) {
			xs_log(XS_LOG_WARN, "xsock disabled in this process: %s", strerror(-rc));
			ctx_failed = true;
		} else {
			xs_log(XS_LOG_INFO, "xsock active: backend %s, domain %u",
			       xsp_backend_name(c->plat), c->self);
			__atomic_store_n(&ctx, c, __ATOMIC_RELEASE);
		}
	}
	c = ctx;
	pthread_mutex_unlock(&ctx_lock);
	SHIM_LEAVE();
	return c;
}

/* ---- the fd table ---------------------------------------------------------------- */

struct shim_sock **shim_tab;
int shim_tab_size;
int shim_tab_hi;		/* highest fd ever installed + 1 */
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * One pointer per possible fd, reserved once with mmap (pages are only
 * touched for fds actually used), sized from the hard RLIMIT_NOFILE so
 * every fd a process can have is covered.
 */
static int tab_init(void)
{
	struct rlimit rl;
	size_t n = 1u << 20;
	void *mem;

	if (shim_tab)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < n)
		n = rl.rlim_max < 1024 ? 1024 : rl.rlim_max;
	mem = mmap(NULL, n * sizeof(*shim_tab), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	shim_tab = mem;
	__atomic_store_n(&shim_tab_size, (int)n, __ATOMIC_RELEASE);
	return 0;
}

void shim_for_each_ring(void (*fn)(struct shim_sock *s))
{
	int fd;

	pthread_mutex_lock(&tab_lock);
	for (fd = 0; fd < shim_tab_hi; fd++) {
		struct shim_sock *s = shim_tab[fd];

		/* A dup'ed connection is visited once per fd: harmless. */
		if (s && s->kind == SHIM_RING && s->rs)
			fn(s);
	}
	pthread_mutex_unlock(&tab_lock);
}

/*
 * Records are type-stable: a freed one waits on this list for the next
 * allocation and is never unmapped, so a shim_get() that loaded a table
 * entry just before it was removed and freed still touches a record (its
 * refs at 0, or a new life's): it then finds the entry changed and lets
 * go. That makes the per-call lookup two atomic operations, not two
 * mutex round trips on one process-wide lock.
 */
static struct shim_sock *free_socks;	/* linked through ev_next */

struct shim_sock *shim_sock_alloc(void)
{
	struct shim_sock *s;

	pthread_mutex_lock(&free_lock);
	s = free_socks;
	if (s)
		free_socks = s->ev_next;
	pthread_mutex_unlock(&free_lock);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
	}
	/* All but refs, which a stale shim_get() may look at (it is 0 here,
	 * and nobody increments a 0). */
	memset((char *)s + offsetof(struct shim_sock, kind), 0,
	       sizeof(*s) - offsetof(struct shim_sock, kind));
	/* Release: the zeroed fields before a stale getter's increment. */
	__atomic_store_n(&s->refs, 1, __ATOMIC_RELEASE);
	return s;
}

void shim_sock_free(struct shim_sock *s)
{
	pthread_mutex_lock(&free_lock);
	s->ev_next = free_socks;
	free_socks = s;
	pthread_mutex_unlock(&free_lock);
}

struct shim_sock *shim_get(int fd)
{
	struct shim_sock *s;
	int r;

	if (!shim_maybe_ours(fd))
		return NULL;
	for (;;) {
		s = __atomic_load_n(&shim_tab[fd], __ATOMIC_ACQUIRE);
		if (!s)
			return NULL;
		/* A reference unless the record is free (0): then it is on
		 * its way out of the table, look again. */
		r = __atomic_load_n(&s->refs, __ATOMIC_RELAXED);
		while (r > 0 && !__atomic_compare_exchange_n(&s->refs, &r, r + 1, true,
							      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			;
		if (r <= 0)
			continue;	/* the table holds a reference: s left it */
		/* Still the entry for fd (not a record freed and reused since
		 * we loaded it)? Acquire: orders this load after the CAS. */
		if (__atomic_load_n(&shim_tab[fd], __ATOMIC_ACQUIRE) == s)
			return s;
		shim_put(s);
	}
}

static void sock_free(struct shim_sock *s)
{
	if (s->kind == SHIM_RING) {
		shim_ring_free(s);
		return;
	}
	/* A forked child's copy of a listener (or of its parent's accepting
	 * half) is not its to close. */
	SHIM_ENTER();
	if (s->owner == getpid())
		xs_listener_close(s->lst);
	if (s->acc && s->acc_pid == getpid())
		xs_acceptor_close(s->acc);
	SHIM_LEAVE();
	shim_sock_free(s);
}

void shim_put(struct shim_sock *s)
{
	bool last;

	if (!s)
		return;
	/* Acquire-release: every use of the record before the last put
	 * happens before sock_free(). */
	last = __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0;
	if (last)
		sock_free(s);
}

int shim_refs(struct shim_sock *s)
{
	return __atomic_load_n(&s->refs, __ATOMIC_ACQUIRE);
}

void shim_ref_many(struct shim_sock **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		__atomic_add_fetch(&v[i]->refs, 1, __ATOMIC_RELAXED);
}

void shim_put_many(struct shim_sock **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		shim_put(v[i]);
}

int shim_install(int fd, struct shim_sock *s)
{
	int rc;

	pthread_mutex_lock(&tab_lock);
	rc = tab_init();
	if (rc == 0 && (fd < 0 || fd >= shim_tab_size))
		rc = -EMFILE;
	if (rc == 0) {
		s->fd = fd;
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		if (fd + 1 > shim_tab_hi)
			shim_tab_hi = fd + 1;
		__atomic_store_n(&shim_tab[fd], s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&tab_lock);
	return rc;
}

struct shim_sock *shim_ring_of(int fd)
{
	struct shim_sock *s;

	if (shim_guard || !shim_maybe_ours(fd))
		return NULL;
	s = shim_get(fd);
	if (s && s->kind != SHIM_RING) {
		shim_put(s);
		return NULL;
	}
	return s;
}

struct shim_sock *shim_remove(int fd)
{
	struct shim_sock *s;

	if (!shim_maybe_ours(fd))
		return NULL;
	pthread_mutex_lock(&tab_lock);
	s = shim_tab[fd];
	__atomic_store_n(&shim_tab[fd], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&tab_lock);
	return s;
}

/* ---- ring sockets ------------------------------------------------------------------- */

int shim_ring_new(struct xs_conn *conn, int family, struct shim_sock **out, int *afd)
{
	struct shim_sock *s;
	int sv[2], small = 1;
	int rc;

	*out = NULL;
	*afd = -1;
	s = shim_sock_alloc();
	if (!s)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		shim_sock_free(s);
		return rc;
	}
	/* B never blocks the shim. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	/* Under the recursion guard: its close() is the real one. */
	sv[1] = xs_fd_out_of_way(sv[1]);
	/*
	 * A tiny send buffer on A: plugging it (making A unwritable while the
	 * ring is full) then takes a couple of bytes. The kernel rounds the
	 * value up to its minimum.
	 */
	shim_real.setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	s->kind = SHIM_RING;
	s->fd = -1;
	s->conn = conn;
	s->bfd = sv[1];
	s->family = family;
	rc = sock_ready_init(s);
	if (rc < 0) {
		shim_real.close(sv[0]);
		shim_real.close(sv[1]);
		shim_sock_free(s);
		return rc;
	}
	pthread_mutex_init(&s->rlock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	s->owner = getpid();
	xs_status_attach(conn->ctx, conn);
	*out = s;
	*afd = sv[0];
	return 0;
}

void shim_ring_free(struct shim_sock *s)
{
	SHIM_ENTER();
	/* Only the process that made it ends the connection; a forked child
	 * just lets go of its copies. */
	if (s->conn && s->owner == getpid() && !evloop_park(s->conn))
		xs_conn_close(s->conn);
	if (s->bfd >= 0)
		shim_real.close(s->bfd);
	pthread_mutex_destroy(&s->rlock);
	pthread_mutex_destroy(&s->wlock);
	sock_ready_free(s);
	shim_sock_free(s);
	SHIM_LEAVE();
}
