/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * The test driver's device-memory exporter on its own, before any importer
 * uses it: the NVMe drive's controller memory buffer is p2pmem, exported
 * as dma-bufs (contiguous and scattered), seen by the CPU through mmap,
 * moved and revoked, and revoked by itself when the controller is removed
 * from the PCI bus. Fences from the driver on those buffers and on a
 * udmabuf hold DMA_BUF_IOCTL_SYNC until they signal, and a FILL fence
 * writes its pattern first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "dmabuf-util.h"

#define LEN		(1024 * 1024)
/* not a multiple of the 64 KiB chunk: the last segment is shorter */
#define SCATTER_LEN	(LEN + 8192)
#define FENCE_MS	300
/* how much earlier than the fence's delay a wait may end (jiffies) */
#define FENCE_SLACK_MS	30

static int drv;

static int ioc(unsigned long cmd, void *arg)
{
	return ioctl(drv, cmd, arg) ? -errno : 0;
}

/* An export that is expected to fail: its errno. */
static int export_err(int bdev_fd, __u64 size, __u32 flags)
{
	int fd, ret = td_p2p_export(drv, bdev_fd, size, flags, &fd, NULL);

	if (!ret)
		close(fd);
	return ret;
}

/* DMA_BUF_IOCTL_SYNC start + end with @flags: ms it took, or -errno. */
static long sync_ms(int dmabuf_fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | flags };
	long t0 = td_now_ms();

	if (ioctl(dmabuf_fd, DMA_BUF_IOCTL_SYNC, &s))
		return -errno;
	s.flags = DMA_BUF_SYNC_END | flags;
	if (ioctl(dmabuf_fd, DMA_BUF_IOCTL_SYNC, &s))
		return -errno;
	return td_now_ms() - t0;
}

