// SPDX-License-Identifier: GPL-2.0
/*
 * kmbuf_testdrv: device memory exported as dma-bufs, and fences on any
 * dma-buf. The ioctls are described in kmbuf_testdrv.h.
 *
 * The memory is PCI peer-to-peer memory (p2pmem) that a PCI driver has
 * published, in the testbed the controller memory buffer of an NVMe
 * controller. Importers see it the way they see GPU VRAM: sg tables with
 * DMA addresses and no pages, for devices that can reach it by P2P only.
 * The exporter is dynamic, so that the importer's move_notify handling can
 * be tested: buffers move on request and are revoked on request and when
 * the provider's driver unbinds.
 *
 * Locking:
 * - kmbuf_p2p_lock (a mutex) protects the list of providers, each
 *   provider's list of buffers and its ->gone. It is taken before a
 *   buffer's reservation lock, never under it.
 * - A buffer's place (->chunks), ->revoked and the counters other than
 *   ->attachments are protected by its dma-buf's reservation lock, which
 *   the dma-buf core holds around pin, unpin, map and unmap of a dynamic
 *   exporter. The CPU mapping's fault handler takes it too (mmap_lock
 *   before the reservation lock is the order dma-buf prescribes).
 * - The fence work writes into memory it captured when the fence was
 *   added and never takes the reservation lock: MOVE and REVOKE wait for
 *   every fence of the buffer before they free that memory.
 */
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "kmbuf_testdrv.h"
#include "kmbuf_p2p.h"

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER) && IS_ENABLED(CONFIG_PCI_P2PDMA)
#define KMBUF_P2P_ENABLED 1
#else
#define KMBUF_P2P_ENABLED 0
#endif

#if KMBUF_P2P_ENABLED

/* A PCI function we have exported p2pmem of. */
struct kmbuf_p2p_provider {
	struct list_head	node;		/* in kmbuf_p2p_providers */
	struct pci_dev		*pdev;		/* referenced */
	struct list_head	bufs;		/* kmbuf_p2p_buf.node */
	/* its driver is unbinding: no new buffers, the old ones revoked */
	bool			gone;
};

static LIST_HEAD(kmbuf_p2p_providers);
static DEFINE_MUTEX(kmbuf_p2p_lock);
static bool kmbuf_p2p_notifier_ok;

struct kmbuf_p2p_buf {
	struct dma_buf		*dmabuf;
	struct pci_dev		*pdev;		/* referenced */
	struct list_head	node;		/* under kmbuf_p2p_lock */
	size_t			size;
	size_t			chunk;		/* bytes per chunk, last may be less */
	unsigned int		nr_chunks;
	u32			flags;		/* KMBUF_TEST_P2P_F_* */
	atomic_t		attachments;
	/* under the reservation lock: */
	void			**chunks;	/* kernel addresses; NULL if revoked */
	bool			revoked;
	u32			moves;
	u32			mappings;
	u32			pins;
	u32			faults;
};

static const struct dma_buf_ops kmbuf_p2p_ops;

static size_t kmbuf_p2p_chunk_len(const struct kmbuf_p2p_buf *buf,
				  unsigned int i)
{
	return min_t(size_t, buf->chunk, buf->size - (size_t)i * buf->chunk);
}

static void kmbuf_p2p_free_place(struct kmbuf_p2p_buf *buf, void **chunks)
{
	unsigned int i;

	if (!chunks)
		return;
	for (i = 0; i < buf->nr_chunks; i++) {
		if (chunks[i])
			pci_free_p2pmem(buf->pdev, chunks[i],
					kmbuf_p2p_chunk_len(buf, i));
	}
	kfree(chunks);
}

/*
 * A place for @buf's contents: the chunks, in buffer order. In scatter mode
 * they are allocated one after the other and then listed backwards, so that
 * neighbouring segments of the buffer lie in descending, not adjacent,
 * addresses of the provider.
 */
static void **kmbuf_p2p_alloc_place(struct kmbuf_p2p_buf *buf)
{
	unsigned int i;
	void **chunks;

	chunks = kcalloc(buf->nr_chunks, sizeof(*chunks), GFP_KERNEL);
	if (!chunks)
		return NULL;
	for (i = 0; i < buf->nr_chunks; i++) {
		unsigned int at = buf->nr_chunks - 1 - i;

		chunks[at] = pci_alloc_p2pmem(buf->pdev,
					      kmbuf_p2p_chunk_len(buf, at));
		if (!chunks[at]) {
			kmbuf_p2p_free_place(buf, chunks);
			return NULL;
		}
	}
	return chunks;
}

