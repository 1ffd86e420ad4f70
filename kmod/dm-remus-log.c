// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/remus-log: the write log of `remus` disks, in bulk.
 *
 * The data path of a disk buffer does not go through netlink: a replicate
 * disk's log is read() by the daemon in batches of whole records, and the
 * records shipped to the backup are write()n into its stage disk the same
 * way. A file is bound to one disk with REMUS_LOG_IOC_BIND; the record
 * format and the rules are in include/uapi/linux/remus.h.
 *
 * Records leave the log only once copied out: the bytes they take count
 * against the disk's limit until then, so a slow reader holds the guest's
 * writes back instead of losing them. A read that faults puts what it
 * could not copy back at the head of the log.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dm-remus.h"

struct remus_log_file {
	struct mutex bind;		/* serialises REMUS_LOG_IOC_BIND */
	struct remus_disk *d;		/* set once, under ->bind */
};

static struct remus_disk *remus_log_disk(struct file *file)
{
	struct remus_log_file *lf = file->private_data;

	/* Pairs with the release in remus_log_bind(): d is set up. */
	return smp_load_acquire(&lf->d);
}

static int remus_log_open(struct inode *inode, struct file *file)
{
	struct remus_log_file *lf = kzalloc(sizeof(*lf), GFP_KERNEL);

	if (!lf)
		return -ENOMEM;
	mutex_init(&lf->bind);
	file->private_data = lf;
	return stream_open(inode, file);
}

static int remus_log_release(struct inode *inode, struct file *file)
{
	struct remus_log_file *lf = file->private_data;
	struct remus_disk *d = lf->d;

	if (d) {
		spin_lock(&d->lock);
		d->bound = false;
		spin_unlock(&d->lock);
		remus_disk_put(d);
	}
	kfree(lf);
	return 0;
}

static long remus_log_bind(struct file *file, void __user *arg)
{
	struct remus_log_file *lf = file->private_data;
	struct remus_log_bind b;
	struct remus_disk *d;
	int err;

	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (b.flags || !memchr(b.name, '\0', sizeof(b.name)) ||
	    !b.dev == !b.name[0])
		return -EINVAL;

	mutex_lock(&lf->bind);
	err = -EISCONN;
	if (lf->d)
		goto out;
	d = b.dev ? remus_disk_get_by_dev(b.dev) :
		    remus_disk_get_by_name(b.name);
	err = -ENODEV;
	if (!d)
		goto out;
	spin_lock(&d->lock);
	err = d->dead ? -ENODEV : d->bound ? -EBUSY : 0;
	if (!err)
		d->bound = true;
	spin_unlock(&d->lock);
	if (err) {
		remus_disk_put(d);
		goto out;
	}
	/* Readers and writers may see the file bound from now on. */
	smp_store_release(&lf->d, d);
out:
	mutex_unlock(&lf->bind);
	return err;
}