static void *map(int fd, size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int map_err(int fd, size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

static void expect_info(const char *what, int dmabuf_fd, __u32 state,
			__u64 size, __u32 nr_segs, __u32 moves)
{
	struct kmbuf_test_p2p_info in;
	char w[128];

	snprintf(w, sizeof(w), "%s: P2P_INFO", what);
	if (!t_expect(w, td_p2p_info(drv, dmabuf_fd, &in), 0))
		return;
	snprintf(w, sizeof(w), "%s: state", what);
	t_expect(w, in.state, state);
	snprintf(w, sizeof(w), "%s: size", what);
	t_expect(w, in.size, size);
	snprintf(w, sizeof(w), "%s: nr_segs", what);
	t_expect(w, in.nr_segs, nr_segs);
	snprintf(w, sizeof(w), "%s: moves", what);
	t_expect(w, in.moves, moves);
	/* nothing imports these buffers */
	snprintf(w, sizeof(w), "%s: attachments/mappings/pins", what);
	t_expect(w, in.attachments + in.mappings + in.pins, 0);
	snprintf(w, sizeof(w), "%s: __resv", what);
	t_expect(w, in.__resv[0] | in.__resv[1], 0);
}

static __u32 faults(int dmabuf_fd)
{
	struct kmbuf_test_p2p_info in;

	return td_p2p_info(drv, dmabuf_fd, &in) ? 0 : in.faults;
}

static void check_errors(int nvme, const char *far)
{
	struct kmbuf_test_p2p_export e = { .bdev_fd = nvme, .size = LEN };
	int fd, ret;

	t_expect("export: fd not open", export_err(1000, LEN, 0), -EBADF);
	fd = open("regular", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	t_expect("export: regular file", export_err(fd, LEN, 0), -ENOTBLK);
	close(fd);
	t_expect("export: character device", export_err(drv, LEN, 0), -ENOTBLK);
	if (far) {
		fd = open(far, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			t_fail("open(%s): %s", far, t_errname(errno));
		else
			t_expect("export: far controller (no CMB)",
				 export_err(fd, LEN, 0), -ENODEV);
		close(fd);
	} else if (getenv("KMBUF_IN_VM")) {
		t_fail("no $KMBUF_TEST_NVME_FAR in the testbed VM");
	}
	t_expect("export: size 0", export_err(nvme, 0, 0), -EINVAL);
	t_expect("export: size not a page multiple", export_err(nvme, 4097, 0),
		 -EINVAL);
	t_expect("export: size above 1 GiB",
		 export_err(nvme, (1ULL << 30) + 4096, 0), -EINVAL);
	t_expect("export: unknown flag", export_err(nvme, LEN, 2), -EINVAL);
	e.__resv[1] = 1;
	ret = ioc(KMBUF_TEST_IOC_P2P_EXPORT, &e);
	if (!ret)
		close(e.dmabuf_fd);
	t_expect("export: __resv", ret, -EINVAL);
	/* the CMB is 16 MiB */
	t_expect("export: more than the CMB", export_err(nvme, 32 << 20, 0),
		 -ENOMEM);
	t_expect("export: more than the CMB, scattered",
		 export_err(nvme, 32 << 20, KMBUF_TEST_P2P_F_SCATTER), -ENOMEM);
}

/*
 * A buffer through two CPU mappings: zeroed at export, a write through one
 * is read through the other; MOVE keeps it and the mappings fault again.
 */
static void check_buffer(int nvme, size_t len, __u32 flags, __u32 segs,
			 unsigned int seed)
{
	const char *what = flags ? "scatter" : "contiguous";
	__u32 state = flags ? KMBUF_TEST_P2P_S_SCATTER : 0;
	struct kmbuf_test_p2p_op op;
	unsigned char *a, *b;
	__u32 nr_segs, f0;
	int fd, ret;
	long ms;

	ret = td_p2p_export(drv, nvme, len, flags, &fd, &nr_segs);
	if (!t_expect(what, ret, 0))
		return;
	t_expect("nr_segs", nr_segs, segs);
	t_expect("dma-buf fd is O_RDWR", fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	t_expect("dma-buf fd is O_CLOEXEC", fcntl(fd, F_GETFD) & FD_CLOEXEC,
		 FD_CLOEXEC);
	expect_info(what, fd, state, len, segs, 0);

	t_expect("MAP_PRIVATE", map_err(fd, len, MAP_PRIVATE), -EINVAL);
	t_expect("mmap past the end", map_err(fd, len + 4096, MAP_SHARED),
		 -EINVAL);
	a = map(fd, len, MAP_SHARED);
	b = map(fd, len, MAP_SHARED);
	if (!a || !b) {
		t_fail("%s: mmap: %s", what, t_errname(errno));
		close(fd);
		return;
	}
	t_expect("zeroed at export", t_check_byte(b, len, 0), len);
	t_expect("SYNC without fences", sync_ms(fd, DMA_BUF_SYNC_RW) >= 0, 1);
	td_fill(a, len, seed);
	t_expect("written through one view, read through the other",
		 t_check_pattern(b, len, seed), len);

	f0 = faults(fd);
	t_expect("MOVE", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, fd), 0);
	expect_info("after MOVE", fd, state, len, segs, 1);
	t_expect("contents after MOVE", t_check_pattern(b, len, seed), len);
	t_expect("contents after MOVE, other view",
		 t_check_pattern(a, len, seed), len);
	t_expect("both views refaulted after MOVE (pages)",
		 faults(fd) - f0 >= 2 * len / 4096, 1);

	/* MOVE waits for the fences: a FILL's pattern moves with it */
	t_expect("FILL fence", td_dmabuf_fence(drv, fd, FENCE_MS, KMBUF_TEST_FENCE_F_FILL,
				     seed + 1), 0);
	ms = td_now_ms();
	t_expect("MOVE behind a fence", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, fd), 0);
	ms = td_now_ms() - ms;
	if (ms < FENCE_MS - FENCE_SLACK_MS)
		t_fail("%s: MOVE took %ld ms, the fence %d ms", what, ms,
		       FENCE_MS);
	t_expect("FILL's pattern after MOVE", t_check_pattern(a, len, seed + 1),
		 len);
	op.dmabuf_fd = fd;
	op.flags = 1;
	t_expect("MOVE with flags", ioc(KMBUF_TEST_IOC_P2P_MOVE, &op), -EINVAL);

	munmap(a, len);
	munmap(b, len);
	close(fd);
}

/*
 * A FILL fence on @fd (a @len byte dma-buf seen at @view): SYNC for writing
 * waits for it and then sees the pattern; SYNC for reading waits for a WRITE
 * fence but not for a READ one.
 */
static void check_fill(const char *what, int fd, unsigned char *view,
		       size_t len, unsigned int seed)
{
	char w[128];
	long ms;

	snprintf(w, sizeof(w), "%s: FILL fence", what);
	if (!t_expect(w, td_dmabuf_fence(drv, fd, FENCE_MS, KMBUF_TEST_FENCE_F_FILL, seed), 0))
		return;
	ms = sync_ms(fd, DMA_BUF_SYNC_READ);
	if (ms < FENCE_MS - FENCE_SLACK_MS)
		t_fail("%s: SYNC_READ after a FILL fence of %d ms took %ld",
		       what, FENCE_MS, ms);
	snprintf(w, sizeof(w), "%s: the pattern after the SYNC", what);
	t_expect(w, t_check_pattern(view, len, seed), len);

	/* a READ fence holds writers only */
	snprintf(w, sizeof(w), "%s: READ fence", what);
	t_expect(w, td_dmabuf_fence(drv, fd, FENCE_MS, KMBUF_TEST_FENCE_F_READ, 0), 0);
	ms = sync_ms(fd, DMA_BUF_SYNC_READ);
	if (ms < 0 || ms >= FENCE_MS - FENCE_SLACK_MS)
		t_fail("%s: SYNC_READ behind a READ fence took %ld ms", what, ms);
	ms = sync_ms(fd, DMA_BUF_SYNC_WRITE);
	if (ms < FENCE_MS / 2)
		t_fail("%s: SYNC_WRITE behind a READ fence took %ld ms", what, ms);
	snprintf(w, sizeof(w), "%s: READ fence did not write", what);
	t_expect(w, t_check_pattern(view, len, seed), len);
}

static void check_fence_errors(int fd, int nvme)
{
	struct kmbuf_test_dmabuf_fence f = {
		.dmabuf_fd = fd, .delay_ms = 1, .__resv = { 0, 1 },
	};
	struct kmbuf_test_p2p_info in;

	t_expect("FENCE: fd not open", td_dmabuf_fence(drv, 1000, 1, 0, 0), -EBADF);
	t_expect("FENCE: not a dma-buf", td_dmabuf_fence(drv, nvme, 1, 0, 0), -EINVAL);
	t_expect("FENCE: delay 0", td_dmabuf_fence(drv, fd, 0, 0, 0), -EINVAL);
	t_expect("FENCE: delay above 10 s", td_dmabuf_fence(drv, fd, 10001, 0, 0), -EINVAL);
	t_expect("FENCE: unknown flag", td_dmabuf_fence(drv, fd, 1, 4, 0), -EINVAL);
	t_expect("FENCE: __resv", ioc(KMBUF_TEST_IOC_DMABUF_FENCE, &f), -EINVAL);
	t_expect("MOVE on a udmabuf", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, fd),
		 -EINVAL);
	t_expect("REVOKE on a udmabuf", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_REVOKE, fd),
		 -EINVAL);
	t_expect("INFO on a udmabuf", td_p2p_info(drv, fd, &in), -EINVAL);
	t_expect("MOVE: fd not open", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, 1000),
		 -EBADF);
	t_expect("unknown ioctl", ioctl(drv, _IO(KMBUF_TEST_IOC_MAGIC, 99), 0)
		 ? -errno : 0, -ENOTTY);
}