static struct kmbuf_p2p_buf *kmbuf_p2p_buf_of(struct dma_buf *dmabuf)
{
	return dmabuf->ops == &kmbuf_p2p_ops ? dmabuf->priv : NULL;
}

/* Every CPU mapping of the buffer faults again on its next access. */
static void kmbuf_p2p_zap(struct kmbuf_p2p_buf *buf)
{
	unmap_mapping_range(buf->dmabuf->file->f_mapping, 0, 0, 1);
}

/* ---- dma-buf operations ---- */

/*
 * Only devices that reach the provider without the host bridge: the
 * provider itself, or a device below a common switch (a common upstream
 * bridge). For those, p2pdma's map type is PCI_P2PDMA_MAP_BUS_ADDR and
 * the PCI bus address is the address the device must use, which is what
 * map hands out. Through a (whitelisted) host bridge the device needs a
 * DMA address from the IOMMU instead (PCI_P2PDMA_MAP_THRU_HOST_BRIDGE),
 * which this exporter does not make; pci_p2pdma_distance() accepts such
 * pairs, so it is checked in addition. An ACS redirect between the two
 * also forces the host bridge path; no testbed topology has one. On
 * QEMU's default machine (i440FX) every function sits on the root bus, so
 * only the provider itself qualifies.
 */
static bool kmbuf_p2p_reachable(struct pci_dev *provider, struct device *dev)
{
	struct pci_dev *client, *a, *b;
	bool ok = false;

	if (pci_p2pdma_distance(provider, dev, false) < 0)
		return false;
	if (!dev_is_pci(dev))
		return false;
	client = to_pci_dev(dev);
	if (client == provider)
		return true;
	for (a = pci_upstream_bridge(provider); a && !ok;
	     a = pci_upstream_bridge(a)) {
		for (b = pci_upstream_bridge(client); b; b = pci_upstream_bridge(b)) {
			if (a == b) {
				ok = true;
				break;
			}
		}
	}
	return ok;
}

static int kmbuf_p2p_attach(struct dma_buf *dmabuf,
			    struct dma_buf_attachment *attach)
{
	struct kmbuf_p2p_buf *buf = dmabuf->priv;

	/* the memory has no struct pages the importer could use */
	if (!attach->peer2peer)
		return -EREMOTEIO;
	if (READ_ONCE(buf->revoked))
		return -ENODEV;
	if (!kmbuf_p2p_reachable(buf->pdev, attach->dev))
		return -EREMOTEIO;
	atomic_inc(&buf->attachments);
	return 0;
}

static void kmbuf_p2p_detach(struct dma_buf *dmabuf,
			     struct dma_buf_attachment *attach)
{
	struct kmbuf_p2p_buf *buf = dmabuf->priv;

	atomic_dec(&buf->attachments);
}

static int kmbuf_p2p_pin(struct dma_buf_attachment *attach)
{
	struct kmbuf_p2p_buf *buf = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (buf->revoked)
		return -ENODEV;
	buf->pins++;
	return 0;
}

static void kmbuf_p2p_unpin(struct dma_buf_attachment *attach)
{
	struct kmbuf_p2p_buf *buf = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (!WARN_ON_ONCE(!buf->pins))
		buf->pins--;
}

/*
 * DMA addresses only, as for VRAM: every entry has a NULL page and the
 * chunk's length, sg_dma_address() is the PCI bus address of the chunk (see
 * kmbuf_p2p_reachable() for why the bus address is right for every device
 * that may attach).
 */
static struct sg_table *kmbuf_p2p_map(struct dma_buf_attachment *attach,
				      enum dma_data_direction dir)
{
	struct kmbuf_p2p_buf *buf = attach->dmabuf->priv;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (buf->revoked)
		return ERR_PTR(-ENODEV);

	sgt = kmalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table(sgt, buf->nr_chunks, GFP_KERNEL);
	if (ret) {
		kfree(sgt);
		return ERR_PTR(ret);
	}
	for_each_sgtable_sg(sgt, sg, i) {
		size_t len = kmbuf_p2p_chunk_len(buf, i);

		sg_set_page(sg, NULL, len, 0);
		sg_dma_address(sg) = pci_p2pmem_virt_to_bus(buf->pdev,
							    buf->chunks[i]);
		sg_dma_len(sg) = len;
	}
	buf->mappings++;
	return sgt;
}

