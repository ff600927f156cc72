// SPDX-License-Identifier: GPL-2.0
/*
 * kmbuf_testdrv: a uring_cmd consumer of io_uring kernel-managed buffer
 * rings, for testing. The commands are described in kmbuf_testdrv.h.
 *
 * Every command runs synchronously in ->uring_cmd() and uses only the
 * interface a real consumer would use (<linux/io_uring/cmd.h>), passing on
 * the issue_flags it was given so that io_uring takes ->uring_lock when the
 * command runs from io-wq.
 */
#include <linux/fs.h>
#include <linux/io_uring/cmd.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "kmbuf_testdrv.h"

/* chunk size for writing the pattern to user memory */
#define KMBUF_TEST_CHUNK	256

static u32 kmbuf_test_cflags(u16 bid)
{
	return IORING_CQE_F_BUFFER | ((u32)bid << IORING_CQE_BUFFER_SHIFT);
}

static int kmbuf_test_fill(struct io_uring_cmd *cmd,
			   const struct kmbuf_test_cmd *c,
			   unsigned int issue_flags)
{
	struct io_uring_kbuf_sel sel;
	u8 *p;
	u32 len, i;
	int ret;

	ret = io_uring_kmbuf_select(cmd, c->bgid, &sel, issue_flags);
	if (ret)
		return ret;

	len = min3(c->len, sel.len, (u32)MAX_RW_COUNT);
	p = sel.kaddr;
	for (i = 0; i < len; i++)
		p[i] = kmbuf_test_pattern(c->seed, i);

	io_uring_cmd_done_cflags(cmd, len, 0, kmbuf_test_cflags(sel.bid),
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

static int kmbuf_test_uring_cmd(struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	const struct kmbuf_test_cmd *p = io_uring_sqe_cmd(cmd->sqe);
	struct kmbuf_test_cmd c;

	/* the SQE is shared with userspace: read each field once */
	c.bgid = READ_ONCE(p->bgid);
	c.bid = READ_ONCE(p->bid);
	c.len = READ_ONCE(p->len);
	c.seed = READ_ONCE(p->seed);
	c.flags = READ_ONCE(p->flags);
	if (c.flags)
		return -EINVAL;

	switch (cmd->cmd_op) {
	case KMBUF_TEST_CMD_PIN:
		return io_uring_buf_ring_pin(cmd, c.bgid, issue_flags);
	case KMBUF_TEST_CMD_UNPIN:
		return io_uring_buf_ring_unpin(cmd, c.bgid, issue_flags);
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
	default:
		return -EINVAL;
	}
}

static const struct file_operations kmbuf_test_fops = {
	.owner		= THIS_MODULE,
	.uring_cmd	= kmbuf_test_uring_cmd,
	.llseek		= noop_llseek,
};

static struct miscdevice kmbuf_test_dev = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "kmbuf_test",
	.fops		= &kmbuf_test_fops,
	/* testbed only: unprivileged tests drive it too */
	.mode		= 0666,
};
module_misc_device(kmbuf_test_dev);

MODULE_DESCRIPTION("io_uring kernel-managed buffer ring test driver");
MODULE_LICENSE("GPL");
