/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Device memory in a dma-buf slot: the testbed driver exports the NVMe
 * controller memory buffer (PCI P2P memory: no ordinary pages, like GPU
 * VRAM), the slot is registered for the namespace of the same controller,
 * and READ_FIXED/WRITE_FIXED move the data between the namespace and that
 * memory by DMA. Everything is checked byte for byte through the
 * exporter's CPU view and a plain O_DIRECT descriptor of the namespace.
 *  - data: contiguous and scattered (64 KiB chunks in reverse order)
 *    buffers, offsets and lengths that cross chunks, a length above the
 *    device's largest request (the kernel splits it; no -EAGAIN);
 *  - fences: a WRITE_FIXED issued right after a fence that fills the
 *    buffer when it signals writes the filled data; a READ_FIXED issued
 *    after such a fence is not overwritten by it; with RWF_NOWAIT an
 *    unsignalled fence is -EAGAIN; the same on a udmabuf slot;
 *  - move: after the exporter moves the buffer, I/O lands in the new place,
 *    also while moves race the I/O;
 *  - revoke: later I/O fails with -ENODEV, and clearing the slot works;
 *  - release: clearing the slot and ring exit leave no attachment and no
 *    mapping behind;
 *  - distance: a device that cannot reach the memory by P2P DMA is refused
 *    with -EREMOTEIO (the far controller), while CPU memory works there.
 * Needs the testbed VM ($KMBUF_TEST_NVME with a controller memory buffer,
 * $KMBUF_TEST_NVME_FAR, /dev/kmbuf_test, /dev/udmabuf).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(2U << 20)
#define DEV_BASE	(40ULL << 20)	/* this test's range of the namespace */
#define SLOT		0
#define NR_SLOTS	2

static struct io_uring ring;
static int drv = -1, nvme = -1, plain = -1;
static unsigned char *ref;

struct devmem {
	int		fd;
	unsigned char	*cpu;	/* the exporter's CPU view */
	unsigned int	nr_segs;
};

static int devmem_export(struct devmem *d, unsigned int flags)
{
	int ret = td_p2p_export(drv, nvme, BUF_SIZE, flags, &d->fd,
				&d->nr_segs);

	if (ret)
		return ret;
	d->cpu = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->fd, 0);
	if (d->cpu == MAP_FAILED) {
		ret = -errno;
		close(d->fd);
		return ret;
	}
	return 0;
}

static void devmem_free(struct devmem *d)
{
	munmap(d->cpu, BUF_SIZE);
	close(d->fd);
}