static void kmbuf_p2p_unmap(struct dma_buf_attachment *attach,
			    struct sg_table *sgt, enum dma_data_direction dir)
{
	struct kmbuf_p2p_buf *buf = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	WARN_ON_ONCE(!buf->mappings);
	buf->mappings--;
	sg_free_table(sgt);
	kfree(sgt);
}

/* The CPU view: the memory is uncached; the core waited for the fences. */
static int kmbuf_p2p_cpu_access(struct dma_buf *dmabuf,
				enum dma_data_direction dir)
{
	return 0;
}

static unsigned long kmbuf_p2p_pfn(struct kmbuf_p2p_buf *buf, pgoff_t pgoff)
{
	size_t off = (size_t)pgoff << PAGE_SHIFT;
	unsigned int i = off / buf->chunk;

	return PHYS_PFN(virt_to_phys(buf->chunks[i] + off % buf->chunk));
}

/*
 * The page the buffer has at this offset now: MOVE and REVOKE zap the
 * mappings under the reservation lock, so a fault that takes the lock after
 * them sees the new place, or SIGBUS.
 */
static vm_fault_t kmbuf_p2p_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct kmbuf_p2p_buf *buf = vma->vm_private_data;
	struct dma_resv *resv = buf->dmabuf->resv;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	dma_resv_lock(resv, NULL);
	if (!buf->revoked && vmf->pgoff < buf->size >> PAGE_SHIFT) {
		ret = vmf_insert_pfn(vma, vmf->address,
				     kmbuf_p2p_pfn(buf, vmf->pgoff));
		buf->faults++;
	}
	dma_resv_unlock(resv);
	return ret;
}

static const struct vm_operations_struct kmbuf_p2p_vm_ops = {
	.fault = kmbuf_p2p_fault,
};

/*
 * No pages to insert: the PTEs are special, filled in one page at a time by
 * the fault handler. The mapping keeps the dma-buf file, hence the buffer,
 * alive; a private mapping could not follow a MOVE.
 */
static int kmbuf_p2p_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
	/* the kernel maps p2pmem uncached too (memremap_pages()) */
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_ops = &kmbuf_p2p_vm_ops;
	vma->vm_private_data = dmabuf->priv;
	return 0;
}

static void kmbuf_p2p_release(struct dma_buf *dmabuf)
{
	struct kmbuf_p2p_buf *buf = dmabuf->priv;

	/* no revoke can start on it after this */
	mutex_lock(&kmbuf_p2p_lock);
	list_del_init(&buf->node);
	mutex_unlock(&kmbuf_p2p_lock);

	/*
	 * A revoke that is still waiting for fences holds a file reference,
	 * so there is none; whatever place is left is ours to free.
	 */
	WARN_ON_ONCE(buf->pins || buf->mappings ||
		     atomic_read(&buf->attachments));
	kmbuf_p2p_free_place(buf, buf->chunks);
	pci_dev_put(buf->pdev);
	kfree(buf);
}

static const struct dma_buf_ops kmbuf_p2p_ops = {
	.attach			= kmbuf_p2p_attach,
	.detach			= kmbuf_p2p_detach,
	.pin			= kmbuf_p2p_pin,
	.unpin			= kmbuf_p2p_unpin,
	.map_dma_buf		= kmbuf_p2p_map,
	.unmap_dma_buf		= kmbuf_p2p_unmap,
	.release		= kmbuf_p2p_release,
	.begin_cpu_access	= kmbuf_p2p_cpu_access,
	.end_cpu_access		= kmbuf_p2p_cpu_access,
	.mmap			= kmbuf_p2p_mmap,
};

/* ---- export ---- */

/* The device that does DMA for @bdev: the nearest ancestor with a mask. */
static struct device *kmbuf_p2p_dma_dev(struct block_device *bdev)
{
	struct device *dev;

	for (dev = disk_to_dev(bdev->bd_disk); dev; dev = dev->parent) {
		if (dev->dma_mask)
			return dev;
	}
	return NULL;
}