static long remus_log_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	switch (cmd) {
	case REMUS_LOG_IOC_BIND:
		return remus_log_bind(file, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

/* Copy one record out; false if userspace faulted. */
static bool remus_log_copy_rec(struct remus_rec *r, char __user *buf)
{
	struct remus_log_record h;
	size_t left, off = sizeof(h);
	unsigned int i;

	remus_rec_header(r, &h);
	h.checksum = remus_rec_checksum(&h, r);
	if (copy_to_user(buf, &h, sizeof(h)))
		return false;
	left = r->type == REMUS_LOG_WRITE ?
	       (size_t)r->sectors << SECTOR_SHIFT : 0;
	for (i = 0; left; i++) {
		size_t n = min_t(size_t, left, PAGE_SIZE);
		void *p = kmap_local_page(r->pages[i]);
		unsigned long fail = copy_to_user(buf + off, p, n);

		kunmap_local(p);
		if (fail)
			return false;
		off += n;
		left -= n;
	}
	return true;
}

static ssize_t remus_log_read(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos)
{
	struct remus_disk *d = remus_log_disk(file);
	struct remus_rec *r, *n;
	LIST_HEAD(batch);
	size_t done = 0, taken = 0;
	ssize_t ret;

	if (!d)
		return -ENOTCONN;
	if (count < REMUS_LOG_READ_MIN)
		return -EINVAL;
	if (mutex_lock_interruptible(&d->io))
		return -ERESTARTSYS;

	spin_lock(&d->lock);
	while (list_empty(&d->log)) {
		ret = 0;
		if (d->dead)
			goto unlock;
		ret = -EAGAIN;
		if (file->f_flags & O_NONBLOCK)
			goto unlock;
		spin_unlock(&d->lock);
		ret = wait_event_interruptible(d->log_wait,
					       !list_empty_careful(&d->log) ||
					       READ_ONCE(d->dead));
		if (ret)
			goto out;
		spin_lock(&d->lock);
	}
	list_for_each_entry_safe(r, n, &d->log, node) {
		size_t size = remus_rec_size(r);

		if (taken + size > count)
			break;
		taken += size;
		list_move_tail(&r->node, &batch);
	}
	spin_unlock(&d->lock);

	list_for_each_entry_safe(r, n, &batch, node) {
		if (!remus_log_copy_rec(r, buf + done))
			break;
		done += remus_rec_size(r);
		list_del(&r->node);
		remus_rec_put(r);
	}
	if (!list_empty(&batch)) {
		spin_lock(&d->lock);
		list_splice(&batch, &d->log);
		spin_unlock(&d->lock);
	}
	if (done)
		remus_disk_log_consumed(d, done);
	ret = done ? done : -EFAULT;
	goto out;

unlock:
	spin_unlock(&d->lock);
out:
	mutex_unlock(&d->io);
	return ret;
}

/*
 * One record from userspace, checked field by field before anything is
 * allocated for it: lengths come from the caller and are not trusted.
 */
static int remus_log_take(struct remus_disk *d, const char __user *buf,
			  size_t avail, struct remus_rec **rp, size_t *sizep)
{
	struct remus_log_record h;
	size_t size, left, off;
	struct remus_rec *r;
	unsigned int i;
	u64 sum;

	if (avail < sizeof(h))
		return -EINVAL;
	if (copy_from_user(&h, buf, sizeof(h)))
		return -EFAULT;
	if (h.magic != REMUS_LOG_MAGIC || h.reserved ||
	    (h.flags & ~REMUS_LOG_F_MASK))
		return -EINVAL;
	switch (h.type) {
	case REMUS_LOG_WRITE:
		if (!h.sectors || h.sectors > REMUS_LOG_MAX_SECTORS)
			return -EINVAL;
		break;
	case REMUS_LOG_DISCARD:
	case REMUS_LOG_WRITE_ZEROES:
		if (!h.sectors || h.flags)
			return -EINVAL;
		break;
	case REMUS_LOG_FLUSH:
	case REMUS_LOG_BARRIER:
		if (h.sectors || h.sector || h.flags)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (h.sector > d->sectors || h.sectors > d->sectors - h.sector)
		return -ERANGE;
	size = sizeof(h);
	if (h.type == REMUS_LOG_WRITE)
		size += (size_t)h.sectors << SECTOR_SHIFT;
	if (size > avail)
		return -EINVAL;

	r = remus_rec_alloc(h.type, h.sectors, GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->sector = h.sector;
	r->flags = h.flags;
	r->epoch = h.epoch;
	r->seq = h.seq;
	left = size - sizeof(h);
	off = sizeof(h);
	for (i = 0; left; i++) {
		size_t n = min_t(size_t, left, PAGE_SIZE);
		void *p = kmap_local_page(r->pages[i]);
		unsigned long fail = copy_from_user(p, buf + off, n);

		kunmap_local(p);
		if (fail) {
			remus_rec_put(r);
			return -EFAULT;
		}
		off += n;
		left -= n;
	}
	sum = h.checksum;
	h.checksum = 0;
	if (remus_rec_checksum(&h, r) != sum) {
		remus_rec_put(r);
		return -EBADMSG;
	}
	*rp = r;
	*sizep = size;
	return 0;
}

static ssize_t remus_log_write(struct file *file, const char __user *buf,
			       size_t count, loff_t *ppos)
{
	struct remus_disk *d = remus_log_disk(file);
	bool nonblock = file->f_flags & O_NONBLOCK;
	size_t done = 0;
	int err = 0;

	if (!d)
		return -ENOTCONN;
	if (mutex_lock_interruptible(&d->io))
		return -ERESTARTSYS;
	while (done < count) {
		struct remus_rec *r;
		size_t size;

		err = remus_log_take(d, buf + done, count - done, &r, &size);
		if (err)
			break;
		err = remus_disk_stage(d, r, nonblock);
		if (err) {
			remus_rec_put(r);
			break;
		}
		done += size;
	}
	mutex_unlock(&d->io);
	return done ? done : err;
}

static __poll_t remus_log_poll(struct file *file, poll_table *wait)
{
	struct remus_disk *d = remus_log_disk(file);
	__poll_t mask = 0;

	if (!d)
		return EPOLLERR;
	poll_wait(file, &d->log_wait, wait);
	spin_lock(&d->lock);
	if (d->dead)
		mask |= EPOLLHUP | EPOLLIN | EPOLLRDNORM;
	if (!list_empty(&d->log))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (d->dmode == REMUS_DISK_STAGE && d->mode == REMUS_MODE_BUFFER &&
	    d->used < d->limit)
		mask |= EPOLLOUT | EPOLLWRNORM;
	spin_unlock(&d->lock);
	return mask;
}

static const struct file_operations remus_log_fops = {
	.owner		= THIS_MODULE,
	.open		= remus_log_open,
	.release	= remus_log_release,
	.read		= remus_log_read,
	.write		= remus_log_write,
	.poll		= remus_log_poll,
	.unlocked_ioctl	= remus_log_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice remus_log_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "remus-log",
	.fops	= &remus_log_fops,
	.mode	= 0600,
};

int remus_log_init(void)
{
	return misc_register(&remus_log_misc);
}

void remus_log_exit(void)
{
	misc_deregister(&remus_log_misc);
}
