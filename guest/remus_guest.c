// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "proc/kcompat.h"
#include "remus_guest.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

struct handshake {
	const char *image;
	int fd;
	const char *path;
};

static int env_fd(const char *name)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > INT_MAX)
		return -1;
	return v;
}

static void resolve(const struct remus_guest_opts *o, struct handshake *h)
{
	bool env = !(o->flags & REMUS_GUEST_F_NO_ENV);

	h->image = o->image ? o->image : env ? getenv(REMUS_GUEST_ENV_IMAGE) : NULL;
	if (h->image && !*h->image)
		h->image = NULL;
	h->fd = o->desc_fd > 0 ? o->desc_fd : env ? env_fd(REMUS_GUEST_ENV_FD) : -1;
	h->path = o->desc_path ? o->desc_path :
		  env ? getenv(REMUS_GUEST_ENV_DESC) : NULL;
	if (h->path && !*h->path)
		h->path = NULL;
}

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EIO;
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * Only the image's data extents are read: its holes are zero pages, and
 * leaving them unpopulated keeps the restored guest as small as it was.
 */
static int fill_from_image(struct remus_guest *g, const char *path)
{
	struct remus_guest_hdr hdr;
	off_t off = 0, data, hole;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = -EINVAL;
	if ((uint64_t)st.st_size != g->size)
		goto out;
	ret = pread_all(fd, &hdr, sizeof(hdr), 0);
	if (ret)
		goto out;
	ret = remus_guest_hdr_check(&hdr, (uintptr_t)g->base, g->size);
	if (ret)
		goto out;
	while ((uint64_t)off < g->size) {
		data = lseek(fd, off, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			/* no SEEK_DATA on this file system: all of it is data */
			data = off;
			hole = g->size;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > g->size)
				hole = g->size;
		}
		if (hole > data) {
			ret = pread_all(fd, (char *)g->base + data, hole - data, data);
			if (ret)
				goto out;
		}
		off = hole;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static bool uffd_unavailable(int err)
{
	return err == ENOSYS || err == EINVAL || err == EPERM ||
	       err == EOPNOTSUPP || err == EACCES;
}

/*
 * Asynchronous write-protect: the kernel resolves write faults itself and
 * only records "written", which PAGEMAP_SCAN reads and re-arms from the
 * daemon. WP_UNPOPULATED makes the kernel track pages never touched yet
 * (PAGEMAP_SCAN's PM_SCAN_CHECK_WPASYNC demands it for anonymous memory).
 * The fd is never read: WP_ASYNC queues no events.
 */
static int setup_uffd(struct remus_guest *g)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)g->base, .len = g->size },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = reg.range,
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	int fd, err;

	/* user-mode faults are all an asynchronous uffd needs, and need no
	 * privilege (vm.unprivileged_userfaultfd = 0) */
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return uffd_unavailable(errno) ? 0 : -errno;
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		goto unavailable;
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		goto unavailable;
	/*
	 * Arm every page now, markers on the unpopulated ones included:
	 * PAGEMAP_SCAN counts a page without protection as written, so
	 * without this the first harvest would report the whole region. Done
	 * before the region is written (header, image), so that the first
	 * harvest reports exactly the pages that may differ from zero. The
	 * cost (about 0.1 s and 2 MiB of page tables per GiB) is paid once,
	 * here, instead of in the first checkpoint's pause.
	 */
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	g->uffd = fd;
	g->uffd_features = api.features;
	g->tracking = REMUS_GUEST_TRACK_UFFD_WP_ASYNC;
	return 0;
unavailable:
	err = errno;
	close(fd);
	return uffd_unavailable(err) ? 0 : -err;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * A daemon that gave up on us closes its end: that must be an error here,
 * not a SIGPIPE that kills the guest.
 */
