/* SPDX-License-Identifier: MIT */
/* Live connection status tables (see status.h; the layout is <xsock/status.h>). */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/env.h"
#include "common/log.h"
#include "conn/status.h"

#define TABLE_BYTES XSOCK_STATUS_TABLE_SIZE

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xsock_status_rec *table;	/* this process's records */
static pid_t table_pid;

/* A thread that held the lock at fork() is not in the child: make it anew
 * (the table it guards is the parent's there; table_get() makes the
 * child's own). */
static void table_child_after_fork(void)
{
	pthread_mutex_init(&table_lock, NULL);
}

__attribute__((constructor)) static void status_constructor(void)
{
	pthread_atfork(NULL, NULL, table_child_after_fork);
}

/* The records that follow the header of the table mapped at @mem. */
static struct xsock_status_rec *table_recs(void *mem)
{
	return (struct xsock_status_rec *)((struct xsock_status_hdr *)mem + 1);
}

static int status_dir(const struct xs_ctx *ctx, char *buf, size_t len)
{
	const char *base = xs_env_str("XSOCK_STATUS_DIR");
	int n;

	if (!base)
		base = xsp_status_base(ctx->plat);
	n = snprintf(buf, len, "%s/%u", base, ctx->self);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/*
 * Below a setgid directory (a group's tree: xsockctl setup) the tables are
 * the group's, 2770 and 0660, whatever the umask; else 0755 and 0644.
 */
static bool shared_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & S_ISGID);
}

static void mkdirs(char *path)
{
	char *c;

	for (c = path + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(path, 0755) == 0 && shared_dir(path))
			chmod(path, 02770);
		*c = '/';
	}
	if (mkdir(path, 0755) == 0 && shared_dir(path))
		chmod(path, 02770);
}

/* Under table_lock: this process's table (a new one after fork). */
static struct xsock_status_rec *table_get(struct xs_ctx *ctx)
{
	struct xsock_status_hdr *hdr;
	char dir[512], path[600];
	void *mem;
	int fd;

	if (table && table_pid == getpid())
		return table;
	/* A forked child leaves its parent's table alone. */
	table = NULL;
	if (status_dir(ctx, dir, sizeof(dir)) < 0)
		return NULL;
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return NULL;
	if (shared_dir(dir))
		(void)fchmod(fd, 0660);
	if (ftruncate(fd, (off_t)TABLE_BYTES) < 0) {
		close(fd);
		return NULL;
	}
	mem = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return NULL;
	hdr = mem;
	hdr->version = XSOCK_STATUS_VERSION;
	hdr->slots = XSOCK_STATUS_SLOTS;
	hdr->rec_size = sizeof(struct xsock_status_rec);
	/* Release: a reader that sees the magic (acquire) sees the fields above. */
	__atomic_store_n(&hdr->magic, XSOCK_STATUS_MAGIC, __ATOMIC_RELEASE);
	table = table_recs(mem);
	table_pid = getpid();
	return table;
}

void xs_status_attach(struct xs_ctx *ctx, struct xs_conn *c)
{
	struct xsock_status_rec *t, *r = NULL;
	const void *a;
	unsigned int i;

	pthread_mutex_lock(&table_lock);
	t = table_get(ctx);
	for (i = 0; t && i < XSOCK_STATUS_SLOTS; i++) {
		if (!t[i].in_use) {
			r = &t[i];
			break;
		}
	}
	if (r) {
		memset(r, 0, sizeof(*r));
		r->peer_dom = c->peer;
		r->lport = c->lport;
		r->pport = c->pport;
		r->side = c->side == XSR_SIDE_A ? XSOCK_STATUS_SIDE_A : XSOCK_STATUS_SIDE_B;
		r->order = (uint8_t)c->order;
		a = c->paddr.ss_family == AF_INET6 ?
			(const void *)&((struct sockaddr_in6 *)&c->paddr)->sin6_addr :
			(const void *)&((struct sockaddr_in *)&c->paddr)->sin_addr;
		if (!inet_ntop(c->paddr.ss_family, a, r->paddr, sizeof(r->paddr)))
			strcpy(r->paddr, "?");
		__atomic_store_n(&r->in_use, 1, __ATOMIC_RELEASE);
		c->status = r;
	}
	pthread_mutex_unlock(&table_lock);
}

