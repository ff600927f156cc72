// SPDX-License-Identifier: GPL-2.0
/*
 * kmbuf_testdrv: a uring_cmd consumer of io_uring kernel-managed buffer
 * rings and of kernel bvec buffers, for testing. The commands are described
 * in kmbuf_testdrv.h.
 *
 * It uses only the interface a real consumer would use
 * (<linux/io_uring/cmd.h>), the way FUSE over io_uring does: plain commands
 * pass on the issue_flags they were given, so that io_uring takes
 * ->uring_lock when a command runs from io-wq; a "connection" pins a ring
 * for as long as a long-lived command is in flight, and the commands on it
 * select and recycle from atomic context.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/io_uring/cmd.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "kmbuf_testdrv.h"
#include "kmbuf_p2p.h"

/* chunk size for writing the pattern to user memory */
#define KMBUF_TEST_CHUNK	256
/* the most a REG_BVEC may allocate */
#define KMBUF_TEST_BVEC_MAX	SZ_4M
/* the most FILL_ATOMIC writes with interrupts off */
#define KMBUF_TEST_ATOMIC_MAX	SZ_64K

/*
 * Per open file: at most one connection, a kmbuf ring pinned while the
 * CONNECT command @conn is in flight. Everything here is under @lock, which
 * the atomic commands hold, interrupts off, while they use the ring.
 */
struct kmbuf_test_file {
	spinlock_t		lock;
	struct io_uring_cmd	*conn;
	/* the ring @conn runs on, only compared, never dereferenced */
	const void		*conn_ctx;
	struct io_buffer_list	*conn_bl;
	u16			conn_bgid;
	/* FILL_DEFERRED commands holding a buffer of the connection */
	unsigned int		nr_deferred;
};

/* A FILL_DEFERRED in flight; cmd->pdu points to it. */
struct kmbuf_test_deferred {
	struct delayed_work	work;
	struct io_uring_cmd	*cmd;
	struct kmbuf_test_file	*kf;
	struct io_uring_kbuf_sel sel;
	u32			len;
	u32			seed;
	int			res;
};

/* Driver pages placed in a registered buffer table with REG_BVEC. */
struct kmbuf_test_bvec {
	struct list_head	node;
	const void		*ctx;
	unsigned int		index;
	unsigned int		nr_pages;
	struct page		*pages[];
};

/* Every bvec buffer not yet released, newest first. */
static LIST_HEAD(kmbuf_test_bvecs);
static DEFINE_SPINLOCK(kmbuf_test_bvecs_lock);
static atomic_t kmbuf_test_bvecs_released = ATOMIC_INIT(0);

static u32 kmbuf_test_cflags(u16 bid)
{
	return IORING_CQE_F_BUFFER | ((u32)bid << IORING_CQE_BUFFER_SHIFT);
}

/* The ring a command runs on, to tell connections apart. */
static const void *kmbuf_test_ctx(struct io_uring_cmd *cmd)
{
	return cmd_to_io_kiocb(cmd)->ctx;
}

static struct kmbuf_test_file *kmbuf_test_file(struct io_uring_cmd *cmd)
{
	return cmd->file->private_data;
}

static void kmbuf_test_write_pattern(u8 *p, u32 len, u32 seed)
{
	u32 i;

	for (i = 0; i < len; i++)
		p[i] = kmbuf_test_pattern(seed, i);
}

/*
 * The copy source of KMBUF_TEST_F_COPY and MEMCPY: pattern seed 0, made on
 * first use and kept (the driver is built in). Whoever loses the race to
 * install it frees its own copy.
 */
static const u8 *kmbuf_test_copy_src;

static const u8 *kmbuf_test_get_copy_src(void)
{
	/* pairs with the cmpxchg_release(): the pattern is there when seen */
	const u8 *src = smp_load_acquire(&kmbuf_test_copy_src);
	u8 *p;

	if (src)
		return src;
	p = vmalloc(KMBUF_TEST_COPY_MAX);
	if (!p)
		return NULL;
	kmbuf_test_write_pattern(p, KMBUF_TEST_COPY_MAX, 0);
	src = cmpxchg_release(&kmbuf_test_copy_src, NULL, p);
	if (src) {
		vfree(p);
		return src;
	}
	return p;
}

