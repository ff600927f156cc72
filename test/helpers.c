/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* How long one batch may wait for a completion before we call it hung. */
#define T_WAIT_SEC	30

int t_failures;

void t_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	t_failures++;
}

const char *t_errname(long err)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
		{ EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" },
		{ ENOSPC, "ENOSPC" }, { ERANGE, "ERANGE" }, { ENOSYS, "ENOSYS" },
		{ ENOBUFS, "ENOBUFS" }, { EALREADY, "EALREADY" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { E2BIG, "E2BIG" },
		{ ETIME, "ETIME" }, { EOVERFLOW, "EOVERFLOW" },
		{ EPROTO, "EPROTO" }, { ENXIO, "ENXIO" },
	};
	static char buf[4][32];
	static unsigned int slot;
	long e = err < 0 ? -err : err;
	char *out;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == e)
			return names[i].name;
	out = buf[slot++ % 4];
	snprintf(out, sizeof(buf[0]), "errno %ld", e);
	return out;
}

static void t_describe(char *out, size_t sz, long v)
{
	if (v < 0 && v > -4096)
		snprintf(out, sz, "%ld (-%s)", v, t_errname(v));
	else
		snprintf(out, sz, "%ld", v);
}

int t_expect_at(const char *file, int line, const char *what, long got,
		long want)
{
	char g[64], w[64];

	if (got == want)
		return 1;
	t_describe(g, sizeof(g), got);
	t_describe(w, sizeof(w), want);
	t_fail_at(file, line, "%s: expected %s, got %s", what, w, g);
	return 0;
}

/*
 * Each generation as doc/abi.md describes it and the testbed speaks it.
 * The flag generation registers through the pbuf opcodes, maps the
 * buffers at the pbuf offset, and has nothing at the kmbuf offset: like
 * any offset the kernel does not know, mmap says -ENOMEM there, and so it
 * does at the pbuf offset of a bgid without a ring (mainline's answer).
 */
static const struct t_kmbuf_gen t_kmbuf_gens[] = {
	{
		.abi = T_KMBUF_ABI_SEED, .name = "seed",
		.reg_op = 38, .unreg_op = 39, .reg_flags = 0,
		.off_base = T_OFF_KMBUF_RING, .off_other = T_OFF_PBUF_RING,
		.off_missing_err = -EINVAL, .off_other_err = -EINVAL,
		.overflow_err = -EINVAL,
		.nr_register_opcodes = 40,
		.ops_from_31 = 1ull << (35 - 31) | 1ull << (38 - 31) |
			       1ull << (39 - 31),
		.has_switch = 1,
	},
	{
		.abi = T_KMBUF_ABI_FUSE, .name = "fuse",
		.reg_op = 37, .unreg_op = 38, .reg_flags = 0,
		.off_base = T_OFF_KMBUF_RING, .off_other = T_OFF_PBUF_RING,
		.off_missing_err = -EINVAL, .off_other_err = -EINVAL,
		.overflow_err = -E2BIG,
		.nr_register_opcodes = 39,
		.ops_from_31 = 1ull << (35 - 31) | 1ull << (37 - 31) |
			       1ull << (38 - 31),
		.has_switch = 1,
	},
	{
		.abi = T_KMBUF_ABI_FLAG, .name = "flag",
		.reg_op = T_REGISTER_PBUF_RING, .unreg_op = T_UNREGISTER_PBUF_RING,
		.reg_flags = T_PBUF_RING_MMAP | T_PBUF_RING_KERNEL_MANAGED,
		.off_base = T_OFF_PBUF_RING, .off_other = T_OFF_KMBUF_RING,
		.off_missing_err = -ENOMEM, .off_other_err = -ENOMEM,
		.overflow_err = -EINVAL,
		.nr_register_opcodes = 36,
		.ops_from_31 = 1ull << (35 - 31),
		.has_switch = 1,
	},
	/* the testbed before the switch: the seed, and no QUERY */
	{
		.abi = T_KMBUF_ABI_SEED, .name = "seed",
		.reg_op = 38, .unreg_op = 39, .reg_flags = 0,
		.off_base = T_OFF_KMBUF_RING, .off_other = T_OFF_PBUF_RING,
		.off_missing_err = -EINVAL, .off_other_err = -EINVAL,
		.overflow_err = -EINVAL,
		.nr_register_opcodes = 0,
		.ops_from_31 = 1ull << (38 - 31) | 1ull << (39 - 31),
		.has_switch = 0,
	},
};

