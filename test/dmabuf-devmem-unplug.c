/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Device removal under a device-memory dma-buf slot: the NVMe controller
 * whose memory buffer backs the slot is removed from the PCI bus (what a
 * hot-unplug does to the kernel: the driver unbinds, the device goes away)
 * while the slot is registered and has done I/O. The exporter revokes the
 * buffer, so:
 *  - the importer lets go of its mapping (P2P_INFO: no mapping left, the
 *    buffer revoked) and later I/O on the slot fails, never succeeds;
 *  - the CPU view raises SIGBUS instead of touching memory that is gone;
 *  - clearing the slot leaves no attachment behind, and nothing hangs;
 *  - after a PCI rescan the drive and its memory buffer come back and can
 *    be exported and read into again.
 * It removes a device, so it runs only in the testbed VM ($KMBUF_IN_VM),
 * and is the last VM test: the drive comes back under a new probe.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(256U << 10)
#define SLOT		0

static int drv = -1;
/* the drive's data after the rescan, read with O_DIRECT */
static unsigned char ref[BUF_SIZE] __attribute__((aligned(4096)));

/* The /dev name of the namespace whose controller has serial "kmbuf0". */
static int find_drive(char *dev, size_t len)
{
	struct dirent *de;
	DIR *d = opendir("/sys/block");
	int ret = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX], serial[64] = "";
		FILE *f;

		if (strncmp(de->d_name, "nvme", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/device/serial",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(serial, sizeof(serial), f) &&
		    !strncmp(serial, "kmbuf0", 6) && serial[6] != '-') {
			snprintf(dev, len, "/dev/%s", de->d_name);
			ret = 0;
		}
		fclose(f);
	}
	closedir(d);
	return ret;
}

int main(void)
{
	const char *in_vm = getenv("KMBUF_IN_VM");
	struct kmbuf_test_p2p_info st;
	char pci[PATH_MAX], path[PATH_MAX + 16], dev[300];
	struct io_uring ring;
	unsigned char *cpu;
	int nvme, dmabuf, ret, i;

	if (!in_vm || strcmp(in_vm, "1"))
		return t_skip("removes the NVMe controller: runs only in the testbed VM");
	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = t_require_testdrv(&drv);
	if (ret)
		return ret;
	ret = td_pci_function(td_nvme_path(), pci, sizeof(pci));
	if (ret) {
		t_fail("no PCI function for %s: %s", td_nvme_path(), t_errname(ret));
		return T_EXIT_FAIL;
	}
	ret = td_p2p_export(drv, nvme, BUF_SIZE, 0, &dmabuf, NULL);
	if (ret == -ENOTTY || ret == -EOPNOTSUPP)
		return t_skip("the test driver exports no device memory");
	if (!t_expect("P2P_EXPORT", ret, 0))
		return T_EXIT_FAIL;
	cpu = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);
	if (cpu == MAP_FAILED) {
		t_fail("mmap of the device memory: %s", strerror(errno));
		return T_EXIT_FAIL;
	}
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	if (!t_expect("table", io_uring_register_dmabuf_table(&ring, 1), 0) ||
	    !t_expect("register the device memory",
		      io_uring_register_dmabuf_buffer(&ring, SLOT, nvme, dmabuf), 0))
		return T_EXIT_FAIL;
	t_expect("READ_FIXED before the removal",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, 0,
			     BUF_SIZE, 0), BUF_SIZE);
	cpu[0] ^= 0;	/* the CPU view works, and is mapped in */

	/* remove the controller: its driver unbinds, the buffer is revoked */
	snprintf(path, sizeof(path), "%s/remove", pci);
	printf("  removing %s (%s)\n", pci, td_nvme_path());
	ret = td_write_file(path, "1");
	if (!t_expect("PCI remove", ret, 0))
		return T_EXIT_FAIL;

	if (!td_p2p_info(drv, dmabuf, &st)) {
		if (!(st.state & KMBUF_TEST_P2P_S_REVOKED))
			t_fail("the buffer is not revoked after its device went away");
		t_expect("the importer's mappings after the removal", st.mappings, 0);
		t_expect("attachments while the slot is still set", st.attachments, 1);
	}
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT, 0, 4096, 0);
	printf("  READ_FIXED after the removal: %d (%s)\n", ret, t_errname(ret));
	if (ret > 0)
		t_fail("READ_FIXED into revoked memory of a removed device succeeded");
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT, 0, 4096, 0);
	printf("  WRITE_FIXED after the removal: %d (%s)\n", ret, t_errname(ret));
	if (ret > 0)
		t_fail("WRITE_FIXED from revoked memory of a removed device succeeded");
	t_expect("touching the CPU view after the removal: SIGBUS",
		 td_touch_sigbus(cpu), 1);
	t_expect("clear the slot",
		 io_uring_unregister_dmabuf_buffer(&ring, SLOT), 0);
	for (i = 0; i < 200; i++) {
		if (td_p2p_info(drv, dmabuf, &st) || !st.attachments)
			break;
		usleep(10000);
	}
	t_expect("attachments after clearing the slot", st.attachments, 0);
	io_uring_queue_exit(&ring);
	munmap(cpu, BUF_SIZE);
	close(dmabuf);
	close(nvme);

	/* bring it back */
	ret = td_write_file("/sys/bus/pci/rescan", "1");
	if (!t_expect("PCI rescan", ret, 0))
		return T_EXIT_FAIL;
	for (i = 0; i < 200 && find_drive(dev, sizeof(dev)); i++)
		usleep(100000);
	if (i == 200) {
		t_fail("the drive did not come back within 20 s of the rescan");
		return T_EXIT_FAIL;
	}
	printf("  the drive is back as %s\n", dev);
	for (i = 0; i < 100; i++) {
		nvme = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (nvme >= 0)
			break;
		usleep(100000);
	}
	if (nvme < 0) {
		t_fail("open(%s): %s", dev, strerror(errno));
		return T_EXIT_FAIL;
	}
	ret = td_p2p_export(drv, nvme, BUF_SIZE, 0, &dmabuf, NULL);
	if (t_expect("P2P_EXPORT after the rescan", ret, 0)) {
		if (!t_ring_init(&ring, 8)) {
			io_uring_register_dmabuf_table(&ring, 1);
			t_expect("register after the rescan",
				 io_uring_register_dmabuf_buffer(&ring, SLOT, nvme,
								 dmabuf), 0);
			t_expect("READ_FIXED after the rescan",
				 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme,
					     SLOT, 0, BUF_SIZE, 0), BUF_SIZE);
			cpu = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, dmabuf, 0);
			if (cpu != MAP_FAILED && pread(nvme, ref, BUF_SIZE, 0) == BUF_SIZE) {
				if (memcmp(cpu, ref, BUF_SIZE))
					t_fail("after the rescan the device memory does not hold the device's data");
				munmap(cpu, BUF_SIZE);
			} else {
				t_fail("mmap or pread after the rescan failed");
			}
			io_uring_queue_exit(&ring);
		}
		close(dmabuf);
	}
	close(nvme);
	return t_result("dmabuf-devmem-unplug");
}