static int kmbuf_test_fill(struct io_uring_cmd *cmd,
			   const struct kmbuf_test_cmd *c,
			   unsigned int issue_flags)
{
	struct io_uring_kbuf_sel sel;
	u16 bid;
	u32 len;
	int ret;

	const u8 *src = NULL;

	if (c->flags & ~(KMBUF_TEST_F_SLOW | KMBUF_TEST_F_COPY))
		return -EINVAL;
	if (c->flags & KMBUF_TEST_F_COPY) {
		if (c->len > KMBUF_TEST_COPY_MAX)
			return -EINVAL;
		src = kmbuf_test_get_copy_src();
		if (!src)
			return -ENOMEM;
	}
	ret = io_uring_kmbuf_select(cmd, c->bgid, &sel, issue_flags);
	if (ret)
		return ret;

	/* hold the buffer, so that an unregister can race the write below */
	if (c->flags & KMBUF_TEST_F_SLOW)
		msleep(20);
	len = min3(c->len, sel.len, (u32)MAX_RW_COUNT);
	if (src)
		memcpy(sel.kaddr, src, len);
	else
		kmbuf_test_write_pattern(sel.kaddr, len, c->seed);
	bid = sel.bid;
	io_uring_kmbuf_release(&sel);

	io_uring_cmd_done_cflags(cmd, len, 0, kmbuf_test_cflags(bid),
				 issue_flags);
	return -EIOCBQUEUED;
}

static int kmbuf_test_fill_pbuf(struct io_uring_cmd *cmd,
				const struct kmbuf_test_cmd *c,
				unsigned int issue_flags)
{
	u8 chunk[KMBUF_TEST_CHUNK];
	struct io_uring_kbuf_sel sel;
	u32 len, done, n, i;
	ssize_t res;
	int ret;

	ret = io_uring_pbuf_select(cmd, c->bgid, &sel, issue_flags);
	if (ret)
		return ret;

	len = min3(c->len, sel.len, (u32)MAX_RW_COUNT);
	res = len;
	for (done = 0; done < len; done += n) {
		n = min_t(u32, len - done, sizeof(chunk));
		for (i = 0; i < n; i++)
			chunk[i] = kmbuf_test_pattern(c->seed, done + i);
		if (copy_to_user(sel.uaddr + done, chunk, n)) {
			res = -EFAULT;
			break;
		}
	}

	/* the buffer left the ring either way: tell the application which */
	io_uring_cmd_done_cflags(cmd, res, 0, kmbuf_test_cflags(sel.bid),
				 issue_flags);
	return -EIOCBQUEUED;
}

static int kmbuf_test_import_fixed(struct io_uring_cmd *cmd,
				   const struct kmbuf_test_cmd *c,
				   unsigned int issue_flags)
{
	struct iov_iter iter;

	return io_uring_cmd_import_fixed_index(cmd, c->bgid, c->seed, c->len,
					       ITER_DEST, &iter, issue_flags);
}

/* ---- connections: a pinned ring, used from atomic context ---- */

static int kmbuf_test_connect(struct io_uring_cmd *cmd,
			      const struct kmbuf_test_cmd *c,
			      unsigned int issue_flags)
{
	struct kmbuf_test_file *kf = kmbuf_test_file(cmd);
	struct io_buffer_list *bl;
	int ret;

	spin_lock_irq(&kf->lock);
	ret = kf->conn ? -EBUSY : 0;
	spin_unlock_irq(&kf->lock);
	if (ret)
		return ret;

	/* two CONNECTs can both get here; the second one is caught below */
	ret = io_uring_buf_ring_pin(cmd, c->bgid, issue_flags, &bl);
	if (ret)
		return ret;
	if (!bl) {
		/* an application-provided ring: no atomic interface */
		io_uring_buf_ring_unpin(cmd, c->bgid, issue_flags);
		return -EINVAL;
	}

	spin_lock_irq(&kf->lock);
	if (kf->conn) {
		ret = -EBUSY;
	} else {
		kf->conn = cmd;
		kf->conn_ctx = kmbuf_test_ctx(cmd);
		kf->conn_bl = bl;
		kf->conn_bgid = c->bgid;
	}
	spin_unlock_irq(&kf->lock);
	if (ret) {
		io_uring_buf_ring_unpin(cmd, c->bgid, issue_flags);
		return ret;
	}

	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	return -EIOCBQUEUED;
}

/*
 * End the connection if @cmd may: it runs on the connection's ring and no
 * FILL_DEFERRED holds a buffer. Returns the CONNECT command, unpinned and
 * for the caller to complete, or an ERR_PTR.
 */