/* The provider behind an open block device, referenced, or an ERR_PTR. */
static struct pci_dev *kmbuf_p2p_bdev_provider(int fd)
{
	struct pci_dev *pdev = ERR_PTR(-ENODEV);
	struct device *dev;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	if (!S_ISBLK(file_inode(file)->i_mode)) {
		fput(file);
		return ERR_PTR(-ENOTBLK);
	}
	/* the open file keeps the disk and its parents */
	dev = kmbuf_p2p_dma_dev(file_bdev(file));
	if (dev && dev_is_pci(dev) && pci_has_p2pmem(to_pci_dev(dev)))
		pdev = pci_dev_get(to_pci_dev(dev));
	fput(file);
	return pdev;
}

/* With kmbuf_p2p_lock held: @pdev's entry or NULL. */
static struct kmbuf_p2p_provider *kmbuf_p2p_provider_find(struct pci_dev *pdev)
{
	struct kmbuf_p2p_provider *prov;

	lockdep_assert_held(&kmbuf_p2p_lock);
	list_for_each_entry(prov, &kmbuf_p2p_providers, node) {
		if (prov->pdev == pdev)
			return prov;
	}
	return NULL;
}

/* With kmbuf_p2p_lock held: @pdev's entry, made if need be, or NULL. */
static struct kmbuf_p2p_provider *kmbuf_p2p_provider_get(struct pci_dev *pdev)
{
	struct kmbuf_p2p_provider *prov = kmbuf_p2p_provider_find(pdev);

	if (prov)
		return prov;
	prov = kzalloc(sizeof(*prov), GFP_KERNEL);
	if (!prov)
		return NULL;
	prov->pdev = pci_dev_get(pdev);
	INIT_LIST_HEAD(&prov->bufs);
	list_add(&prov->node, &kmbuf_p2p_providers);
	return prov;
}

static struct dma_buf *kmbuf_p2p_export(struct pci_dev *pdev, u64 size,
					u32 flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct kmbuf_p2p_provider *prov;
	struct kmbuf_p2p_buf *buf;
	struct dma_buf *dmabuf;
	unsigned int i;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&buf->node);
	atomic_set(&buf->attachments, 0);
	buf->pdev = pdev;
	buf->size = size;
	buf->flags = flags;
	buf->chunk = flags & KMBUF_TEST_P2P_F_SCATTER ?
		     KMBUF_TEST_P2P_CHUNK : size;
	buf->nr_chunks = DIV_ROUND_UP(size, buf->chunk);

	/*
	 * All under the lock, so that the unbind notifier either sees the
	 * new buffer on the provider's list or makes us fail: p2pmem that is
	 * still allocated when the provider's devres runs would make
	 * memunmap_pages() wait for it.
	 */
	mutex_lock(&kmbuf_p2p_lock);
	prov = kmbuf_p2p_provider_get(pdev);
	if (!prov || prov->gone) {
		dmabuf = ERR_PTR(prov ? -ENODEV : -ENOMEM);
		goto err_unlock;
	}
	buf->chunks = kmbuf_p2p_alloc_place(buf);
	if (!buf->chunks) {
		dmabuf = ERR_PTR(-ENOMEM);
		goto err_unlock;
	}
	for (i = 0; i < buf->nr_chunks; i++)
		memset(buf->chunks[i], 0, kmbuf_p2p_chunk_len(buf, i));

	exp_info.ops = &kmbuf_p2p_ops;
	exp_info.size = size;
	exp_info.flags = O_RDWR | O_CLOEXEC;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf))
		goto err_unlock;
	buf->dmabuf = dmabuf;
	list_add_tail(&buf->node, &prov->bufs);
	mutex_unlock(&kmbuf_p2p_lock);
	return dmabuf;

err_unlock:
	mutex_unlock(&kmbuf_p2p_lock);
	kmbuf_p2p_free_place(buf, buf->chunks);
	kfree(buf);
	return dmabuf;
}

