/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * RLIMIT_MEMLOCK: a process without CAP_IPC_LOCK is charged for the buffer
 * memory of its kmbuf rings. In a child with a small limit (dropping to
 * uid/gid 65534 when we are root, so CAP_IPC_LOCK goes): a ring over the
 * limit gets -ENOMEM and leaves nothing behind, one within it registers,
 * two together are charged together, freeing one gives its charge back,
 * setup/free cycles leave no charge behind, and a ring that was
 * unregistered while still mapped keeps its charge until the munmap (the
 * pages live that long).
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define CAP_IPC_LOCK_BIT	14
#define UNPRIV_ID		65534
#define LIMIT_PAGES		64
#define CYCLES			256

/* The effective capability set, or -1. */
static long long cap_eff(void)
{
	char line[256];
	long long caps = -1;
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7)) {
			caps = strtoll(line + 7, NULL, 16);
			break;
		}
	fclose(f);
	return caps;
}

static int reg_ring(struct io_uring *ring, unsigned int entries,
		    unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = t_page_size();
	reg.ring_entries = entries;
	reg.bgid = bgid;
	return io_uring_register_kmbuf_ring(ring, &reg, 0);
}

/*
 * Register, mmap and unregister rings of half the limit, keeping each
 * mapping: the pages stay, so must their charge, and the third ring cannot
 * fit. After the munmaps the whole limit is free again.
 */
static void test_charge_follows_mapping(struct io_uring *ring)
{
	size_t len = (size_t)LIMIT_PAGES / 2 * t_page_size();
	void *maps[3] = { NULL, NULL, NULL };
	unsigned short bgid;
	unsigned int i;
	int ret;

	for (i = 0; i < 3; i++) {
		bgid = (unsigned short)(20 + i);
		ret = reg_ring(ring, LIMIT_PAGES / 2, bgid);
		if (i == 2) {
			if (!t_expect("a third half-limit ring while two unregistered ones are still mapped",
				      ret, -ENOMEM) && !ret)
				io_uring_unregister_kmbuf_ring(ring, bgid);
			break;
		}
		if (!t_expect("register half the limit", ret, 0))
			break;
		ret = t_sys_mmap(ring->ring_fd, t_kmbuf_off(bgid), len, &maps[i]);
		if (t_expect("mmap it", ret, 0))
			memset(maps[i], 0xa5, len);
		t_expect("unregister it, keeping the mapping",
			 io_uring_unregister_kmbuf_ring(ring, bgid), 0);
	}
	/* the pages are still there, and still ours */
	for (i = 0; i < 2; i++)
		if (maps[i] && ((unsigned char *)maps[i])[len - 1] != 0xa5)
			t_fail("mapping %u of an unregistered ring lost its bytes", i);
	for (i = 0; i < 2; i++)
		if (maps[i])
			munmap(maps[i], len);
	ret = reg_ring(ring, LIMIT_PAGES, 3);
	if (t_expect("register the full limit after the munmaps", ret, 0))
		t_expect("unregister it", io_uring_unregister_kmbuf_ring(ring, 3), 0);
}

