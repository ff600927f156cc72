/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dmabuf-util.h"

/* How long one request may take before we call it hung. */
#define TD_WAIT_SEC	30

int td_require_dmabuf(void)
{
	int ret = io_uring_probe_dmabuf();

	if (ret == 1) {
		t_dmabuf_gen();	/* prints the mode */
		return 0;
	}
	if (ret == 0)
		return t_skip("kernel lacks dmabuf registered buffers (io_uring_probe_dmabuf() = 0)");
	if (ret == -ENOSYS || ret == -EPERM || ret == -EACCES)
		return t_skip("io_uring not available to this process (io_uring_probe_dmabuf: %s)",
			      t_errname(ret));
	t_fail("io_uring_probe_dmabuf() could not tell: expected 1 or 0, got %d (%s)",
	       ret, t_errname(ret));
	return T_EXIT_FAIL;
}

int td_require_nvme(int flags, int *fd)
{
	int ret = open(td_nvme_path(), flags | O_CLOEXEC);

	if (ret >= 0) {
		*fd = ret;
		return 0;
	}
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		return t_skip("no NVMe namespace at %s (the testbed VM has one: make vmcheck)",
			      td_nvme_path());
	if (errno == EACCES || errno == EPERM)
		return t_skip("%s is not accessible to this user", td_nvme_path());
	t_fail("open(%s): %s", td_nvme_path(), strerror(errno));
	return T_EXIT_FAIL;
}

int td_require_udmabuf(size_t size, struct io_uring_udmabuf **ub)
{
	int ret = io_uring_udmabuf_alloc(size, ub);

	if (!ret)
		return 0;
	if (ret == -ENOENT)
		return t_skip("udmabuf not available (no %s)", TD_UDMABUF_DEV);
	if (ret == -EACCES || ret == -EPERM)
		return t_skip("%s is not accessible to this user", TD_UDMABUF_DEV);
	t_fail("io_uring_udmabuf_alloc(%zu): expected 0, got %d (%s)", size,
	       ret, t_errname(ret));
	return T_EXIT_FAIL;
}

_Static_assert(sizeof(struct td_update) == 32 &&
	       offsetof(struct td_update, data) == 8 &&
	       offsetof(struct td_update, tags) == 16 &&
	       offsetof(struct td_update, nr) == 24,
	       "io_uring_rsrc_update2 layout");
_Static_assert(sizeof(struct td_reg_buffer) == 16 &&
	       offsetof(struct td_reg_buffer, target_fd) == 8 &&
	       offsetof(struct td_reg_buffer, dmabuf_fd) == 12,
	       "io_uring_reg_buffer layout");
_Static_assert(sizeof(struct td_regbuf_desc) == 80 &&
	       offsetof(struct td_regbuf_desc, size) == 8 &&
	       offsetof(struct td_regbuf_desc, uaddr) == 16 &&
	       offsetof(struct td_regbuf_desc, dmabuf_fd) == 24 &&
	       offsetof(struct td_regbuf_desc, target_fd) == 28 &&
	       offsetof(struct td_regbuf_desc, resv) == 32,
	       "io_uring_regbuf_desc layout");

static int td_send_update(int ring_fd, unsigned int index, unsigned int flags,
			  const void *data, const __u64 *tags, unsigned int nr)
{
	struct td_update up = {
		.offset = index,
		.flags = flags,
		.data = (__u64)(uintptr_t)data,
		.tags = (__u64)(uintptr_t)tags,
		.nr = nr,
	};

	return t_sys_register(ring_fd, T_REGISTER_BUFFERS_UPDATE, &up,
			      sizeof(up));
}

int td_update_raw(int ring_fd, unsigned int index, unsigned int flags,
		  const struct iovec *iov, int target_fd, int dmabuf_fd)
{
	struct iovec empty = { .iov_base = NULL, .iov_len = 0 };
	struct td_reg_buffer reg = {
		.iov_uaddr = (__u64)(uintptr_t)(iov ? iov : &empty),
		.target_fd = target_fd,
		.dmabuf_fd = dmabuf_fd,
	};

	return td_send_update(ring_fd, index, flags, &reg, NULL, 1);
}

