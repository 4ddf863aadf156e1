/*
 * mounts.c -- the mount table through libmount (mounts.h says why).
 */
#include <errno.h>
#include <libmount.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mounts.h"

int mounts_path_absolute(const char *path, char *out, size_t out_len)
{
	char copy[PATH_MAX], resolved[PATH_MAX];
	const char *parent = ".", *last;
	size_t len = strlen(path);
	char *slash;
	int n;

	if (realpath(path, resolved)) {
		n = snprintf(out, out_len, "%s", resolved);
		return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
	}
	/* A dead mount point, or nothing there: keep the last component. */
	if (len == 0 || len >= sizeof(copy))
		return len ? -ENAMETOOLONG : -ENOENT;
	memcpy(copy, path, len + 1);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	last = copy;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		parent = slash == copy ? "/" : copy;
		last = slash + 1;
	}
	if (!realpath(parent, resolved))
		return -errno;
	n = snprintf(out, out_len, "%s/%s",
		     strcmp(resolved, "/") == 0 ? "" : resolved, last);
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

/* The kernel's table for this process (mountinfo), or NULL with errno. */
static struct libmnt_table *mounts_read(void)
{
	struct libmnt_table *tb = mnt_new_table();
	int rc;

	if (!tb) {
		errno = ENOMEM;
		return NULL;
	}
	rc = mnt_table_parse_file(tb, "/proc/self/mountinfo");
	if (rc) {
		mnt_unref_table(tb);
		errno = rc < 0 ? -rc : rc;
		return NULL;
	}
	return tb;
}

static int mounts_copy(struct libmnt_fs *fs, struct mount_entry *out)
{
	const char *target = mnt_fs_get_target(fs);
	const char *source = mnt_fs_get_source(fs);
	const char *fstype = mnt_fs_get_fstype(fs);
	char *value = NULL, uid_text[16];
	size_t value_len = 0;

	memset(out, 0, sizeof(*out));
	if (snprintf(out->target, sizeof(out->target), "%s",
		     target ? target : "") >= (int)sizeof(out->target) ||
	    snprintf(out->source, sizeof(out->source), "%s",
		     source ? source : "") >= (int)sizeof(out->source))
		return -ENAMETOOLONG;
	snprintf(out->fstype, sizeof(out->fstype), "%s", fstype ? fstype : "");
	out->dev = mnt_fs_get_devno(fs);
	out->owner = -1;
	if (mnt_fs_get_option(fs, "user_id", &value, &value_len) == 0 &&
	    value && value_len > 0 && value_len < sizeof(uid_text)) {
		memcpy(uid_text, value, value_len);
		uid_text[value_len] = '\0';
		out->owner = strtol(uid_text, NULL, 10);
	}
	return 0;
}

int mounts_find_target(const char *path, struct mount_entry *out)
{
	struct libmnt_table *tb = mounts_read();
	struct libmnt_fs *fs;
	int rc;

	if (!tb)
		return -errno;
	/* No cache: a canonicalizing lookup would stat a dead mount point.
	 * Backward: the last listed mount at a path is the one on top. */
	fs = mnt_table_find_target(tb, path, MNT_ITER_BACKWARD);
	rc = fs ? mounts_copy(fs, out) : -ENOENT;
	mnt_unref_table(tb);
	return rc;
}

bool mounts_has_fuse(dev_t dev, const char *path)
{
	struct libmnt_table *tb = mounts_read();
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	bool found = false;

	while (tb && it && !found && mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *type = mnt_fs_get_fstype(fs);

		found = mnt_fs_get_devno(fs) == dev &&
			mnt_fs_streq_target(fs, path) && type &&
			(strcmp(type, "fuse") == 0 ||
			 strncmp(type, "fuse.", 5) == 0);
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return found;
}

/* As root: libmount's umount, which reports umount(2)'s errno. */
static int mounts_detach_root(const char *path, bool lazy)
{
	struct libmnt_context *cxt = mnt_new_context();
	int rc;

	if (!cxt)
		return -ENOMEM;
	/* The path is already canonical (mounts_path_absolute), and a dead
	 * one cannot be canonicalized again; no umount.<type> helper. */
	mnt_context_disable_canonicalize(cxt, 1);
	mnt_context_disable_helpers(cxt, 1);
	rc = mnt_context_enable_lazy(cxt, lazy);
	if (rc == 0)
		rc = mnt_context_set_target(cxt, path);
	if (rc == 0)
		rc = mnt_context_umount(cxt);
	if (rc > 0 || (rc < 0 && mnt_context_syscall_called(cxt)))
		rc = -mnt_context_get_syscall_errno(cxt);
	else if (rc < -4095)
		rc = -EIO; /* a libmount code (MNT_ERR_*), not an errno */
	/* umount(2) and libmount's lookup say EINVAL for "not a mount
	 * point" */
	if (rc == -EINVAL)
		rc = -ENOENT;
	mnt_free_context(cxt);
	return rc;
}

/* Not root: fusermount3 (setuid) -u [-z] -q; it says no more than failure,
 * so the mount table tells why. */
static int mounts_detach_user(const char *path, bool lazy)
{
	struct mount_entry still;
	char *args[6];
	int n = 0, status;
	pid_t child;

	args[n++] = "fusermount3";
	args[n++] = "-u";
	if (lazy)
		args[n++] = "-z";
	args[n++] = "-q";
	args[n++] = (char *)path;
	args[n] = NULL;
	fflush(NULL);
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		execvp(args[0], args);
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOEXEC;
	if (mounts_find_target(path, &still) != 0)
		return -ENOENT;
	if (still.owner != (long)getuid())
		return -EPERM;
	return lazy ? -EIO : -EBUSY;
}

int mounts_detach(const char *path, bool lazy)
{
	return geteuid() == 0 ? mounts_detach_root(path, lazy)
			      : mounts_detach_user(path, lazy);
}