static int child(int drop)
{
	const unsigned int page = t_page_size();
	struct rlimit rl = {
		.rlim_cur = (rlim_t)LIMIT_PAGES * page,
		.rlim_max = (rlim_t)LIMIT_PAGES * page,
	};
	struct io_uring_kmbuf *kb;
	struct io_uring ring;
	long long caps;
	unsigned int i;
	int ret;

	if (setrlimit(RLIMIT_MEMLOCK, &rl)) {
		t_fail("setrlimit(RLIMIT_MEMLOCK, %u pages): %s", LIMIT_PAGES,
		       t_errname(errno));
		return T_EXIT_FAIL;
	}
	if (drop && (setgroups(0, NULL) || setgid(UNPRIV_ID) || setuid(UNPRIV_ID))) {
		t_fail("dropping to uid/gid %d: %s", UNPRIV_ID, t_errname(errno));
		return T_EXIT_FAIL;
	}
	caps = cap_eff();
	if (caps < 0 || caps & (1LL << CAP_IPC_LOCK_BIT)) {
		t_fail("CAP_IPC_LOCK still effective after the drop (CapEff %llx)",
		       caps);
		return T_EXIT_FAIL;
	}
	/* The ring is made unprivileged: io_uring charges its creator. */
	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;

	t_expect("register 2x the limit", reg_ring(&ring, 2 * LIMIT_PAGES, 1), -ENOMEM);
	t_expect("nothing registered after -ENOMEM",
		 io_uring_unregister_kmbuf_ring(&ring, 1), -ENOENT);
	t_expect("setup 2x the limit",
		 io_uring_setup_kmbuf_ring(&ring, 2 * LIMIT_PAGES, page, 1, NULL, &kb),
		 -ENOMEM);

	/*
	 * The charge is on the user (RLIMIT_MEMLOCK), not on the mm: kernel
	 * memory is not pinned user memory, and /proc shows neither VmPin nor
	 * VmLck for it. What the limit lets through is the only observable.
	 */
	ret = io_uring_setup_kmbuf_ring(&ring, LIMIT_PAGES / 2, page, 2, NULL, &kb);
	if (!t_expect("setup half the limit", ret, 0))
		goto out;
	memset(kb->bufs, 1, kb->len);

	/* 32 pages held, 64 more asked for: over the limit together. */
	t_expect("a full-limit ring while half the limit is held",
		 reg_ring(&ring, LIMIT_PAGES, 3), -ENOMEM);
	t_expect("nothing at bgid 3 after -ENOMEM",
		 io_uring_unregister_kmbuf_ring(&ring, 3), -ENOENT);

	t_expect("free the half-limit ring", io_uring_free_kmbuf_ring(&ring, kb), 0);
	/* The whole charge came back: exactly the limit fits now. */
	ret = reg_ring(&ring, LIMIT_PAGES, 3);
	if (t_expect("register the full limit after the free", ret, 0))
		t_expect("unregister it", io_uring_unregister_kmbuf_ring(&ring, 3), 0);

	/*
	 * The charge is on the user, where /proc shows nothing: cycle rings
	 * of a quarter of the limit; a leak of even one page a cycle would
	 * make a setup fail well before the end, and then the full limit
	 * must still fit.
	 */
	for (i = 0; i < CYCLES; i++) {
		ret = io_uring_setup_kmbuf_ring(&ring, LIMIT_PAGES / 4, page,
						(unsigned short)(i % 4), NULL, &kb);
		if (ret) {
			t_fail("cycle %u: setup of a quarter of the limit: expected 0, got %d (%s)",
			       i, ret, t_errname(ret));
			break;
		}
		ret = io_uring_free_kmbuf_ring(&ring, kb);
		if (ret) {
			t_fail("cycle %u: free: expected 0, got %d (%s)", i, ret,
			       t_errname(ret));
			break;
		}
	}
	ret = reg_ring(&ring, LIMIT_PAGES, 3);
	if (t_expect("register the full limit after the cycles", ret, 0))
		t_expect("unregister it", io_uring_unregister_kmbuf_ring(&ring, 3), 0);

	test_charge_follows_mapping(&ring);
out:
	io_uring_queue_exit(&ring);
	return t_result(drop ? "kmbuf-memlock (uid 65534)" : "kmbuf-memlock");
}

int main(void)
{
	long long caps;
	int ret, status, drop = 0;
	pid_t pid;

	ret = t_require_kmbuf();
	if (ret)
		return ret;
	if (geteuid() == 0) {
		drop = 1;
	} else {
		caps = cap_eff();
		if (caps < 0 || caps & (1LL << CAP_IPC_LOCK_BIT))
			return t_skip("not root, and CAP_IPC_LOCK cannot be dropped here (CapEff %llx)",
				      caps);
	}

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		t_fail("fork: %s", t_errname(errno));
		return T_EXIT_FAIL;
	}
	if (pid == 0) {
		ret = child(drop);
		fflush(stdout);
		_exit(ret);
	}
	if (waitpid(pid, &status, 0) != pid) {
		t_fail("waitpid: %s", t_errname(errno));
		return T_EXIT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		t_fail("the unprivileged child died of signal %d", WTERMSIG(status));
		return T_EXIT_FAIL;
	}
	return WEXITSTATUS(status);
}