static const struct t_dmabuf_gen t_dmabuf_gens[] = {
	{
		.abi = T_DMABUF_ABI_SEED, .name = "seed",
		.update_flag = 1, .other_flag = 2, .entry_size = 16,
		.has_switch = 1,
	},
	{
		.abi = T_DMABUF_ABI_DESC, .name = "desc",
		.update_flag = 2, .other_flag = 1, .entry_size = 80,
		.has_switch = 1,
	},
	{
		.abi = T_DMABUF_ABI_SEED, .name = "seed",
		.update_flag = 1, .other_flag = 2, .entry_size = 16,
		.has_switch = 0,
	},
};

#define T_NR_KMBUF_GENS	(sizeof(t_kmbuf_gens) / sizeof(t_kmbuf_gens[0]))
#define T_NR_DMABUF_GENS (sizeof(t_dmabuf_gens) / sizeof(t_dmabuf_gens[0]))

static const struct t_kmbuf_gen *t_kmbuf_cur;
static const struct t_dmabuf_gen *t_dmabuf_cur;
static char t_mode_text[96];
static pthread_once_t t_gen_once = PTHREAD_ONCE_INIT;

/* The first line of @path without its newline: 0, or -1 if unreadable. */
static int t_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char *nl;

	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return 0;
}

/* The value of "@key=" on the kernel command line into @val, else "". */
static void t_cmdline_value(const char *key, char *val, size_t len)
{
	static char cmdline[4096];
	size_t klen = strlen(key);
	char *p;

	val[0] = 0;
	if (t_read_line("/proc/cmdline", cmdline, sizeof(cmdline)))
		return;
	/* the last one counts, as for the kernel's own parsing */
	for (p = cmdline; (p = strstr(p, key)) != NULL; p += klen) {
		size_t n;

		if ((p != cmdline && p[-1] != ' ') || p[klen] != '=')
			continue;
		n = strcspn(p + klen + 1, " ");
		if (n >= len)
			n = len - 1;
		memcpy(val, p + klen + 1, n);
		val[n] = 0;
	}
}

/*
 * The running value of the switch @key (kmbuf.abi, dmabuf.abi), checked
 * against the command line: the index of its name in @names (< @nr), or
 * -1 for a kernel without the switch.
 */
static int t_switch_value(const char *key, const char *sysfs,
			  const char *const *names, int nr)
{
	char val[64], want[64];
	int i, found = -1;

	t_cmdline_value(key, want, sizeof(want));
	if (t_read_line(sysfs, val, sizeof(val))) {
		if (want[0])
			t_fail("the kernel command line says %s=%s, but %s is missing: the kernel ignored the switch",
			       key, want, sysfs);
		return -1;
	}
	for (i = 0; i < nr; i++)
		if (!strcmp(val, names[i]))
			found = i;
	if (found < 0)
		t_fail("%s says '%s', which is no generation the tests know",
		       sysfs, val);
	else if (want[0] && strcmp(want, val))
		t_fail("the kernel command line says %s=%s, but %s says '%s'",
		       key, want, sysfs, val);
	return found;
}

static void t_gen_init(void)
{
	static const char *const knames[] = { "seed", "fuse", "flag" };
	static const char *const dnames[] = { "seed", "desc" };
	int k, d;

	k = t_switch_value("kmbuf.abi", "/sys/module/kmbuf/parameters/abi",
			   knames, 3);
	d = t_switch_value("dmabuf.abi", "/sys/module/dmabuf/parameters/abi",
			   dnames, 2);
	/* without the switch: the last row, the seed of the older testbed */
	t_kmbuf_cur = &t_kmbuf_gens[k < 0 ? T_NR_KMBUF_GENS - 1 : (size_t)k];
	t_dmabuf_cur = &t_dmabuf_gens[d < 0 ? T_NR_DMABUF_GENS - 1 : (size_t)d];
	snprintf(t_mode_text, sizeof(t_mode_text), "kmbuf.abi=%s%s dmabuf.abi=%s%s",
		 t_kmbuf_cur->name, t_kmbuf_cur->has_switch ? "" : " (no switch)",
		 t_dmabuf_cur->name, t_dmabuf_cur->has_switch ? "" : " (no switch)");
	printf("ABI mode: %s\n", t_mode_text);
	fflush(stdout);
}

const struct t_kmbuf_gen *t_kmbuf_gen(void)
{
	pthread_once(&t_gen_once, t_gen_init);
	return t_kmbuf_cur;
}