static int kmbuf_p2p_ioc_export(void __user *uarg)
{
	struct kmbuf_test_p2p_export e;
	struct dma_buf *dmabuf;
	struct pci_dev *pdev;
	int fd, ret;

	if (copy_from_user(&e, uarg, sizeof(e)))
		return -EFAULT;
	if ((e.flags & ~KMBUF_TEST_P2P_F_SCATTER) || e.__resv[0] || e.__resv[1] ||
	    !e.size || !PAGE_ALIGNED(e.size) || e.size > KMBUF_TEST_P2P_MAX)
		return -EINVAL;
	if (!kmbuf_p2p_notifier_ok)
		return -EOPNOTSUPP;

	pdev = kmbuf_p2p_bdev_provider(e.bdev_fd);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	dmabuf = kmbuf_p2p_export(pdev, e.size, e.flags);
	if (IS_ERR(dmabuf)) {
		pci_dev_put(pdev);
		return PTR_ERR(dmabuf);
	}

	/* the buffer owns the pdev reference now */
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_put;
	}
	e.dmabuf_fd = fd;
	e.nr_segs = ((struct kmbuf_p2p_buf *)dmabuf->priv)->nr_chunks;
	if (copy_to_user(uarg, &e, sizeof(e))) {
		put_unused_fd(fd);
		ret = -EFAULT;
		goto err_put;
	}
	fd_install(fd, dmabuf->file);
	return 0;

err_put:
	dma_buf_put(dmabuf);
	return ret;
}

/* ---- move and revoke ---- */

/*
 * With a reference on the dma-buf: take its place away, zap the CPU
 * mappings and tell the importers, then free the place once the fences
 * they (and FENCE) added have signalled. -ENODEV if already revoked.
 */
static int kmbuf_p2p_revoke(struct kmbuf_p2p_buf *buf)
{
	struct dma_resv *resv = buf->dmabuf->resv;
	void **old;

	dma_resv_lock(resv, NULL);
	if (buf->revoked) {
		dma_resv_unlock(resv);
		return -ENODEV;
	}
	WRITE_ONCE(buf->revoked, true);
	old = buf->chunks;
	buf->chunks = NULL;
	kmbuf_p2p_zap(buf);
	dma_buf_move_notify(buf->dmabuf);
	dma_resv_unlock(resv);

	/* uninterruptible: the provider may be going away */
	dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, false,
			      MAX_SCHEDULE_TIMEOUT);
	kmbuf_p2p_free_place(buf, old);
	return 0;
}

static int kmbuf_p2p_move(struct kmbuf_p2p_buf *buf)
{
	struct dma_resv *resv = buf->dmabuf->resv;
	void **old, **new;
	unsigned int i;
	long wait;
	int ret;

	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		return ret;
	if (buf->revoked) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (buf->pins) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/* the jobs fenced so far write the contents first */
	wait = dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, true,
				     MAX_SCHEDULE_TIMEOUT);
	if (wait < 0) {
		ret = wait;
		goto out_unlock;
	}
	new = kmbuf_p2p_alloc_place(buf);
	if (!new) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	/*
	 * Everyone off the old place before the copy, as a GPU driver tells
	 * importers before it moves a buffer: the CPU view faults (and waits
	 * for the lock), move_notify makes the importers stop; those that
	 * publish no fences (io_uring waits for its I/O in move_notify) are
	 * done when it returns, the others' fences are waited for. New
	 * mappings can only be made after the unlock, at the new place.
	 */
	kmbuf_p2p_zap(buf);
	dma_buf_move_notify(buf->dmabuf);
	dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, false,
			      MAX_SCHEDULE_TIMEOUT);
	old = buf->chunks;
	for (i = 0; i < buf->nr_chunks; i++)
		memcpy(new[i], old[i], kmbuf_p2p_chunk_len(buf, i));
	buf->chunks = new;
	buf->moves++;
	dma_resv_unlock(resv);
	kmbuf_p2p_free_place(buf, old);
	return 0;

out_unlock:
	dma_resv_unlock(resv);
	return ret;
}

/* MOVE, REVOKE and INFO: a referenced buffer of ours, or an ERR_PTR. */
static struct kmbuf_p2p_buf *kmbuf_p2p_get(int fd)
{
	struct dma_buf *dmabuf = dma_buf_get(fd);

	if (IS_ERR(dmabuf))
		return ERR_CAST(dmabuf);
	if (!kmbuf_p2p_buf_of(dmabuf)) {
		dma_buf_put(dmabuf);
		return ERR_PTR(-EINVAL);
	}
	return dmabuf->priv;
}