int td_update_desc(int ring_fd, unsigned int index, unsigned int flags,
		   const struct td_regbuf_desc *d, unsigned int nr,
		   const __u64 *tags)
{
	return td_send_update(ring_fd, index, flags, d, tags, nr);
}

int td_update_slots(int ring_fd, unsigned int offset,
		    const struct td_slot *slots, const __u64 *tags,
		    unsigned int nr)
{
	const struct t_dmabuf_gen *g = t_dmabuf_gen();
	struct td_regbuf_desc *d = NULL;
	struct td_reg_buffer *r = NULL;
	struct iovec *iov = NULL;
	unsigned int i;
	int ret;

	if (g->abi == T_DMABUF_ABI_DESC) {
		d = calloc(nr ? nr : 1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		for (i = 0; i < nr; i++) {
			switch (slots[i].kind) {
			case TD_EMPTY:
				d[i].type = TD_DESC_EMPTY;
				break;
			case TD_USER:
				d[i].type = TD_DESC_UADDR;
				d[i].uaddr = (__u64)(uintptr_t)slots[i].addr;
				d[i].size = slots[i].len;
				break;
			case TD_DMABUF:
				d[i].type = TD_DESC_DMABUF;
				d[i].target_fd = slots[i].target_fd;
				d[i].dmabuf_fd = slots[i].dmabuf_fd;
				break;
			}
		}
		ret = td_send_update(ring_fd, offset, g->update_flag, d, tags, nr);
		free(d);
		return ret;
	}

	r = calloc(nr ? nr : 1, sizeof(*r));
	iov = calloc(nr ? nr : 1, sizeof(*iov));
	if (!r || !iov) {
		free(r);
		free(iov);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		r[i].iov_uaddr = (__u64)(uintptr_t)&iov[i];
		r[i].target_fd = -1;
		r[i].dmabuf_fd = -1;
		switch (slots[i].kind) {
		case TD_EMPTY:
			break;
		case TD_USER:
			iov[i].iov_base = slots[i].addr;
			iov[i].iov_len = slots[i].len;
			break;
		case TD_DMABUF:
			r[i].target_fd = slots[i].target_fd;
			r[i].dmabuf_fd = slots[i].dmabuf_fd;
			break;
		}
	}
	ret = td_send_update(ring_fd, offset, g->update_flag, r, tags, nr);
	free(r);
	free(iov);
	return ret;
}

int td_update_user(int ring_fd, unsigned int index, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };

	/* the plain format of mainline: no flag, an iovec */
	return td_send_update(ring_fd, index, 0, &iov, NULL, 1);
}

int td_submit_rw_fixed(struct io_uring *ring, unsigned int op, int fd,
		       unsigned int index, __u64 addr, unsigned int len,
		       __u64 off, __u64 user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(op, sqe, fd, (void *)(uintptr_t)addr, len, off);
	sqe->buf_index = (__u16)index;
	sqe->user_data = user_data;
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -EIO;
}

int td_reap(struct io_uring *ring, __u64 *user_data)
{
	struct __kernel_timespec ts = { .tv_sec = TD_WAIT_SEC };
	struct io_uring_cqe *cqe;
	unsigned int flags;
	int ret, res;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret < 0)
		return ret == -ETIME ? -ETIMEDOUT : ret;
	res = cqe->res;
	flags = cqe->flags;
	if (user_data)
		*user_data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	if (flags & IORING_CQE_F_MORE) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret < 0)
			return ret == -ETIME ? -ETIMEDOUT : ret;
		io_uring_cqe_seen(ring, cqe);
	}
	return res;
}

int td_rw_fixed(struct io_uring *ring, unsigned int op, int fd,
		unsigned int index, __u64 addr, unsigned int len, __u64 off)
{
	int ret = td_submit_rw_fixed(ring, op, fd, index, addr, len, off, 0);

	return ret ? ret : td_reap(ring, NULL);
}