const struct t_dmabuf_gen *t_dmabuf_gen(void)
{
	pthread_once(&t_gen_once, t_gen_init);
	return t_dmabuf_cur;
}

const char *t_abi_mode(void)
{
	pthread_once(&t_gen_once, t_gen_init);
	return t_mode_text;
}

int t_register_op_exists(unsigned int op)
{
	const struct t_kmbuf_gen *g = t_kmbuf_gen();

	if (op <= T_REGISTER_CLONE_BUFFERS)
		return 1;
	if (op > 63)
		return 0;
	return !!(g->ops_from_31 & 1ull << (op - 31));
}

/*
 * The library's generation numbers are the contract's; until the library
 * has io_uring_kmbuf_abi() and io_uring_dmabuf_abi(), there is nothing to
 * compare.
 */
#ifdef IO_URING_KMBUF_ABI_SEED
_Static_assert(IO_URING_KMBUF_ABI_NONE == T_KMBUF_ABI_NONE &&
	       IO_URING_KMBUF_ABI_SEED == T_KMBUF_ABI_SEED &&
	       IO_URING_KMBUF_ABI_FUSE == T_KMBUF_ABI_FUSE &&
	       IO_URING_KMBUF_ABI_FLAG == T_KMBUF_ABI_FLAG,
	       "the library numbers the kmbuf generations as the contract does");
#endif
#ifdef IO_URING_DMABUF_ABI_SEED
_Static_assert(IO_URING_DMABUF_ABI_NONE == T_DMABUF_ABI_NONE &&
	       IO_URING_DMABUF_ABI_SEED == T_DMABUF_ABI_SEED &&
	       IO_URING_DMABUF_ABI_DESC == T_DMABUF_ABI_DESC,
	       "the library numbers the dmabuf generations as the contract does");
#endif

void t_check_kmbuf_abi(int have_kmbuf)
{
#ifdef IO_URING_KMBUF_ABI_SEED
	t_expect("io_uring_kmbuf_abi() against the running kernel",
		 io_uring_kmbuf_abi(),
		 have_kmbuf ? t_kmbuf_gen()->abi : T_KMBUF_ABI_NONE);
#else
	(void)have_kmbuf;
	printf("note: the library has no io_uring_kmbuf_abi(): generation not compared\n");
#endif
}

void t_check_dmabuf_abi(int have_dmabuf)
{
#ifdef IO_URING_DMABUF_ABI_SEED
	t_expect("io_uring_dmabuf_abi() against the running kernel",
		 io_uring_dmabuf_abi(),
		 have_dmabuf ? t_dmabuf_gen()->abi : T_DMABUF_ABI_NONE);
#else
	(void)have_dmabuf;
	printf("note: the library has no io_uring_dmabuf_abi(): generation not compared\n");
#endif
}

int t_result(const char *test)
{
	if (t_failures) {
		printf("%s: %d check(s) failed\n", test, t_failures);
		return T_EXIT_FAIL;
	}
	printf("%s: all checks passed\n", test);
	return T_EXIT_PASS;
}

int t_skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return T_EXIT_SKIP;
}

static int t_io_uring_unavailable(int err)
{
	return err == -ENOSYS || err == -EPERM || err == -EACCES;
}

int t_ring_init(struct io_uring *ring, unsigned int entries)
{
	int ret = io_uring_queue_init(entries, ring, 0);

	if (!ret)
		return 0;
	if (t_io_uring_unavailable(ret))
		return t_skip("io_uring not available to this process (io_uring_queue_init: %s)",
			      t_errname(ret));
	t_fail("io_uring_queue_init(%u): expected 0, got %d (%s)", entries,
	       ret, t_errname(ret));
	return T_EXIT_FAIL;
}

int t_require_kmbuf(void)
{
	int ret = io_uring_probe_kmbuf();

	if (ret == 1) {
		t_kmbuf_gen();	/* prints the mode */
		return 0;
	}
	if (ret == 0)
		return t_skip("kernel lacks kmbuf rings (io_uring_probe_kmbuf() = 0)");
	if (t_io_uring_unavailable(ret))
		return t_skip("io_uring not available to this process (io_uring_probe_kmbuf: %s)",
			      t_errname(ret));
	t_fail("io_uring_probe_kmbuf() could not tell: expected 1 or 0, got %d (%s)",
	       ret, t_errname(ret));
	return T_EXIT_FAIL;
}