static void check_udmabuf(int nvme)
{
	struct io_uring_udmabuf *ub;
	unsigned char *mem;
	int memfd;

	if (td_require_udmabuf(LEN, &ub)) {
		t_fail("no udmabuf");
		return;
	}
	check_fence_errors(ub->dmabuf_fd, nvme);
	check_fill("udmabuf", ub->dmabuf_fd, ub->addr, LEN, 21);

	/* the fence signals (and fills) with every fd of the buffer closed */
	memfd = dup(ub->memfd);
	mem = map(memfd, LEN, MAP_SHARED);
	t_expect("FILL fence, then close", td_dmabuf_fence(drv, ub->dmabuf_fd, FENCE_MS,
						 KMBUF_TEST_FENCE_F_FILL, 22), 0);
	io_uring_udmabuf_free(ub);
	usleep((FENCE_MS + 200) * 1000);
	if (mem)
		t_expect("FILL of a closed udmabuf",
			 t_check_pattern(mem, LEN, 22), LEN);
	else
		t_fail("mmap of the memfd: %s", t_errname(errno));
	if (mem)
		munmap(mem, LEN);
	close(memfd);
}

static void check_devmem_fence(int nvme)
{
	unsigned char *v;
	int fd;

	if (!t_expect("export for fences", td_p2p_export(drv, nvme, SCATTER_LEN,
			KMBUF_TEST_P2P_F_SCATTER, &fd, NULL), 0))
		return;
	v = map(fd, SCATTER_LEN, MAP_SHARED);
	if (v)
		check_fill("device memory", fd, v, SCATTER_LEN, 31);
	else
		t_fail("mmap: %s", t_errname(errno));
	if (v)
		munmap(v, SCATTER_LEN);
	/* a FILL fence keeps the buffer until it has signalled */
	t_expect("FILL fence, then close", td_dmabuf_fence(drv, fd, FENCE_MS,
						 KMBUF_TEST_FENCE_F_FILL, 32), 0);
	close(fd);
}