static struct io_uring_cmd *kmbuf_test_end_conn(struct kmbuf_test_file *kf,
						struct io_uring_cmd *cmd,
						unsigned int issue_flags)
{
	struct io_uring_cmd *conn;
	u16 bgid;

	spin_lock_irq(&kf->lock);
	conn = kf->conn;
	if (!conn)
		conn = ERR_PTR(-ENOTCONN);
	else if (kf->conn_ctx != kmbuf_test_ctx(cmd))
		conn = ERR_PTR(-EXDEV);
	else if (kf->nr_deferred)
		conn = ERR_PTR(-EBUSY);
	else {
		kf->conn = NULL;
		kf->conn_bl = NULL;
	}
	bgid = kf->conn_bgid;
	spin_unlock_irq(&kf->lock);

	/* the same ring as @cmd, so its issue_flags describe its lock */
	if (!IS_ERR(conn))
		WARN_ON_ONCE(io_uring_buf_ring_unpin(conn, bgid, issue_flags));
	return conn;
}

static int kmbuf_test_disconnect(struct io_uring_cmd *cmd,
				 unsigned int issue_flags)
{
	struct io_uring_cmd *conn;

	conn = kmbuf_test_end_conn(kmbuf_test_file(cmd), cmd, issue_flags);
	if (IS_ERR(conn))
		return PTR_ERR(conn);
	io_uring_cmd_done(conn, 0, 0, issue_flags);
	return 0;
}

/* With kf->lock held: the connection's ring, if @cmd may use it. */
static int kmbuf_test_conn_check(struct kmbuf_test_file *kf,
				 struct io_uring_cmd *cmd, u16 bgid)
{
	lockdep_assert_held(&kf->lock);

	if (!kf->conn)
		return -ENOTCONN;
	if (kf->conn_ctx != kmbuf_test_ctx(cmd))
		return -EXDEV;
	if (kf->conn_bgid != bgid)
		return -EINVAL;
	return 0;
}

static int kmbuf_test_fill_atomic(struct io_uring_cmd *cmd,
				  const struct kmbuf_test_cmd *c,
				  unsigned int issue_flags)
{
	struct kmbuf_test_file *kf = kmbuf_test_file(cmd);
	struct io_uring_kbuf_sel sel;
	unsigned long flags;
	u32 len = 0;
	int ret;

	spin_lock_irqsave(&kf->lock, flags);
	ret = kmbuf_test_conn_check(kf, cmd, c->bgid);
	if (!ret)
		ret = io_uring_kmbuf_select_pinned(kf->conn_bl, &sel);
	if (!ret) {
		len = min3(c->len, sel.len, (u32)KMBUF_TEST_ATOMIC_MAX);
		kmbuf_test_write_pattern(sel.kaddr, len, c->seed);
	}
	spin_unlock_irqrestore(&kf->lock, flags);
	if (ret)
		return ret;

	io_uring_cmd_done_cflags(cmd, len, 0, kmbuf_test_cflags(sel.bid),
				 issue_flags);
	return -EIOCBQUEUED;
}

/* A ring this file's connection pins is unpinned by DISCONNECT only. */
static int kmbuf_test_unpin(struct io_uring_cmd *cmd,
			    const struct kmbuf_test_cmd *c,
			    unsigned int issue_flags)
{
	struct kmbuf_test_file *kf = kmbuf_test_file(cmd);
	int busy;

	spin_lock_irq(&kf->lock);
	busy = kf->conn && kf->conn_ctx == kmbuf_test_ctx(cmd) &&
	       kf->conn_bgid == c->bgid;
	spin_unlock_irq(&kf->lock);
	if (busy)
		return -EBUSY;
	return io_uring_buf_ring_unpin(cmd, c->bgid, issue_flags);
}

static int kmbuf_test_recycle_atomic(struct io_uring_cmd *cmd,
				     const struct kmbuf_test_cmd *c)
{
	struct kmbuf_test_file *kf = kmbuf_test_file(cmd);
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&kf->lock, flags);
	ret = kmbuf_test_conn_check(kf, cmd, c->bgid);
	if (!ret)
		ret = io_uring_kmbuf_recycle_pinned(kf->conn_bl, c->bid);
	spin_unlock_irqrestore(&kf->lock, flags);
	return ret;
}