int t_require_testdrv(int *fd)
{
	int ret = open(KMBUF_TEST_DEVICE, O_RDWR | O_CLOEXEC);

	if (ret >= 0) {
		*fd = ret;
		return 0;
	}
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		return t_skip("testbed driver %s not present", KMBUF_TEST_DEVICE);
	t_fail("open(%s): expected a fd, got %s", KMBUF_TEST_DEVICE,
	       t_errname(errno));
	return T_EXIT_FAIL;
}

int t_require_testbed(int *drvfd, struct io_uring *ring, unsigned int entries)
{
	int ret;

	ret = t_require_kmbuf();
	if (!ret)
		ret = t_require_testdrv(drvfd);
	if (!ret)
		ret = t_ring_init(ring, entries);
	return ret;
}

void t_prep_drv(struct io_uring_sqe *sqe, int drvfd, unsigned int op,
		const struct kmbuf_test_cmd *cmd)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, drvfd, NULL, 0, 0);
	sqe->cmd_op = op;
	memset(sqe->cmd, 0, 16);
	memcpy(sqe->cmd, cmd, sizeof(*cmd));
}

int t_drv_batch(struct io_uring *ring, int drvfd, unsigned int op,
		const struct kmbuf_test_cmd *cmds, unsigned int n,
		struct t_cqe *cqes)
{
	struct __kernel_timespec ts = { .tv_sec = T_WAIT_SEC };
	unsigned int submitted = 0, done = 0;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	while (done < n) {
		/* Keep no more in flight than the SQ holds: the CQ is twice that. */
		while (submitted < n &&
		       submitted - done < *ring->sq.kring_entries &&
		       (sqe = io_uring_get_sqe(ring)) != NULL) {
			t_prep_drv(sqe, drvfd, op, &cmds[submitted]);
			sqe->user_data = submitted;
			submitted++;
		}
		ret = io_uring_submit(ring);
		if (ret < 0)
			return ret;
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret < 0)
			return ret;
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			if (cqe->user_data >= n)
				return -EPROTO;
			cqes[cqe->user_data].res = cqe->res;
			cqes[cqe->user_data].flags = cqe->flags;
			cqes[cqe->user_data].user_data = cqe->user_data;
			io_uring_cqe_seen(ring, cqe);
			done++;
		}
	}
	return 0;
}

int t_drv_run(struct io_uring *ring, int drvfd, unsigned int op,
	      const struct kmbuf_test_cmd *cmd, struct t_cqe *cqe)
{
	return t_drv_batch(ring, drvfd, op, cmd, 1, cqe);
}

int t_drv(struct io_uring *ring, int drvfd, unsigned int op,
	  unsigned short bgid, unsigned short bid, unsigned int len,
	  unsigned int seed)
{
	struct kmbuf_test_cmd cmd = {
		.bgid = bgid, .bid = bid, .len = len, .seed = seed,
	};
	struct t_cqe cqe;
	int ret;

	ret = t_drv_run(ring, drvfd, op, &cmd, &cqe);
	return ret ? ret : cqe.res;
}

int t_drv_fill(struct io_uring *ring, int drvfd, unsigned short bgid,
	       unsigned int len, unsigned int seed, struct t_cqe *cqe)
{
	struct kmbuf_test_cmd cmd = { .bgid = bgid, .len = len, .seed = seed };

	return t_drv_run(ring, drvfd, KMBUF_TEST_CMD_FILL, &cmd, cqe);
}

void t_to_cqe(const struct t_cqe *c, struct io_uring_cqe *cqe)
{
	memset(cqe, 0, sizeof(*cqe));
	cqe->res = c->res;
	cqe->flags = c->flags;
	cqe->user_data = c->user_data;
}

size_t t_check_pattern(const void *buf, size_t len, unsigned int seed)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != kmbuf_test_pattern(seed, (__u32)i))
			return i;
	return len;
}

size_t t_check_byte(const void *buf, size_t len, unsigned char c)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return i;
	return len;
}

int t_sys_register(int fd, unsigned int opcode, const void *arg,
		   unsigned int nr_args)
{
	long ret = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);

	return ret < 0 ? -errno : (int)ret;
}

int t_sys_register_kmbuf(int ring_fd, const struct io_uring_kmbuf_reg *reg)
{
	const struct t_kmbuf_gen *g = t_kmbuf_gen();
	struct io_uring_kmbuf_reg copy;

	if (!reg)
		return t_sys_register(ring_fd, g->reg_op, NULL, 1);
	copy = *reg;
	copy.flags |= (__u16)g->reg_flags;
	return t_sys_register(ring_fd, g->reg_op, &copy, 1);
}