static void check_revoke(int nvme)
{
	unsigned char *v;
	int fd;

	if (!t_expect("export for REVOKE", td_p2p_export(drv, nvme, LEN,
			KMBUF_TEST_P2P_F_SCATTER, &fd, NULL), 0))
		return;
	v = map(fd, LEN, MAP_SHARED);
	if (!v) {
		t_fail("mmap: %s", t_errname(errno));
		close(fd);
		return;
	}
	td_fill(v, LEN, 41);
	t_expect("REVOKE", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_REVOKE, fd), 0);
	expect_info("revoked", fd, KMBUF_TEST_P2P_S_SCATTER |
		    KMBUF_TEST_P2P_S_REVOKED, LEN, LEN / (64 << 10), 0);
	t_expect("a revoked view: SIGBUS", td_touch_sigbus(v + 4096), 1);
	t_expect("REVOKE again", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_REVOKE, fd),
		 -ENODEV);
	t_expect("MOVE of a revoked buffer", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, fd),
		 -ENODEV);
	t_expect("FILL fence on a revoked buffer",
		 td_dmabuf_fence(drv, fd, 1, KMBUF_TEST_FENCE_F_FILL, 0), -ENODEV);
	t_expect("plain fence on a revoked buffer", td_dmabuf_fence(drv, fd, 1, 0, 0), 0);
	t_expect("SYNC of a revoked buffer", sync_ms(fd, DMA_BUF_SYNC_RW) >= 0, 1);
	munmap(v, LEN);
	t_expect("mmap of a revoked buffer", map_err(fd, LEN, MAP_SHARED), 0);
	close(fd);
}

/*
 * Remove the provider from the PCI bus with a buffer mapped: the driver
 * revokes it before the controller's p2pmem goes (else the removal would
 * hang). Then rescan and wait for the drive to come back for later tests.
 */