/* Put @len bytes of pattern @seed on the namespace at @off, plainly. */
static int dev_write(unsigned int seed, size_t len, __u64 off)
{
	td_fill(ref, len, seed);
	return pwrite(plain, ref, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

static int dev_read(size_t len, __u64 off)
{
	return pread(plain, ref, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

/* A fixed read/write with rw_flags (RWF_NOWAIT): the CQE res. */
static int rw_fixed_flags(unsigned int op, unsigned int index, __u64 addr,
			  unsigned int len, __u64 off, int rw_flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe)
		return -EBUSY;
	if (op == IORING_OP_READ_FIXED)
		io_uring_prep_read_fixed(sqe, nvme, (void *)(uintptr_t)addr,
					 len, off, index);
	else
		io_uring_prep_write_fixed(sqe, nvme, (void *)(uintptr_t)addr,
					  len, off, index);
	sqe->rw_flags = rw_flags;
	if (io_uring_submit(&ring) != 1)
		return -EIO;
	return td_reap(&ring, NULL);
}

/*
 * READ_FIXED of @len at dma-buf offset @boff from device offset @off must
 * deliver what the device holds there, and leave the bytes around it.
 */
static void check_read(struct devmem *d, const char *what, unsigned int boff,
		       unsigned int len, __u64 off, unsigned int seed)
{
	unsigned int lo = boff >= 512 ? 512 : boff;
	unsigned int hi = BUF_SIZE - boff - len >= 512 ? 512 :
			  BUF_SIZE - boff - len;
	unsigned int i;
	int ret;

	if (dev_write(seed, len, off)) {
		t_fail("%s: pwrite of the reference failed", what);
		return;
	}
	memset(d->cpu + boff - lo, 0xa5, lo + len + hi);
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, boff, len,
			  off);
	if (!t_expect(what, ret, len))
		return;
	if (memcmp(d->cpu + boff, ref, len)) {
		for (i = 0; i < len && d->cpu[boff + i] == ref[i]; i++)
			;
		t_fail("%s: byte %u of the dma-buf is 0x%02x, the device has 0x%02x",
		       what, i, d->cpu[boff + i], ref[i]);
		return;
	}
	for (i = 0; i < lo; i++)
		if (d->cpu[boff - lo + i] != 0xa5)
			t_fail("%s: byte %u before the read changed", what, lo - i);
	for (i = 0; i < hi; i++)
		if (d->cpu[boff + len + i] != 0xa5)
			t_fail("%s: byte %u after the read changed", what, i);
}

/* WRITE_FIXED from the dma-buf must put exactly its bytes on the device. */
static void check_write(struct devmem *d, const char *what, unsigned int boff,
			unsigned int len, __u64 off, unsigned int seed)
{
	int ret;

	td_fill(d->cpu + boff, len, seed);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT, boff, len,
			  off);
	if (!t_expect(what, ret, len))
		return;
	if (dev_read(len, off)) {
		t_fail("%s: pread back failed", what);
		return;
	}
	if (memcmp(ref, d->cpu + boff, len))
		t_fail("%s: the device does not hold the dma-buf's bytes", what);
}

static void test_data(unsigned int flags, const char *layout)
{
	static const struct { unsigned int boff, len; } io[] = {
		{ 0, 4096 },
		{ 512, 512 },
		{ 60 * 1024, 8 * 1024 },		/* crosses a chunk */
		{ 64 * 1024 - 512, 64 * 1024 + 1024 },	/* three chunks */
		{ 4, 4096 },				/* DMA-aligned only */
		{ 0, 1024 * 1024 },			/* > max_sectors_kb */
		{ 256 * 1024 + 512, BUF_SIZE - 256 * 1024 - 4096 },
	};
	struct devmem d;
	char what[128];
	unsigned int i;
	int ret;

	ret = devmem_export(&d, flags);
	if (ret) {
		t_fail("%s: P2P_EXPORT of %u bytes: %s", layout, BUF_SIZE,
		       t_errname(ret));
		return;
	}
	ret = io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, d.fd);
	if (!t_expect("register the device memory", ret, 0))
		goto out;
	for (i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		snprintf(what, sizeof(what), "%s (%u segments): READ_FIXED %u at %u",
			 layout, d.nr_segs, io[i].len, io[i].boff);
		check_read(&d, what, io[i].boff, io[i].len,
			   DEV_BASE + 4096 * i, 10 + i);
		snprintf(what, sizeof(what), "%s (%u segments): WRITE_FIXED %u at %u",
			 layout, d.nr_segs, io[i].len, io[i].boff);
		check_write(&d, what, io[i].boff, io[i].len,
			    DEV_BASE + 4096 * i, 20 + i);
	}
	/*
	 * RWF_NOWAIT: what fits one device request goes inline, what needs
	 * several is -EAGAIN (only then: without the flag the kernel splits)
	 */
	snprintf(what, sizeof(what), "%s: RWF_NOWAIT READ_FIXED of 64 KiB", layout);
	t_expect(what, rw_fixed_flags(IORING_OP_READ_FIXED, SLOT, 0, 65536,
				      DEV_BASE, RWF_NOWAIT), 65536);
	snprintf(what, sizeof(what), "%s: RWF_NOWAIT READ_FIXED of 1 MiB", layout);
	t_expect(what, rw_fixed_flags(IORING_OP_READ_FIXED, SLOT, 0, 1U << 20,
				      DEV_BASE, RWF_NOWAIT), -EAGAIN);
	/* an offset the device cannot DMA to */
	t_expect("READ_FIXED at dma-buf offset 2",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, 2, 4096,
			     DEV_BASE), -EINVAL);
	io_uring_unregister_dmabuf_buffer(&ring, SLOT);
out:
	devmem_free(&d);
}

/*
 * Fences on @fd (CPU view @cpu), registered in SLOT: the I/O must wait for
 * them, and RWF_NOWAIT must not.
 */