int t_sys_unregister_kmbuf(int ring_fd, const struct io_uring_kmbuf_reg *reg)
{
	return t_sys_register(ring_fd, t_kmbuf_gen()->unreg_op, reg, 1);
}

int t_sys_mmap(int ring_fd, __u64 offset, size_t len, void **addr)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, ring_fd, (off_t)offset);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

__u64 t_kmbuf_off(unsigned short bgid)
{
	return t_kmbuf_gen()->off_base | (__u64)bgid << T_OFF_BGID_SHIFT;
}

__u64 t_kmbuf_other_off(unsigned short bgid)
{
	return t_kmbuf_gen()->off_other | (__u64)bgid << T_OFF_BGID_SHIFT;
}

__u64 t_pbuf_off(unsigned short bgid)
{
	return T_OFF_PBUF_RING | (__u64)bgid << T_OFF_BGID_SHIFT;
}

unsigned int t_page_size(void)
{
	return (unsigned int)sysconf(_SC_PAGESIZE);
}

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int t_pbuf_setup(struct io_uring *ring, unsigned int entries,
		 unsigned int buf_size, unsigned short bgid, struct t_pbuf *pb)
{
	struct io_uring_buf_reg reg;
	unsigned int i;
	void *p;
	int ret;

	memset(pb, 0, sizeof(*pb));
	pb->entries = entries;
	pb->buf_size = buf_size;
	pb->bgid = bgid;
	pb->ring_len = (entries * sizeof(struct io_uring_buf) + t_page_size() - 1) &
		       ~((size_t)t_page_size() - 1);
	pb->bufs_len = (size_t)entries * buf_size;

	p = mmap(NULL, pb->ring_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	pb->br = p;
	p = mmap(NULL, pb->bufs_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		munmap(pb->br, pb->ring_len);
		return ret;
	}
	pb->bufs = p;

	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)pb->br;
	reg.ring_entries = entries;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		munmap(pb->bufs, pb->bufs_len);
		munmap(pb->br, pb->ring_len);
		return ret;
	}
	io_uring_buf_ring_init(pb->br);
	for (i = 0; i < entries; i++)
		io_uring_buf_ring_add(pb->br, (char *)pb->bufs + (size_t)i * buf_size,
				      buf_size, (unsigned short)i,
				      io_uring_buf_ring_mask(entries), (int)i);
	io_uring_buf_ring_advance(pb->br, (int)entries);
	return 0;
}

void t_pbuf_recycle(struct t_pbuf *pb, unsigned int bid)
{
	io_uring_buf_ring_add(pb->br, (char *)pb->bufs + (size_t)bid * pb->buf_size,
			      pb->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(pb->entries), 0);
	io_uring_buf_ring_advance(pb->br, 1);
}

int t_pbuf_free(struct io_uring *ring, struct t_pbuf *pb)
{
	int ret = io_uring_unregister_buf_ring(ring, pb->bgid);

	munmap(pb->bufs, pb->bufs_len);
	munmap(pb->br, pb->ring_len);
	memset(pb, 0, sizeof(*pb));
	return ret;
}

static int t_run_one(struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_sec = T_WAIT_SEC };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

int t_provide_buffers(struct io_uring *ring, void *addr, unsigned int len,
		      unsigned int nr, unsigned short bgid, unsigned short bid)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_provide_buffers(sqe, addr, (int)len, (int)nr, bgid, bid);
	return t_run_one(ring);
}

int t_remove_buffers(struct io_uring *ring, unsigned int nr,
		     unsigned short bgid)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_remove_buffers(sqe, (int)nr, bgid);
	return t_run_one(ring);
}

