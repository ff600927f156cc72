/* SPDX-License-Identifier: GPL-2.0 */
/* kmbuf_testdrv: the ioctls of /dev/kmbuf_test, in kmbuf_p2p.c */
#ifndef _KMBUF_P2P_H
#define _KMBUF_P2P_H

struct file;

long kmbuf_test_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* _KMBUF_P2P_H */