static void kmbuf_test_deferred_done(struct io_uring_cmd *cmd,
				     unsigned int issue_flags)
{
	struct kmbuf_test_deferred *d = *(struct kmbuf_test_deferred **)cmd->pdu;
	u32 cflags = d->res >= 0 ? kmbuf_test_cflags(d->sel.bid) : 0;

	spin_lock_irq(&d->kf->lock);
	d->kf->nr_deferred--;
	spin_unlock_irq(&d->kf->lock);
	io_uring_cmd_done_cflags(cmd, d->res, 0, cflags, issue_flags);
	kfree(d);
}

/* The buffer was selected when the command was issued; fill it now. */
static void kmbuf_test_deferred_work(struct work_struct *work)
{
	struct kmbuf_test_deferred *d = container_of(to_delayed_work(work),
					struct kmbuf_test_deferred, work);

	kmbuf_test_write_pattern(d->sel.kaddr, d->len, d->seed);
	d->res = d->len;
	io_uring_cmd_complete_in_task(d->cmd, kmbuf_test_deferred_done);
}

static int kmbuf_test_fill_deferred(struct io_uring_cmd *cmd,
				    const struct kmbuf_test_cmd *c,
				    unsigned int issue_flags)
{
	struct kmbuf_test_file *kf = kmbuf_test_file(cmd);
	struct kmbuf_test_deferred *d;
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;

	spin_lock_irq(&kf->lock);
	ret = kmbuf_test_conn_check(kf, cmd, c->bgid);
	if (!ret)
		ret = io_uring_kmbuf_select_pinned(kf->conn_bl, &d->sel);
	if (!ret)
		kf->nr_deferred++;
	spin_unlock_irq(&kf->lock);
	if (ret) {
		kfree(d);
		return ret;
	}

	INIT_DELAYED_WORK(&d->work, kmbuf_test_deferred_work);
	d->cmd = cmd;
	d->kf = kf;
	d->len = min3(c->len, d->sel.len, (u32)MAX_RW_COUNT);
	d->seed = c->seed;
	*(struct kmbuf_test_deferred **)cmd->pdu = d;
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	schedule_delayed_work(&d->work, msecs_to_jiffies(c->bid));
	return -EIOCBQUEUED;
}

/*
 * Ring exit (or the task's exit) cancels what is in flight; this runs under
 * ->uring_lock and is retried until every command is done.
 */
static void kmbuf_test_cancel(struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	struct kmbuf_test_file *kf = kmbuf_test_file(cmd);
	struct kmbuf_test_deferred *d;
	struct io_uring_cmd *conn;

	switch (cmd->cmd_op) {
	case KMBUF_TEST_CMD_CONNECT:
		/* not while a FILL_DEFERRED holds one of its buffers */
		conn = kmbuf_test_end_conn(kf, cmd, issue_flags);
		if (!IS_ERR(conn))
			io_uring_cmd_done(conn, -ECANCELED, 0, issue_flags);
		break;
	case KMBUF_TEST_CMD_FILL_DEFERRED:
		d = *(struct kmbuf_test_deferred **)cmd->pdu;
		/* a work item that already runs completes the command itself */
		if (!cancel_delayed_work(&d->work))
			break;
		/* the connection waits for us, so the ring is still pinned */
		spin_lock_irq(&kf->lock);
		WARN_ON_ONCE(io_uring_kmbuf_recycle_pinned(kf->conn_bl,
							   d->sel.bid));
		spin_unlock_irq(&kf->lock);
		d->res = -ECANCELED;
		kmbuf_test_deferred_done(cmd, issue_flags);
		break;
	}
}

/* ---- kernel bvec buffers ---- */

static void kmbuf_test_bvec_free(struct kmbuf_test_bvec *kb)
{
	unsigned int i;

	for (i = 0; i < kb->nr_pages; i++)
		__free_page(kb->pages[i]);
	kfree(kb);
}

/* io_uring is done with the buffer: no request uses it any more. */
static void kmbuf_test_bvec_release(void *priv)
{
	struct kmbuf_test_bvec *kb = priv;

	spin_lock(&kmbuf_test_bvecs_lock);
	list_del(&kb->node);
	spin_unlock(&kmbuf_test_bvecs_lock);
	kmbuf_test_bvec_free(kb);
	atomic_inc(&kmbuf_test_bvecs_released);
}

static struct kmbuf_test_bvec *kmbuf_test_bvec_alloc(u32 len, u32 seed)
{
	struct kmbuf_test_bvec *kb;
	unsigned int i;