static int write_pipe(int fd, const char *buf, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	int ret;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ret = write_all(fd, buf, len);
	if (ret == -EPIPE && !sigismember(&old, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static int write_desc_file(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, buf, len);
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static int handshake(const struct remus_guest *g)
{
	struct remus_guest_desc d = {
		.version = REMUS_GUEST_DESC_VERSION,
		.pid = getpid(),
		.addr = (uintptr_t)g->base,
		.size = g->size,
		.page_size = g->page_size,
		.tracking = g->tracking,
		.uffd_features = g->uffd_features,
		.restored = g->restored,
		.generation = g->hdr->generation,
	};
	char buf[REMUS_GUEST_DESC_MAX];
	int len, ret = 0;

	if (g->desc_fd < 0 && !g->desc_path)
		return 0;
	len = remus_guest_desc_format(&d, buf, sizeof(buf));
	if (len < 0)
		return len;
	if (g->desc_path)
		ret = write_desc_file(g->desc_path, buf, len);
	if (!ret && g->desc_fd >= 0)
		ret = write_pipe(g->desc_fd, buf, len);
	return ret;
}

int remus_guest_init(struct remus_guest *g, const struct remus_guest_opts *o)
{
	struct handshake h;
	void *p;
	int ret;

	memset(g, 0, sizeof(*g));
	g->uffd = -1;
	g->desc_fd = -1;
	resolve(o, &h);
	g->page_size = sysconf(_SC_PAGESIZE);
	g->size = o->size;
	ret = -EINVAL;
	if (o->flags & ~REMUS_GUEST_F_ALL)
		goto err;
	if (!o->size || o->size % g->page_size || o->size < 2 * g->page_size)
		goto err;
	if (o->addr % g->page_size)
		goto err;
	p = (void *)(uintptr_t)(o->addr ? o->addr : REMUS_GUEST_DEFAULT_ADDR);
	g->base = mmap(p, o->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);
	if (g->base == MAP_FAILED) {
		ret = -errno;
		g->base = NULL;
		goto err;
	}
	/* a kernel older than 4.17 takes MAP_FIXED_NOREPLACE as a hint */
	if (g->base != p) {
		munmap(g->base, o->size);
		g->base = NULL;
		ret = -EEXIST;
		goto err;
	}
	if (!(o->flags & REMUS_GUEST_F_HUGEPAGE))
		madvise(g->base, g->size, MADV_NOHUGEPAGE);
	if (!(o->flags & REMUS_GUEST_F_NO_UFFD)) {
		ret = setup_uffd(g);
		if (ret)
			goto err;
	}
	g->hdr = g->base;
	if (h.image) {
		ret = fill_from_image(g, h.image);
		if (ret)
			goto err;
		g->restored = true;
		g->hdr->generation++;
	} else {
		memcpy(g->hdr->magic, REMUS_GUEST_HDR_MAGIC, sizeof(g->hdr->magic));
		g->hdr->version = REMUS_GUEST_HDR_VERSION;
		g->hdr->hdr_size = sizeof(*g->hdr);
		g->hdr->addr = (uintptr_t)g->base;
		g->hdr->size = g->size;
		g->hdr->app_off = g->page_size;
		g->hdr->generation = 0;
	}
	g->app = (char *)g->base + g->hdr->app_off;
	g->app_size = g->size - g->hdr->app_off;
	g->desc_fd = h.fd;
	g->desc_path = h.path;
	h.fd = -1;
	if (!(o->flags & REMUS_GUEST_F_LATE_READY)) {
		ret = remus_guest_ready(g);
		if (ret)
			goto err;
	}
	return 0;
err:
	if (h.fd >= 0)
		close(h.fd);
	remus_guest_fini(g);
	return ret;
}

int remus_guest_ready(struct remus_guest *g)
{
	int ret;

	if (!g->base)
		return -EINVAL;
	ret = handshake(g);
	if (g->desc_fd >= 0)
		close(g->desc_fd);
	g->desc_fd = -1;
	g->desc_path = NULL;
	return ret;
}

void remus_guest_fini(struct remus_guest *g)
{
	if (g->uffd >= 0)
		close(g->uffd);
	if (g->desc_fd >= 0)
		close(g->desc_fd);
	if (g->base)
		munmap(g->base, g->size);
	memset(g, 0, sizeof(*g));
	g->uffd = -1;
	g->desc_fd = -1;
}