static void check_removal(int *nvme, const char *dev, const char *pcidir)
{
	char path[PATH_MAX];
	unsigned char *v;
	int fd, i;

	if (!t_expect("export before removal", td_p2p_export(drv, *nvme, LEN, 0, &fd, NULL),
		      0))
		return;
	v = map(fd, LEN, MAP_SHARED);
	if (!v) {
		t_fail("mmap: %s", t_errname(errno));
		close(fd);
		return;
	}
	td_fill(v, LEN, 51);
	close(*nvme);
	*nvme = -1;
	if (snprintf(path, sizeof(path), "%s/remove", pcidir) >=
	    (int)sizeof(path) ||
	    !t_expect("PCI remove", td_write_file(path, "1"), 0))
		goto out;
	expect_info("provider removed", fd, KMBUF_TEST_P2P_S_REVOKED, LEN, 1, 0);
	t_expect("the view after removal: SIGBUS", td_touch_sigbus(v), 1);
	t_expect("MOVE after removal", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, fd),
		 -ENODEV);
out:
	munmap(v, LEN);
	close(fd);
	t_expect("PCI rescan", td_write_file("/sys/bus/pci/rescan", "1"), 0);
	for (i = 0; i < 100 && access(dev, F_OK); i++)
		usleep(100 * 1000);
	*nvme = open(dev, O_RDWR | O_CLOEXEC);
	if (!t_expect("the drive is back after the rescan",
		      *nvme < 0 ? -errno : 0, 0))
		return;
	if (!t_expect("export after the rescan", td_p2p_export(drv, *nvme, LEN, 0, &fd,
							NULL), 0))
		return;
	expect_info("after the rescan", fd, 0, LEN, 1, 0);
	close(fd);
}

int main(void)
{
	const char *dev = td_nvme_path(), *far = getenv("KMBUF_TEST_NVME_FAR");
	char pcidir[PATH_MAX];
	long size, avail;
	int nvme, fd, ret;

	ret = t_require_testdrv(&drv);
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR, &nvme);
	if (ret)
		return ret;
	ret = export_err(nvme, LEN, 0);
	if (ret == -ENOTTY || ret == -EOPNOTSUPP)
		return t_skip("the test driver exports no device memory (%s)",
			      t_errname(ret));

	if (td_pci_function(dev, pcidir, sizeof(pcidir))) {
		t_fail("no PCI function for %s", dev);
		return T_EXIT_FAIL;
	}
	size = td_read_long("%s/p2pmem/size", pcidir);
	avail = td_read_long("%s/p2pmem/available", pcidir);
	printf("%s: %s p2pmem size %ld available %ld\n", dev, pcidir, size,
	       avail);
	if (!t_expect("p2pmem size (16 MiB CMB)", size, 16 << 20) ||
	    !t_expect("p2pmem published",
		      td_read_long("%s/p2pmem/published", pcidir), 1))
		return t_result("dmabuf-devmem-export");
	if (!t_expect("an export", ret, 0))
		return t_result("dmabuf-devmem-export");

	check_errors(nvme, far);
	check_buffer(nvme, LEN, 0, 1, 1);
	check_buffer(nvme, SCATTER_LEN, KMBUF_TEST_P2P_F_SCATTER,
		     SCATTER_LEN / (64 << 10) + 1, 11);
	check_udmabuf(nvme);
	check_devmem_fence(nvme);
	check_revoke(nvme);
	/* every buffer is gone (the last one's fence has signalled by now) */
	usleep((FENCE_MS + 200) * 1000);
	t_expect("p2pmem available again",
		 td_read_long("%s/p2pmem/available", pcidir), avail);

	/* the whole CMB, and not one page more */
	ret = td_p2p_export(drv, nvme, size, 0, &fd, NULL);
	if (t_expect("export of the whole CMB", ret, 0)) {
		t_expect("and one more page", export_err(nvme, 4096, 0), -ENOMEM);
		close(fd);
	}

	check_removal(&nvme, dev, pcidir);
	if (nvme >= 0)
		close(nvme);
	return t_result("dmabuf-devmem-export");
}
