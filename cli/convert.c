/*
 * convert.c -- disks in other formats (qcow2, vmdk, vhdx, vdi) for
 * `hangar import`, through qemu-img.
 *
 * The format is what `qemu-img info --output=json` says (the top-level
 * "format" key), or what the user forced with --format.  Without qemu-img
 * the magic numbers of those four formats are recognised, so such a disk is
 * refused with the reason instead of being imported as raw bytes.
 *
 * A disk that is not raw is converted into an unnamed temporary file
 * (O_TMPFILE: nothing is left behind whatever kills us), preferably in the
 * store's own directory (same filesystem as the data's destination, and no
 * name a store listing could see), else in $TMPDIR or /var/tmp.  qemu-img
 * writes it with `convert -n --target-is-zero`, so zero ranges stay holes;
 * the import then copies its SEEK_DATA ranges as for any raw disk (copy.c),
 * mounted or not.  It costs temporary space for the data (not the virtual
 * size) and reads the data twice; in return one path serves the mounted and
 * the unmounted store, and the store lock is not held while qemu-img runs.
 *
 * qemu-img's own progress (`-p`, "(12.34/100%)" on its stdout) is read from
 * a pipe and shown as ours, measured against the source's allocated bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define CONVERT_INFO_MAX (1u << 20) /* qemu-img info's JSON, at most */
#define CONVERT_QEMU_IMG "qemu-img"

/* The formats hangar converts; raw needs no conversion. */
static const char *const convert_formats[] = {"qcow2", "vmdk", "vhdx", "vdi"};

bool convert_format_supported(const char *fmt)
{
	for (size_t i = 0;
	     i < sizeof(convert_formats) / sizeof(convert_formats[0]); i++)
		if (strcmp(fmt, convert_formats[i]) == 0)
			return true;
	return false;
}

/* Run qemu-img with `args` (NULL-terminated, args[0] "qemu-img"), its stdout
 * on a pipe returned in *out_fd, stderr ours.  -ENOENT when qemu-img is not
 * installed (the child exits 127 before exec succeeds: checked here by a
 * close-on-exec pipe that reports exec's errno). */
static int qemu_img_spawn(char *const args[], pid_t *out_pid, int *out_fd)
{
	int out[2], status[2], err = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(status, O_CLOEXEC) != 0) {
		err = -errno;
		goto out_close_out;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out_close_status;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* no qemu-img left writing an unnamed file when we die */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (dup2(out[1], STDOUT_FILENO) >= 0) {
			int fd = open("/dev/null", O_RDONLY);

			if (fd >= 0)
				dup2(fd, STDIN_FILENO);
			execvp(args[0], args);
		}
		err = errno;
		(void)!write(status[1], &err, sizeof(err));
		_exit(127);
	}
	close(out[1]);
	close(status[1]);
	n = read(status[0], &err, sizeof(err));
	close(status[0]);
	if (n == (ssize_t)sizeof(err)) { /* exec failed */
		close(out[0]);
		waitpid(pid, NULL, 0);
		return -err;
	}
	*out_pid = pid;
	*out_fd = out[0];
	return 0;

out_close_status:
	close(status[0]);
	close(status[1]);
out_close_out:
	close(out[0]);
	close(out[1]);
	return err;
}

/* Wait for qemu-img: 0 if it exited 0, else -EIO (its stderr said why). */
static int qemu_img_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * The string value of key `key` in the top-level object of `json` (depth
 * 1: "format" of the image, not of its children or extents).  Values of
 * qemu-img's keys we read need no unescaping (format names, numbers).
 */
static bool json_top_value(const char *json, const char *key, char *out,
			   size_t len)
{
	size_t key_len = strlen(key);
	int depth = 0;

	for (const char *p = json; *p; p++) {
		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			depth--;
		} else if (*p == '"') {
			const char *start = ++p, *v;
			size_t n = 0;

			while (*p && *p != '"')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (!*p)
				return false;
			if (depth != 1 || (size_t)(p - start) != key_len ||
			    memcmp(start, key, key_len) != 0)
				continue;
			v = p + 1;
			while (*v == ' ' || *v == ':')
				v++;
			if (*v == '"')
				v++;
			while (v[n] && v[n] != '"' && v[n] != ',' &&
			       v[n] != '\n' && n + 1 < len)
				n++;
			memcpy(out, v, n);
			out[n] = '\0';
			return n > 0;
		}
	}
	return false;
}

/* Magic numbers, for a host without qemu-img. */
static const char *format_from_magic(int fd)
{
	unsigned char head[72] = {0};
	ssize_t n = pread(fd, head, sizeof(head), 0);

	if (n >= 4 && memcmp(head, "QFI\xfb", 4) == 0)
		return "qcow2";
	if (n >= 4 && memcmp(head, "KDMV", 4) == 0)
		return "vmdk";
	if (n >= 8 && memcmp(head, "vhdxfile", 8) == 0)
		return "vhdx";
	if (n >= 68 && memcmp(head + 64, "\x7f\x10\xda\xbe", 4) == 0)
		return "vdi";
	return "raw";
}