static void test_fences(const char *kind, int fd, unsigned char *cpu)
{
	const unsigned int len = 64 * 1024, delay = 300;
	char what[128];
	long t0, t;
	int ret;

	ret = io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, fd);
	snprintf(what, sizeof(what), "%s: register", kind);
	if (!t_expect(what, ret, 0))
		return;

	/* a "device job" fills the buffer when its fence signals */
	memset(cpu, 0, len);
	ret = td_dmabuf_fence(drv, fd, delay, KMBUF_TEST_FENCE_F_FILL, 31);
	snprintf(what, sizeof(what), "%s: FILL fence", kind);
	if (!t_expect(what, ret, 0))
		goto out;
	t0 = td_now_ms();
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT, 0, len,
			  DEV_BASE);
	t = td_now_ms() - t0;
	snprintf(what, sizeof(what), "%s: WRITE_FIXED after a fence", kind);
	if (t_expect(what, ret, len)) {
		if (dev_read(len, DEV_BASE))
			t_fail("%s: pread back failed", what);
		td_fill(ref + len, len, 31);
		if (memcmp(ref, ref + len, len))
			t_fail("%s: the device did not get the fenced job's data (%ld ms)",
			       what, t);
	}

	/* a read must not be overwritten by a job fenced before it */
	if (dev_write(32, len, DEV_BASE))
		t_fail("%s: pwrite failed", kind);
	ret = td_dmabuf_fence(drv, fd, delay, KMBUF_TEST_FENCE_F_FILL, 33);
	if (!t_expect(what, ret, 0))
		goto out;
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, 0, len,
			  DEV_BASE);
	snprintf(what, sizeof(what), "%s: READ_FIXED after a fence", kind);
	if (t_expect(what, ret, len)) {
		usleep((delay + 200) * 1000);
		if (memcmp(cpu, ref, len))
			t_fail("%s: the buffer does not hold the device's data: the read overtook the fence",
			       what);
	}

	/* a reader's fence does not hold back a write from the buffer */
	ret = td_dmabuf_fence(drv, fd, 2000, KMBUF_TEST_FENCE_F_READ, 0);
	snprintf(what, sizeof(what), "%s: READ fence", kind);
	if (!t_expect(what, ret, 0))
		goto out;
	t0 = td_now_ms();
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT, 0, 4096,
			  DEV_BASE);
	t = td_now_ms() - t0;
	snprintf(what, sizeof(what), "%s: WRITE_FIXED past a reader's fence", kind);
	if (t_expect(what, ret, 4096) && t >= 2000)
		t_fail("%s: waited %ld ms for a reader", what, t);
	/* but a read into it waits, and RWF_NOWAIT does not */
	snprintf(what, sizeof(what), "%s: RWF_NOWAIT READ_FIXED under a fence", kind);
	t_expect(what, rw_fixed_flags(IORING_OP_READ_FIXED, SLOT, 0, 4096,
				      DEV_BASE, RWF_NOWAIT), -EAGAIN);
	t0 = td_now_ms();
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, 0, 4096,
			  DEV_BASE);
	t = td_now_ms() - t0;
	snprintf(what, sizeof(what), "%s: READ_FIXED under a reader's fence", kind);
	if (t_expect(what, ret, 4096) && t < 1000)
		t_fail("%s: did not wait for the fence (%ld ms)", what, t);
out:
	io_uring_unregister_dmabuf_buffer(&ring, SLOT);
}

static void test_fences_all(void)
{
	struct io_uring_udmabuf *ub;
	struct devmem d;
	int ret;

	ret = devmem_export(&d, 0);
	if (!t_expect("export for the fence tests", ret, 0))
		return;
	test_fences("device memory", d.fd, d.cpu);
	devmem_free(&d);

	ret = io_uring_udmabuf_alloc(BUF_SIZE, &ub);
	if (!t_expect("udmabuf for the fence tests", ret, 0))
		return;
	test_fences("udmabuf", ub->dmabuf_fd, ub->addr);
	io_uring_udmabuf_free(ub);
}

struct mover {
	int		fd;
	volatile int	stop;
	int		moves, err;
};

static void *mover_fn(void *arg)
{
	struct mover *m = arg;

	while (!m->stop) {
		int ret = td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, m->fd);

		if (ret) {
			m->err = ret;
			break;
		}
		m->moves++;
		usleep(2000);
	}
	return NULL;
}