long t_proc_kb(const char *path, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* Does this maps line (up to its newline) carry a pathname, not [heap]? */
static int t_maps_line_named(const char *line)
{
	const char *p = line;
	int field;

	/* address, perms, offset, dev, inode: then the pathname, if any */
	for (field = 0; field < 5; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return 0;
	return strncmp(p, "[heap]", 6) != 0;
}

long t_maps_count_text(const char *text)
{
	const char *p = text;
	long n = 0;

	while (*p) {
		n += t_maps_line_named(p);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

long t_maps_count(void)
{
	/* static: a buffer on the heap could add the very mapping it counts */
	static char text[65536];

	if (t_maps_read(text, sizeof(text)) < 0)
		return -1;
	return t_maps_count_text(text);
}

int t_maps_has(const void *addr)
{
	unsigned long start, want = (unsigned long)addr;
	char line[512];
	int found = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-", &start) == 1 && start == want) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

long t_fd_count(void)
{
	struct dirent *de;
	long n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Wait up to @ms for @pid to exit: 1 and *status if it did, 0 if not. */
static int t_wait_exit(pid_t pid, unsigned int ms, int *status)
{
	uint64_t end = t_now_ns() + (uint64_t)ms * 1000000ull;
	struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };

	do {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
		nanosleep(&nap, NULL);
	} while (t_now_ns() < end);
	return 0;
}

int t_child_start(struct t_child *c, int (*fn)(void *), void *arg,
		  const char *what)
{
	unsigned char code;
	int pipefd[2];
	pid_t pid;

	c->what = what;
	c->pid = -1;
	c->fd = -1;
	if (pipe(pipefd)) {
		t_fail("%s: pipe: %s", what, t_errname(errno));
		return T_EXIT_FAIL;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		t_fail("%s: fork: %s", what, t_errname(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return T_EXIT_FAIL;
	}
	if (pid == 0) {
		close(pipefd[0]);
		code = (unsigned char)fn(arg);
		fflush(stdout);
		fflush(stderr);
		/* the result first: the exit itself may never finish */
		if (write(pipefd[1], &code, 1) != 1)
			_exit(T_EXIT_FAIL);
		_exit(code);
	}
	close(pipefd[1]);
	c->pid = pid;
	c->fd = pipefd[0];
	return 0;
}

int t_child_finish(struct t_child *c, unsigned int timeout_sec,
		   unsigned int exit_grace_sec, int *stuck)
{
	const char *what = c->what;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	unsigned char code = T_EXIT_FAIL;
	int status, ret;
	uint64_t end;

	if (stuck)
		*stuck = 0;
	end = t_now_ns() + (uint64_t)timeout_sec * 1000000000ull;
	for (;;) {
		uint64_t now = t_now_ns();

		ret = now < end ? poll(&pfd, 1, (int)((end - now) / 1000000 + 1)) : 0;
		if (ret >= 0 || errno != EINTR)
			break;
	}
	if (ret == 0) {
		close(c->fd);
		t_fail("%s: no result within %u s; killing it", what,
		       timeout_sec);
		kill(c->pid, SIGKILL);
		if (!t_wait_exit(c->pid, exit_grace_sec * 1000, &status)) {
			t_fail("%s: still not gone %u s after SIGKILL: stuck in the kernel, left behind",
			       what, exit_grace_sec);
			if (stuck)
				*stuck = 1;
		}
		return T_EXIT_FAIL;
	}
	ret = (int)read(c->fd, &code, 1);
	close(c->fd);
	if (!t_wait_exit(c->pid, exit_grace_sec * 1000, &status)) {
		t_fail("%s: reported %s but did not exit within %u s: stuck in the kernel, left behind",
		       what, ret == 1 ? (code == 0 ? "pass" : "failure") : "nothing",
		       exit_grace_sec);
		if (stuck)
			*stuck = 1;
		return T_EXIT_FAIL;
	}
	if (WIFSIGNALED(status)) {
		t_fail("%s: died of signal %d", what, WTERMSIG(status));
		return T_EXIT_FAIL;
	}
	if (ret != 1) {
		t_fail("%s: exited (%d) without reporting a result", what,
		       WEXITSTATUS(status));
		return T_EXIT_FAIL;
	}
	return code;
}

int t_run_child(int (*fn)(void *), void *arg, const char *what,
		unsigned int timeout_sec, unsigned int exit_grace_sec,
		int *stuck)
{
	struct t_child c;
	int ret;

	if (stuck)
		*stuck = 0;
	ret = t_child_start(&c, fn, arg, what);
	if (ret)
		return ret;
	return t_child_finish(&c, timeout_sec, exit_grace_sec, stuck);
}

long t_maps_read(char *buf, size_t len)
{
	size_t n = 0;
	FILE *f;

	if (!len)
		return -1;
	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return (long)n;
}

void t_maps_print_new(const char *old, const char *who)
{
	char line[512];
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = 0;
		if (!strstr(old, line))
			printf("%s: new mapping: %s\n", who, line);
	}
	fclose(f);
}