void td_fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = kmbuf_test_pattern(seed, (__u32)i);
}

int td_p2p_export(int drv, int bdev_fd, __u64 size, __u32 flags,
		  int *dmabuf_fd, __u32 *nr_segs)
{
	struct kmbuf_test_p2p_export e = {
		.bdev_fd = bdev_fd, .flags = flags, .size = size,
	};

	if (ioctl(drv, KMBUF_TEST_IOC_P2P_EXPORT, &e))
		return -errno;
	*dmabuf_fd = e.dmabuf_fd;
	if (nr_segs)
		*nr_segs = e.nr_segs;
	return 0;
}

int td_p2p_op(int drv, unsigned long cmd, int dmabuf_fd)
{
	struct kmbuf_test_p2p_op op = { .dmabuf_fd = dmabuf_fd };

	return ioctl(drv, cmd, &op) ? -errno : 0;
}

int td_p2p_info(int drv, int dmabuf_fd, struct kmbuf_test_p2p_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	info->dmabuf_fd = dmabuf_fd;
	return ioctl(drv, KMBUF_TEST_IOC_P2P_INFO, info) ? -errno : 0;
}

int td_dmabuf_fence(int drv, int dmabuf_fd, unsigned int delay_ms,
		    unsigned int flags, unsigned int seed)
{
	struct kmbuf_test_dmabuf_fence f = {
		.dmabuf_fd = dmabuf_fd, .delay_ms = delay_ms, .flags = flags,
		.seed = seed,
	};

	return ioctl(drv, KMBUF_TEST_IOC_DMABUF_FENCE, &f) ? -errno : 0;
}

long td_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static sigjmp_buf td_bus_jmp;

static void td_on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(td_bus_jmp, 1);
}

int td_touch_sigbus(volatile unsigned char *p)
{
	struct sigaction sa = { .sa_handler = td_on_sigbus }, old;
	volatile int bus = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(td_bus_jmp, 1))
		bus = 1;
	else
		(void)*p;
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

int td_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(s))
		ret = -EIO;
	close(fd);
	return ret;
}

long td_read_long(const char *fmt, ...)
{
	char path[PATH_MAX];
	long v = -EINVAL;
	va_list ap;
	FILE *f;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &v) != 1)
		v = -EINVAL;
	fclose(f);
	return v;
}

int td_pci_function(const char *bdev, char *out, size_t len)
{
	const char *name = strrchr(bdev, '/');
	char link[PATH_MAX], real[PATH_MAX];

	snprintf(link, sizeof(link), "/sys/block/%s/device/device",
		 name ? name + 1 : bdev);
	if (!realpath(link, real))
		return -errno;
	if (strlen(real) >= len)
		return -ENAMETOOLONG;
	strcpy(out, real);
	return 0;
}

const char *td_nvme_path(void)
{
	const char *dev = getenv("KMBUF_TEST_NVME");

	return dev && *dev ? dev : TD_NVME_DEV;
}

int td_update_tagged(int ring_fd, unsigned int index, int target_fd,
		     int dmabuf_fd, __u64 tag)
{
	struct td_slot slot = { .kind = TD_EMPTY };

	if (target_fd != -1 || dmabuf_fd != -1) {
		slot.kind = TD_DMABUF;
		slot.target_fd = target_fd;
		slot.dmabuf_fd = dmabuf_fd;
	}
	return td_update_slots(ring_fd, index, &slot, &tag, 1);
}

int td_clone_buffers(int dst_fd, int src_fd)
{
	/* struct io_uring_clone_buffers of 6.12: src_fd, flags, pad[6] */
	struct {
		__u32	src_fd;
		__u32	flags;
		__u32	pad[6];
	} arg = { .src_fd = (__u32)src_fd };

	return t_sys_register(dst_fd, T_REGISTER_CLONE_BUFFERS, &arg, 1);
}