	kb = kzalloc(struct_size(kb, pages, len >> PAGE_SHIFT), GFP_KERNEL);
	if (!kb)
		return NULL;
	for (i = 0; i < len >> PAGE_SHIFT; i++) {
		u8 *p;
		u32 j;

		kb->pages[i] = alloc_page(GFP_KERNEL);
		if (!kb->pages[i]) {
			kmbuf_test_bvec_free(kb);
			return NULL;
		}
		kb->nr_pages++;
		p = page_address(kb->pages[i]);
		for (j = 0; j < PAGE_SIZE; j++)
			p[j] = kmbuf_test_pattern(seed, i * PAGE_SIZE + j);
	}
	return kb;
}

static int kmbuf_test_reg_bvec(struct io_uring_cmd *cmd,
			       const struct kmbuf_test_cmd *c,
			       unsigned int issue_flags)
{
	struct kmbuf_test_bvec *kb;
	struct bio_vec *bv;
	unsigned int i, dir = 0;
	int ret;

	if (!c->len || c->len > KMBUF_TEST_BVEC_MAX || !PAGE_ALIGNED(c->len) ||
	    c->bid & ~(KMBUF_TEST_BUF_DEST | KMBUF_TEST_BUF_SOURCE))
		return -EINVAL;
	if (c->bid & KMBUF_TEST_BUF_DEST)
		dir |= IO_BUF_DEST;
	if (c->bid & KMBUF_TEST_BUF_SOURCE)
		dir |= IO_BUF_SOURCE;

	kb = kmbuf_test_bvec_alloc(c->len, c->seed);
	if (!kb)
		return -ENOMEM;
	kb->ctx = kmbuf_test_ctx(cmd);
	kb->index = c->bgid;
	bv = kvmalloc_array(kb->nr_pages, sizeof(*bv), GFP_KERNEL);
	if (!bv) {
		kmbuf_test_bvec_free(kb);
		return -ENOMEM;
	}
	for (i = 0; i < kb->nr_pages; i++)
		bvec_set_page(&bv[i], kb->pages[i], PAGE_SIZE, 0);

	/* listed first: userspace may empty the slot as soon as it is set */
	spin_lock(&kmbuf_test_bvecs_lock);
	list_add(&kb->node, &kmbuf_test_bvecs);
	spin_unlock(&kmbuf_test_bvecs_lock);

	ret = io_buffer_register_bvec(cmd, bv, kb->nr_pages, dir,
				      kmbuf_test_bvec_release, kb, c->bgid,
				      issue_flags);
	kvfree(bv);
	if (ret) {
		spin_lock(&kmbuf_test_bvecs_lock);
		list_del(&kb->node);
		spin_unlock(&kmbuf_test_bvecs_lock);
		kmbuf_test_bvec_free(kb);
	}
	return ret;
}

static int kmbuf_test_bvec_check(struct io_uring_cmd *cmd,
				 const struct kmbuf_test_cmd *c)
{
	const void *ctx = kmbuf_test_ctx(cmd);
	struct kmbuf_test_bvec *kb;
	int ret = -ENOENT;
	u32 i;

	spin_lock(&kmbuf_test_bvecs_lock);
	list_for_each_entry(kb, &kmbuf_test_bvecs, node) {
		if (kb->ctx != ctx || kb->index != c->bgid)
			continue;
		ret = -EINVAL;
		if (c->len > kb->nr_pages * PAGE_SIZE)
			break;
		ret = 0;
		for (i = 0; i < c->len; i++) {
			u8 *p = page_address(kb->pages[i >> PAGE_SHIFT]);

			if (p[i & ~PAGE_MASK] != kmbuf_test_pattern(c->seed, i)) {
				ret = -EILSEQ;
				break;
			}
		}
		break;
	}
	spin_unlock(&kmbuf_test_bvecs_lock);
	return ret;
}

/*
 * The floor of FILL with KMBUF_TEST_F_COPY: the same memcpy() from the same
 * source, into a kernel buffer instead of a ring buffer, timed here so that
 * no syscall or completion is part of it.
 */
static int kmbuf_test_memcpy(const struct kmbuf_test_cmd *c)
{
	const u8 *src;
	u64 start, ns;
	u32 i;
	u8 *dst;

	if (!c->len || c->len > KMBUF_TEST_COPY_MAX || !c->seed)
		return -EINVAL;
	src = kmbuf_test_get_copy_src();
	if (!src)
		return -ENOMEM;
	dst = kvmalloc(c->len, GFP_KERNEL);
	if (!dst)
		return -ENOMEM;
	/* fault the destination in, as a ring buffer already is */
	memset(dst, 0, c->len);

	start = ktime_get_ns();
	for (i = 0; i < c->seed; i++) {
		memcpy(dst, src, c->len);
		/* keep the compiler from merging the copies */
		barrier_data(dst);
		cond_resched();
	}
	ns = ktime_get_ns() - start;
	kvfree(dst);
	return ns > INT_MAX ? -EOVERFLOW : (int)ns;
}

