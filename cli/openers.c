/*
 * openers.c -- who has a file of a mounted guest open, as `fuser` tells.
 *
 * On a mounted store the daemon owns every container, and the control
 * socket carries one guest name and no size, so `hangar rename` and
 * `hangar resize` act through the mount (rename(2), truncate(2)).  hangarfs
 * renames a guest whose files are open (their handles keep working) and
 * truncates a disk another process writes; a person asking to rename a
 * running guest or resize the disk under it almost certainly made a
 * mistake, so the CLI looks first: every /proc/PID/fd link that names a
 * path under the guest's directory on the mount (or the one disk), with
 * /proc/PID/fdinfo's flags telling writers from readers.
 *
 * Limits, said in the man page: only processes the caller may inspect are
 * seen (all of them as root), and a file opened after the look is not
 * (the look and the rename are not one step).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Whether descriptor `fd` of `pid` was opened for writing (fdinfo). */
static bool fd_writable(long pid, const char *fd)
{
	char path[PATH_MAX], line[256];
	bool writable = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long flags;

		if (sscanf(line, "flags: %lo", &flags) == 1) {
			writable = (flags & O_ACCMODE) != O_RDONLY;
			break;
		}
	}
	fclose(f);
	return writable;
}

/* Whether `target` is `path`, or under it when `prefix`. */
static bool path_matches(const char *target, const char *path, bool prefix)
{
	size_t len = strlen(path);

	if (strncmp(target, path, len) != 0)
		return false;
	return target[len] == '\0' || (prefix && target[len] == '/');
}

/* Scan one process's descriptors; true when one matches. */
static bool pid_opens(long pid, const char *path, bool prefix, bool for_write)
{
	char dir_path[64], link[64 + 256 + 2], target[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir_path, sizeof(dir_path), "/proc/%ld/fd", pid);
	d = opendir(dir_path);
	if (!d)
		return false; /* gone, or not ours to look at */
	while (!found && (de = readdir(d)) != NULL) {
		ssize_t n;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir_path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = path_matches(target, path, prefix) &&
			(!for_write || fd_writable(pid, de->d_name));
	}
	closedir(d);
	return found;
}

int cli_path_openers(const char *path, bool prefix, bool for_write,
		     pid_t *out_pid, char *comm, size_t comm_len)
{
	char real[PATH_MAX];
	struct dirent *de;
	pid_t self = getpid();
	int count = 0;
	DIR *proc;

	if (!realpath(path, real))
		return -errno;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((de = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self ||
		    !pid_opens(pid, real, prefix, for_write))
			continue;
		if (count++ == 0) {
			char comm_path[64];
			FILE *f;

			*out_pid = (pid_t)pid;
			comm[0] = '\0';
			snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm",
				 pid);
			f = fopen(comm_path, "re");
			if (f) {
				if (fgets(comm, (int)comm_len, f))
					comm[strcspn(comm, "\n")] = '\0';
				fclose(f);
			}
		}
	}
	closedir(proc);
	return count;
}