static void test_move(void)
{
	struct kmbuf_test_p2p_info info;
	struct mover mv = { 0 };
	pthread_t thr;
	struct devmem d;
	unsigned int i;
	int ret;

	ret = devmem_export(&d, KMBUF_TEST_P2P_F_SCATTER);
	if (!t_expect("export for the move tests", ret, 0))
		return;
	ret = io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, d.fd);
	if (!t_expect("register for the move tests", ret, 0))
		goto out;
	check_read(&d, "READ_FIXED before a move", 0, 128 * 1024, DEV_BASE, 40);
	t_expect("MOVE", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_MOVE, d.fd), 0);
	if (!td_p2p_info(drv, d.fd, &info)) {
		t_expect("moves after one MOVE", info.moves, 1);
		t_expect("our mapping went with the move", info.mappings, 0);
	}
	/* the CPU view follows the move; so must the DMA */
	check_read(&d, "READ_FIXED after a move", 4096, 128 * 1024,
		   DEV_BASE, 41);
	check_write(&d, "WRITE_FIXED after a move", 8192, 64 * 1024,
		    DEV_BASE, 42);

	/* moves racing the I/O: every I/O must still be right */
	mv.fd = d.fd;
	if (pthread_create(&thr, NULL, mover_fn, &mv)) {
		t_fail("pthread_create failed");
		goto unreg;
	}
	for (i = 0; i < 40 && !t_failures; i++) {
		check_read(&d, "READ_FIXED while moving", (i % 8) * 65536,
			   65536 + 512, DEV_BASE + i * 512, 50 + i);
		check_write(&d, "WRITE_FIXED while moving", (i % 7) * 65536 + 512,
			    65536, DEV_BASE + i * 4096, 90 + i);
	}
	mv.stop = 1;
	pthread_join(thr, NULL);
	t_expect("MOVE while I/O runs", mv.err, 0);
	printf("  %d moves raced 80 I/Os\n", mv.moves);
unreg:
	io_uring_unregister_dmabuf_buffer(&ring, SLOT);
out:
	devmem_free(&d);
}

/* Wait up to 2 s for the importer to let go of @fd (release is deferred). */
static void expect_released(const char *what, int fd)
{
	struct kmbuf_test_p2p_info info;
	int i;

	for (i = 0; i < 200; i++) {
		if (td_p2p_info(drv, fd, &info)) {
			t_fail("%s: P2P_INFO failed", what);
			return;
		}
		if (!info.attachments && !info.mappings && !info.pins)
			return;
		usleep(10000);
	}
	t_fail("%s: %u attachments, %u mappings, %u pins left", what,
	       info.attachments, info.mappings, info.pins);
}

static void test_release(void)
{
	struct kmbuf_test_p2p_info info;
	struct io_uring r2;
	struct devmem d;
	int ret;

	ret = devmem_export(&d, 0);
	if (!t_expect("export for the release tests", ret, 0))
		return;
	ret = io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, d.fd);
	if (!t_expect("register", ret, 0))
		goto out;
	if (!td_p2p_info(drv, d.fd, &info)) {
		t_expect("attachments while registered", info.attachments, 1);
		t_expect("mappings while registered", info.mappings, 1);
	}
	t_expect("clear the slot",
		 io_uring_unregister_dmabuf_buffer(&ring, SLOT), 0);
	expect_released("after clearing the slot", d.fd);

	/* ring exit, with an I/O just done */
	if (t_ring_init(&r2, 8))
		goto out;
	ret = io_uring_register_dmabuf_table(&r2, 1);
	if (t_expect("table on a second ring", ret, 0)) {
		ret = io_uring_register_dmabuf_buffer(&r2, 0, nvme, d.fd);
		t_expect("register on the second ring", ret, 0);
		t_expect("READ_FIXED on the second ring",
			 td_rw_fixed(&r2, IORING_OP_READ_FIXED, nvme, 0, 0,
				     4096, DEV_BASE), 4096);
	}
	io_uring_queue_exit(&r2);
	expect_released("after ring exit", d.fd);

	/* revoke: later I/O fails with the exporter's -ENODEV */
	ret = io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, d.fd);
	if (!t_expect("register before a revoke", ret, 0))
		goto out;
	t_expect("REVOKE", td_p2p_op(drv, KMBUF_TEST_IOC_P2P_REVOKE, d.fd), 0);
	t_expect("READ_FIXED after a revoke",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, 0, 4096,
			     DEV_BASE), -ENODEV);
	t_expect("WRITE_FIXED after a revoke",
		 td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT, 0, 4096,
			     DEV_BASE), -ENODEV);
	t_expect("clear the revoked slot",
		 io_uring_unregister_dmabuf_buffer(&ring, SLOT), 0);
	expect_released("after clearing the revoked slot", d.fd);
	/* a revoked buffer cannot be registered again */
	ret = io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, d.fd);
	if (ret != -ENODEV && ret != -EREMOTEIO)
		t_fail("registering a revoked buffer: got %d (%s), want -ENODEV",
		       ret, t_errname(ret));
	munmap(d.cpu, BUF_SIZE);
	close(d.fd);
	return;