static int kmbuf_test_uring_cmd(struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	const struct kmbuf_test_cmd *p = io_uring_sqe_cmd(cmd->sqe);
	struct kmbuf_test_cmd c;

	if (issue_flags & IO_URING_F_CANCEL) {
		kmbuf_test_cancel(cmd, issue_flags);
		return 0;
	}

	/* the SQE is shared with userspace: read each field once */
	c.bgid = READ_ONCE(p->bgid);
	c.bid = READ_ONCE(p->bid);
	c.len = READ_ONCE(p->len);
	c.seed = READ_ONCE(p->seed);
	c.flags = READ_ONCE(p->flags);
	if (c.flags && cmd->cmd_op != KMBUF_TEST_CMD_FILL)
		return -EINVAL;

	switch (cmd->cmd_op) {
	case KMBUF_TEST_CMD_PIN:
		return io_uring_buf_ring_pin(cmd, c.bgid, issue_flags, NULL);
	case KMBUF_TEST_CMD_UNPIN:
		return kmbuf_test_unpin(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_FILL:
		return kmbuf_test_fill(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_RECYCLE:
		return io_uring_kmbuf_recycle(cmd, c.bgid, c.bid, issue_flags);
	case KMBUF_TEST_CMD_FILL_PBUF:
		return kmbuf_test_fill_pbuf(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_IS_KMBUF:
		return io_uring_is_kmbuf_ring(cmd, c.bgid, issue_flags);
	case KMBUF_TEST_CMD_IMPORT_FIXED:
		return kmbuf_test_import_fixed(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_CONNECT:
		return kmbuf_test_connect(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_DISCONNECT:
		return kmbuf_test_disconnect(cmd, issue_flags);
	case KMBUF_TEST_CMD_FILL_ATOMIC:
		return kmbuf_test_fill_atomic(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_RECYCLE_ATOMIC:
		return kmbuf_test_recycle_atomic(cmd, &c);
	case KMBUF_TEST_CMD_FILL_DEFERRED:
		return kmbuf_test_fill_deferred(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_REG_BVEC:
		return kmbuf_test_reg_bvec(cmd, &c, issue_flags);
	case KMBUF_TEST_CMD_UNREG_BVEC:
		return io_buffer_unregister(cmd, c.bgid, issue_flags);
	case KMBUF_TEST_CMD_BVEC_CHECK:
		return kmbuf_test_bvec_check(cmd, &c);
	case KMBUF_TEST_CMD_BVEC_RELEASED:
		return atomic_read(&kmbuf_test_bvecs_released);
	case KMBUF_TEST_CMD_NOP:
		return 0;
	case KMBUF_TEST_CMD_MEMCPY:
		return kmbuf_test_memcpy(&c);
	default:
		return -EINVAL;
	}
}

static int kmbuf_test_open(struct inode *inode, struct file *file)
{
	struct kmbuf_test_file *kf;

	kf = kzalloc(sizeof(*kf), GFP_KERNEL);
	if (!kf)
		return -ENOMEM;
	spin_lock_init(&kf->lock);
	file->private_data = kf;
	return 0;
}

/*
 * Commands hold a reference to the file while they are in flight, so a
 * connection has always ended by the time the file is released.
 */
static int kmbuf_test_release(struct inode *inode, struct file *file)
{
	struct kmbuf_test_file *kf = file->private_data;

	WARN_ON_ONCE(kf->conn || kf->nr_deferred);
	kfree(kf);
	return 0;
}

static const struct file_operations kmbuf_test_fops = {
	.owner		= THIS_MODULE,
	.open		= kmbuf_test_open,
	.release	= kmbuf_test_release,
	.uring_cmd	= kmbuf_test_uring_cmd,
	.unlocked_ioctl	= kmbuf_test_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice kmbuf_test_dev = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "kmbuf_test",
	.fops		= &kmbuf_test_fops,
	/* it hands kernel memory around: root only */
	.mode		= 0600,
};
module_misc_device(kmbuf_test_dev);

MODULE_DESCRIPTION("io_uring kernel-managed buffer ring test driver");
MODULE_LICENSE("GPL");