static int kmbuf_p2p_ioc_op(unsigned int cmd, void __user *uarg)
{
	struct kmbuf_test_p2p_op op;
	struct kmbuf_p2p_buf *buf;
	int ret;

	if (copy_from_user(&op, uarg, sizeof(op)))
		return -EFAULT;
	buf = kmbuf_p2p_get(op.dmabuf_fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (op.flags)
		ret = -EINVAL;
	else if (cmd == KMBUF_TEST_IOC_P2P_MOVE)
		ret = kmbuf_p2p_move(buf);
	else
		ret = kmbuf_p2p_revoke(buf);
	dma_buf_put(buf->dmabuf);
	return ret;
}

static int kmbuf_p2p_ioc_info(void __user *uarg)
{
	struct kmbuf_test_p2p_info info;
	struct kmbuf_p2p_buf *buf;
	int fd, ret;

	if (get_user(fd, (int __user *)uarg))
		return -EFAULT;
	buf = kmbuf_p2p_get(fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	ret = dma_resv_lock_interruptible(buf->dmabuf->resv, NULL);
	if (ret)
		goto out_put;
	memset(&info, 0, sizeof(info));
	info.dmabuf_fd = fd;
	if (buf->flags & KMBUF_TEST_P2P_F_SCATTER)
		info.state |= KMBUF_TEST_P2P_S_SCATTER;
	if (buf->revoked)
		info.state |= KMBUF_TEST_P2P_S_REVOKED;
	info.size = buf->size;
	info.nr_segs = buf->nr_chunks;
	info.moves = buf->moves;
	info.attachments = atomic_read(&buf->attachments);
	info.mappings = buf->mappings;
	info.pins = buf->pins;
	info.faults = buf->faults;
	dma_resv_unlock(buf->dmabuf->resv);
	if (copy_to_user(uarg, &info, sizeof(info)))
		ret = -EFAULT;
out_put:
	dma_buf_put(buf->dmabuf);
	return ret;
}

/* ---- the provider's driver unbinding ---- */

/*
 * Revoke every buffer of a PCI function whose driver is about to unbind.
 * BUS_NOTIFY_UNBIND_DRIVER comes before the driver's remove() and so
 * before its devres is released: that is where pci_p2pdma's
 * memunmap_pages() waits for every p2pmem page to be given back, and where
 * pci_p2pdma_release() then destroys the pool, so the memory has to be back
 * by then. (A devres action of our own, added at the first export, would
 * run before those too, but after the driver's remove(), which may want
 * its importers gone first, and it could be added while the devres list is
 * being released.) The provider stays marked gone until the driver has
 * unbound, so that no export slips in between.
 *
 * A buffer that is being released (its file's count is zero, its release
 * waits for kmbuf_p2p_lock) is only taken off the list; its release frees
 * the memory, before memunmap_pages() stops waiting.
 */
static void kmbuf_p2p_unbinding(struct pci_dev *pdev)
{
	struct kmbuf_p2p_provider *prov;
	struct kmbuf_p2p_buf *buf;
	struct file *file;

	mutex_lock(&kmbuf_p2p_lock);
	/*
	 * Made if need be, so that no export starts until the driver has
	 * unbound (without memory for it one could).
	 */
	prov = kmbuf_p2p_provider_find(pdev);
	if (!prov && pci_has_p2pmem(pdev))
		prov = kmbuf_p2p_provider_get(pdev);
	if (!prov) {
		mutex_unlock(&kmbuf_p2p_lock);
		return;
	}
	prov->gone = true;
	while ((buf = list_first_entry_or_null(&prov->bufs,
					       struct kmbuf_p2p_buf, node))) {
		list_del_init(&buf->node);
		/*
		 * The file cannot be freed (or reused) under us: that happens
		 * only after the buffer's release, which needs our lock.
		 */
		file = get_file_active(&buf->dmabuf->file);
		if (!file)
			continue;
		kmbuf_p2p_revoke(buf);
		/* never the last reference synchronously: fput() defers */
		fput(file);
	}
	mutex_unlock(&kmbuf_p2p_lock);
}

/* The driver is gone: forget the function, it may bind again later. */
static void kmbuf_p2p_unbound(struct pci_dev *pdev)
{
	struct kmbuf_p2p_provider *prov;

	mutex_lock(&kmbuf_p2p_lock);
	prov = kmbuf_p2p_provider_find(pdev);
	if (prov) {
		WARN_ON_ONCE(!list_empty(&prov->bufs));
		list_del(&prov->node);
		pci_dev_put(prov->pdev);
		kfree(prov);
	}
	mutex_unlock(&kmbuf_p2p_lock);
}

static int kmbuf_p2p_notify(struct notifier_block *nb, unsigned long action,
			    void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);

	switch (action) {
	case BUS_NOTIFY_UNBIND_DRIVER:
		kmbuf_p2p_unbinding(pdev);
		break;
	case BUS_NOTIFY_UNBOUND_DRIVER:
		kmbuf_p2p_unbound(pdev);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block kmbuf_p2p_nb = {
	.notifier_call = kmbuf_p2p_notify,
};

static int __init kmbuf_p2p_init(void)
{
	int ret = bus_register_notifier(&pci_bus_type, &kmbuf_p2p_nb);

	if (ret)
		pr_warn("kmbuf_testdrv: no PCI bus notifier (%d), no P2P_EXPORT\n",
			ret);
	else
		kmbuf_p2p_notifier_ok = true;
	return 0;
}
device_initcall(kmbuf_p2p_init);

#endif /* KMBUF_P2P_ENABLED */

/* ---- fences ---- */

#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)

struct kmbuf_test_fence {
	struct dma_fence	base;	/* first: freed by dma_fence_free() */
	spinlock_t		lock;
	struct delayed_work	work;
	struct dma_buf		*dmabuf;	/* referenced until signalled */
	u32			flags;
	u32			seed;
	/* FILL through the exporter's vmap */
	struct iosys_map	map;
	/* FILL on a buffer of ours: its place when the fence was added */
	void			**chunks;
	size_t			chunk;
	unsigned int		nr_chunks;
};

static const char *kmbuf_test_fence_driver(struct dma_fence *f)
{
	return "kmbuf_testdrv";
}

static const char *kmbuf_test_fence_timeline(struct dma_fence *f)
{
	return "delayed";
}

static const struct dma_fence_ops kmbuf_test_fence_ops = {
	.get_driver_name	= kmbuf_test_fence_driver,
	.get_timeline_name	= kmbuf_test_fence_timeline,
};

/* bytes [at, at + len) of the buffer; no allocation, no locks */
static void kmbuf_test_fence_write(struct kmbuf_test_fence *f, size_t at,
				   const u8 *src, size_t len)
{
	size_t n;

	if (!f->chunks) {
		iosys_map_memcpy_to(&f->map, at, src, len);
		return;
	}
	while (len) {
		unsigned int i = at / f->chunk;
		size_t in = at % f->chunk;

		n = min(len, f->chunk - in);
		memcpy(f->chunks[i] + in, src, n);
		at += n;
		src += n;
		len -= n;
	}
}

static void kmbuf_test_fence_fill(struct kmbuf_test_fence *f)
{
	size_t size = f->dmabuf->size, at, n, j;
	u8 tmp[256];

	for (at = 0; at < size; at += n) {
		n = min(size - at, sizeof(tmp));
		for (j = 0; j < n; j++)
			tmp[j] = kmbuf_test_pattern(f->seed, at + j);
		kmbuf_test_fence_write(f, at, tmp, n);
		cond_resched();
	}
}

/*
 * The "device job": fill, then signal. Inside the signalling section
 * nothing may wait for anything that could wait for this fence (no
 * reservation lock, no memory allocation); the vunmap, which takes the
 * reservation lock, comes after the fence is signalled.
 */
static void kmbuf_test_fence_work(struct work_struct *work)
{
	struct kmbuf_test_fence *f = container_of(to_delayed_work(work),
					struct kmbuf_test_fence, work);
	struct dma_buf *dmabuf = f->dmabuf;
	bool cookie;

	cookie = dma_fence_begin_signalling();
	if (f->flags & KMBUF_TEST_FENCE_F_FILL)
		kmbuf_test_fence_fill(f);
	dma_fence_signal(&f->base);
	dma_fence_end_signalling(cookie);

	if (!iosys_map_is_null(&f->map))
		dma_buf_vunmap_unlocked(dmabuf, &f->map);
	kfree(f->chunks);
	dma_fence_put(&f->base);
	dma_buf_put(dmabuf);
}

/*
 * With the reservation lock held: capture the place FILL writes to, if the
 * buffer is ours. MOVE and REVOKE wait for the fence before they free it.
 */
static int kmbuf_test_fence_capture(struct kmbuf_test_fence *f)
{
#if KMBUF_P2P_ENABLED
	struct kmbuf_p2p_buf *buf = kmbuf_p2p_buf_of(f->dmabuf);

	dma_resv_assert_held(f->dmabuf->resv);
	if (!buf || !(f->flags & KMBUF_TEST_FENCE_F_FILL))
		return 0;
	if (buf->revoked)
		return -ENODEV;
	f->chunks = kmemdup_array(buf->chunks, buf->nr_chunks,
				  sizeof(*buf->chunks), GFP_KERNEL);
	if (!f->chunks)
		return -ENOMEM;
	f->chunk = buf->chunk;
	f->nr_chunks = buf->nr_chunks;
#endif
	return 0;
}

static bool kmbuf_test_fence_ours(struct dma_buf *dmabuf)
{
#if KMBUF_P2P_ENABLED
	return kmbuf_p2p_buf_of(dmabuf);
#else
	return false;
#endif
}

static int kmbuf_test_ioc_fence(void __user *uarg)
{
	struct kmbuf_test_dmabuf_fence a;
	struct kmbuf_test_fence *f;
	struct dma_buf *dmabuf;
	struct dma_resv *resv;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	dmabuf = dma_buf_get(a.dmabuf_fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	resv = dmabuf->resv;
	ret = -EINVAL;
	if (a.flags & ~(KMBUF_TEST_FENCE_F_READ | KMBUF_TEST_FENCE_F_FILL) ||
	    !a.delay_ms || a.delay_ms > KMBUF_TEST_FENCE_DELAY_MAX ||
	    a.__resv[0] || a.__resv[1])
		goto err_put;

	ret = -ENOMEM;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		goto err_put;
	spin_lock_init(&f->lock);
	INIT_DELAYED_WORK(&f->work, kmbuf_test_fence_work);
	f->dmabuf = dmabuf;
	f->flags = a.flags;
	f->seed = a.seed;
	/* a context of its own: the resv keeps one fence per context */
	dma_fence_init(&f->base, &kmbuf_test_fence_ops, &f->lock,
		       dma_fence_context_alloc(1), 1);

	if ((a.flags & KMBUF_TEST_FENCE_F_FILL) && !kmbuf_test_fence_ours(dmabuf)) {
		ret = dma_buf_vmap_unlocked(dmabuf, &f->map);
		if (ret)
			goto err_fence;
	}

	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		goto err_vunmap;
	ret = kmbuf_test_fence_capture(f);
	if (!ret)
		ret = dma_resv_reserve_fences(resv, 1);
	if (ret) {
		dma_resv_unlock(resv);
		goto err_vunmap;
	}
	dma_resv_add_fence(resv, &f->base,
			   a.flags & KMBUF_TEST_FENCE_F_READ ?
			   DMA_RESV_USAGE_READ : DMA_RESV_USAGE_WRITE);
	dma_resv_unlock(resv);

	/* the work owns our fence and dma-buf references now */
	queue_delayed_work(system_unbound_wq, &f->work,
			   msecs_to_jiffies(a.delay_ms));
	return 0;

err_vunmap:
	if (!iosys_map_is_null(&f->map))
		dma_buf_vunmap_unlocked(dmabuf, &f->map);
err_fence:
	kfree(f->chunks);
	/* never published: signal it so that its release does not warn */
	dma_fence_signal(&f->base);
	dma_fence_put(&f->base);
err_put:
	dma_buf_put(dmabuf);
	return ret;
}

#endif /* CONFIG_DMA_SHARED_BUFFER */

long kmbuf_test_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KMBUF_TEST_IOC_DMABUF_FENCE:
#if IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
		return kmbuf_test_ioc_fence(uarg);
#else
		return -EOPNOTSUPP;
#endif
	case KMBUF_TEST_IOC_P2P_EXPORT:
	case KMBUF_TEST_IOC_P2P_MOVE:
	case KMBUF_TEST_IOC_P2P_REVOKE:
	case KMBUF_TEST_IOC_P2P_INFO:
		break;
	default:
		return -ENOTTY;
	}
#if KMBUF_P2P_ENABLED
	switch (cmd) {
	case KMBUF_TEST_IOC_P2P_EXPORT:
		return kmbuf_p2p_ioc_export(uarg);
	case KMBUF_TEST_IOC_P2P_INFO:
		return kmbuf_p2p_ioc_info(uarg);
	default:
		return kmbuf_p2p_ioc_op(cmd, uarg);
	}
#else
	return -EOPNOTSUPP;
#endif
}