out:
	devmem_free(&d);
}

static void test_distance(void)
{
	const char *far_path = getenv("KMBUF_TEST_NVME_FAR");
	struct io_uring_udmabuf *ub;
	struct devmem d;
	int far, ret;

	if (!far_path || !*far_path) {
		t_fail("$KMBUF_TEST_NVME_FAR is not set: the testbed VM has a far controller");
		return;
	}
	far = open(far_path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (far < 0) {
		t_fail("open(%s): %s", far_path, strerror(errno));
		return;
	}
	ret = devmem_export(&d, 0);
	if (t_expect("export for the distance test", ret, 0)) {
		t_expect("device memory for a controller without a P2P path",
			 io_uring_register_dmabuf_buffer(&ring, SLOT, far, d.fd),
			 -EREMOTEIO);
		devmem_free(&d);
	}
	/* CPU memory is reachable from there */
	ret = io_uring_udmabuf_alloc(65536, &ub);
	if (t_expect("udmabuf for the far controller", ret, 0)) {
		ret = io_uring_register_dmabuf_buffer(&ring, SLOT, far,
						      ub->dmabuf_fd);
		if (t_expect("udmabuf for the far controller: register", ret, 0)) {
			ret = pread(far, ref, 4096, 0) == 4096 ? 0 : -1;
			t_expect("udmabuf for the far controller: READ_FIXED",
				 td_rw_fixed(&ring, IORING_OP_READ_FIXED, far,
					     SLOT, 0, 4096, 0), 4096);
			if (!ret && memcmp(ub->addr, ref, 4096))
				t_fail("far controller read into udmabuf: wrong data");
			io_uring_unregister_dmabuf_buffer(&ring, SLOT);
		}
		io_uring_udmabuf_free(ub);
	}
	close(far);
}

int main(void)
{
	struct devmem probe;
	int ret;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = t_require_testdrv(&drv);
	if (ret)
		return ret;
	plain = open(td_nvme_path(), O_RDWR | O_DIRECT | O_CLOEXEC);
	if (plain < 0 || posix_memalign((void **)&ref, 4096, 2 * BUF_SIZE)) {
		t_fail("open(%s) or memory for the reference failed", td_nvme_path());
		return T_EXIT_FAIL;
	}
	ret = devmem_export(&probe, 0);
	if (ret == -ENOTTY || ret == -EOPNOTSUPP)
		return t_skip("the test driver exports no device memory (%s)",
			      t_errname(ret));
	if (ret) {
		t_fail("P2P_EXPORT from %s: %s (the testbed VM's drive has a controller memory buffer)",
		       td_nvme_path(), t_errname(ret));
		return T_EXIT_FAIL;
	}
	devmem_free(&probe);
	ret = t_ring_init(&ring, 16);
	if (ret)
		return ret;
	ret = io_uring_register_dmabuf_table(&ring, NR_SLOTS);
	if (!t_expect("register the table", ret, 0))
		return T_EXIT_FAIL;

	test_data(0, "contiguous");
	test_data(KMBUF_TEST_P2P_F_SCATTER, "scattered");
	test_fences_all();
	test_move();
	test_release();
	test_distance();

	io_uring_queue_exit(&ring);
	return t_result("dmabuf-devmem");
}