void xs_status_detach(struct xs_conn *c)
{
	if (!c->status)
		return;
	pthread_mutex_lock(&table_lock);
	if (table_pid == getpid())
		__atomic_store_n(&c->status->in_use, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&table_lock);
	c->status = NULL;
}

/* ---- reading (xsockctl) ------------------------------------------------------ */

/* Is the table mapped at @mem one this reader knows (<xsock/status.h>)? */
static bool table_known(const void *mem)
{
	const struct xsock_status_hdr *hdr = mem;

	/* Acquire: pairs with the writer's release store of the magic, made last. */
	return __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) == XSOCK_STATUS_MAGIC &&
	       hdr->version == XSOCK_STATUS_VERSION && hdr->slots == XSOCK_STATUS_SLOTS &&
	       hdr->rec_size == sizeof(struct xsock_status_rec);
}

static int print_table(FILE *out, bool json, int pid, const struct xsock_status_rec *t,
		       unsigned int *count)
{
	unsigned int i;

	for (i = 0; i < XSOCK_STATUS_SLOTS; i++) {
		const struct xsock_status_rec *r = &t[i];
		const char *role = r->side == XSOCK_STATUS_SIDE_A ? "server" : "client";
		char state[48];

		if (!__atomic_load_n(&r->in_use, __ATOMIC_ACQUIRE))
			continue;
		if (r->err)
			snprintf(state, sizeof(state), "broken(%s)", strerror(r->err));
		else
			snprintf(state, sizeof(state), "connected");
		if (json)
			fprintf(out, "%s{\"pid\":%d,\"role\":\"%s\",\"peer_domain\":%u,"
				"\"peer_address\":\"%s\",\"local_port\":%u,\"peer_port\":%u,"
				"\"state\":\"%s\",\"bytes_out\":%llu,\"bytes_in\":%llu,"
				"\"ring_bytes\":%u}",
				*count ? "," : "", pid, role, r->peer_dom, r->paddr, r->lport,
				r->pport, state, (unsigned long long)r->tx,
				(unsigned long long)r->rx, XSOCK_RING_HALF_SIZE(r->order));
		else
			fprintf(out, "%-7d %-6s %-6u %-22s %-6u %-6u %-12llu %-12llu %-8u %s\n",
				pid, role, r->peer_dom, r->paddr, r->lport, r->pport,
				(unsigned long long)r->tx, (unsigned long long)r->rx,
				XSOCK_RING_HALF_SIZE(r->order), state);
		(*count)++;
	}
	return 0;
}

int xs_status_print(FILE *out, bool json)
{
	struct xs_ctx *ctx;
	char dir[512];
	struct dirent *de;
	unsigned int count = 0;
	DIR *d;
	int rc;

	rc = xs_ctx_open(&ctx);
	if (rc < 0)
		return rc;
	rc = status_dir(ctx, dir, sizeof(dir));
	if (json)
		fprintf(out, "{\"domain\":%u,\"connections\":[", ctx->self);
	else
		fprintf(out, "%-7s %-6s %-6s %-22s %-6s %-6s %-12s %-12s %-8s %s\n", "PID", "ROLE",
			"PEER", "PEER-ADDRESS", "LPORT", "PPORT", "BYTES-OUT", "BYTES-IN",
			"RING", "STATE");
	d = rc == 0 ? opendir(dir) : NULL;
	while (d && (de = readdir(d)) != NULL) {
		char path[800];
		int pid = atoi(de->d_name), fd;
		struct stat sb;
		void *mem;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (kill(pid, 0) < 0 && errno == ESRCH) {
			unlink(path);	/* its process is gone */
			continue;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Shorter than a table (being created, or not one): mapping
		 * it whole would fault past its end. */
		if (fstat(fd, &sb) < 0 || sb.st_size < (off_t)TABLE_BYTES) {
			close(fd);
			continue;
		}
		mem = mmap(NULL, TABLE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (mem == MAP_FAILED)
			continue;
		if (table_known(mem))
			print_table(out, json, pid, table_recs(mem), &count);
		munmap(mem, TABLE_BYTES);
	}
	if (d)
		closedir(d);
	if (json)
		fputs("]}\n", out);
	else if (!count)
		fputs("(no live ring connections)\n", out);
	xs_ctx_close(ctx);
	fflush(out);
	return ferror(out) ? -EIO : 0;
}
