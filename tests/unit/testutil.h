/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the Check suites.
 *
 * Each test that touches the local backend gets a private XSOCK_LOCAL_DIR
 * (a fresh directory under /dev/shm) so tests never see each other's grants,
 * channels or store nodes, and can count what leaked by listing it.
 */
#ifndef XSOCK_TESTS_TESTUTIL_H
#define XSOCK_TESTS_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Make a fresh local-backend directory and point XSOCK_LOCAL_DIR at it. */
static inline const char *tu_fresh_local_dir(void)
{
	static char dir[128];

	snprintf(dir, sizeof(dir), "/dev/shm/xsock-test-%d-XXXXXX", (int)getpid());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("XSOCK_LOCAL_DIR", dir, 1);
	setenv("XSOCK_BACKEND", "local", 1);
	return dir;
}

/* Number of entries (excluding . and ..) in @dir; -1 if it does not exist. */
static inline int tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Remove a directory tree made by tu_fresh_local_dir(). */
static inline void tu_rm_rf(const char *dir)
{
	char cmd[256];

	if (strncmp(dir, "/dev/shm/xsock-test-", 20) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		/* best effort */
	}
}

/* Run @s in fork mode; return the number of failures. */
static inline int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* XSOCK_TESTS_TESTUTIL_H */