int convert_probe(const char *path, int fd, char *fmt, size_t len)
{
	char *args[] = {CONVERT_QEMU_IMG, "info", "--output=json", "-U",
			(char *)path,	  NULL};
	char *json;
	size_t used = 0;
	pid_t pid;
	int out, rc;

	/* what the magic says: the answer without qemu-img, and what an
	 * error message names when qemu-img cannot read the file */
	snprintf(fmt, len, "%s", format_from_magic(fd));
	rc = qemu_img_spawn(args, &pid, &out);
	if (rc == -ENOENT)
		return strcmp(fmt, "raw") == 0 ? 0 : -ENOENT;
	if (rc)
		return rc;
	json = malloc(CONVERT_INFO_MAX + 1);
	if (!json) {
		close(out);
		qemu_img_wait(pid);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(out, json + used, CONVERT_INFO_MAX - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == CONVERT_INFO_MAX)
			break;
	}
	json[used] = '\0';
	close(out);
	rc = qemu_img_wait(pid);
	if (!rc && !json_top_value(json, "format", fmt, len))
		rc = -EINVAL;
	free(json);
	return rc;
}

/* An unnamed file to convert into: in `dir` if it can be, else in $TMPDIR
 * or /var/tmp. */
static int convert_tmpfile(const char *dir)
{
	const char *tmp = getenv("TMPDIR");
	const char *dirs[] = {dir, tmp && *tmp ? tmp : "/var/tmp", "/tmp"};
	int fd = -1;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && fd < 0; i++)
		if (dirs[i])
			fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC,
				  0600);
	return fd < 0 ? -errno : fd;
}

/* Show qemu-img's "(12.34/100%)" lines as our progress. */
static void convert_follow(int out, struct progress *progress, uint64_t total)
{
	char buf[256];
	size_t used = 0;

	for (;;) {
		ssize_t n = read(out, buf + used, sizeof(buf) - 1 - used);
		char *open_paren;
		double percent;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		open_paren = strrchr(buf, '(');
		if (open_paren &&
		    sscanf(open_paren, "(%lf/100%%)", &percent) == 1 &&
		    percent >= 0 && percent <= 100)
			progress_update(progress, (uint64_t)((double)total *
							     percent / 100.0));
		if (used > sizeof(buf) / 2) { /* keep the tail only */
			size_t keep = open_paren ? strlen(open_paren) : 0;

			if (keep > sizeof(buf) / 2)
				keep = 0;
			memmove(buf, buf + used - keep, keep);
			used = keep;
		}
	}
}

int convert_to_raw(const char *path, int src_fd, const char *fmt,
		   const char *tmp_dir, bool show_progress, int *out_fd,
		   uint64_t *out_size)
{
	char target[64], virt[32];
	char *args[] = {CONVERT_QEMU_IMG,
			"convert",
			"-p",
			"-n",
			"--target-is-zero",
			"-f",
			(char *)fmt,
			"-O",
			"raw",
			(char *)path,
			target,
			NULL};
	char *info_args[] = {CONVERT_QEMU_IMG,
			     "info",
			     "--output=json",
			     "-U",
			     "-f",
			     (char *)fmt,
			     (char *)path,
			     NULL};
	struct progress progress;
	struct stat st;
	char json[8192], *end;
	uint64_t size;
	size_t used = 0;
	pid_t pid;
	int fd, out, rc;

	/* the virtual size, to give the target before qemu-img writes it */
	rc = qemu_img_spawn(info_args, &pid, &out);
	if (rc)
		return rc;
	for (ssize_t n;
	     used < sizeof(json) - 1 &&
	     (n = read(out, json + used, sizeof(json) - 1 - used)) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		used += (size_t)n;
	}
	json[used] = '\0';
	close(out);
	rc = qemu_img_wait(pid);
	if (rc)
		return rc;
	if (!json_top_value(json, "virtual-size", virt, sizeof(virt)))
		return -EINVAL;
	errno = 0;
	size = strtoull(virt, &end, 10);
	if (errno || *end || end == virt || size > (uint64_t)INT64_MAX)
		return -EINVAL;

	fd = convert_tmpfile(tmp_dir);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) != 0) {
		rc = -errno;
		goto out_close;
	}
	/* qemu-img opens the unnamed file through our descriptor table */
	snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)getpid(), fd);
	rc = qemu_img_spawn(args, &pid, &out);
	if (rc)
		goto out_close;
	if (fstat(src_fd, &st) != 0)
		st.st_blocks = 0;
	progress_start_forced(&progress, "convert",
			      (uint64_t)st.st_blocks * 512, show_progress);
	convert_follow(out, &progress, (uint64_t)st.st_blocks * 512);
	close(out);
	rc = qemu_img_wait(pid);
	if (!rc)
		progress.done = progress.total;
	progress_finish(&progress);
	if (rc)
		goto out_close;
	*out_fd = fd;
	*out_size = size;
	return 0;

out_close:
	close(fd);
	return rc;
}
