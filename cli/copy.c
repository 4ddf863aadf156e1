/*
 * copy.c -- sparse copies between host files and container objects.
 *
 * Every direction is proportional to the data, not to the virtual size:
 *   - in:  the source's own SEEK_DATA/SEEK_HOLE map says which ranges to
 *          read (a filesystem without it reports all data, which is still
 *          correct), and chunks that are all zeros are not written, so the
 *          object stays a hole there (the object is new, so its holes
 *          already read as zeros);
 *   - out: the object's map (object_seek) says which ranges to read, zero
 *          chunks are skipped again, and ftruncate gives the file its size,
 *          so `du` of an export matches the data;
 *   - object to object (clone): the source's map again, written into a
 *          new object of another container through object_write (so an
 *          encrypted clone seals everything under its own keys);
 *   - one changed extent into an existing file (export --since): the
 *          extent is cleared first (a punched hole), then the data of the
 *          extent written over it, so bytes outside the extent are never
 *          read nor written.
 * Progress counts bytes of data read (the ranges above), not offsets, so it
 * advances evenly over a sparse file; copy_host_data_bytes and
 * copy_object_data_bytes measure the same ranges beforehand for the total.
 * Imports and clones commit every COPY_COMMIT_BYTES so a huge one neither
 * keeps an unbounded transaction in memory nor loses everything to a crash.
 * The copies out of an object stop with -EINTR when cli_stop_requested()
 * (a command that holds SIGINT/SIGTERM/SIGHUP: clone).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define COPY_CHUNK	  (1u << 20)
#define COPY_COMMIT_BYTES (1ull << 30)

static bool chunk_is_zero(const unsigned char *buf, size_t len)
{
	/* memcmp against itself shifted: zero iff first byte is zero and
	 * every byte equals its neighbour. */
	return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

static int read_full(int fd, void *buf, size_t len, uint64_t offset,
		     size_t *out_len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(offset + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*out_len = done;
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(offset + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Next data range of host file `fd` at or after `pos`: [*start, *end).
 * Returns 0, or 1 when there is no more data. */
static int host_next_data(int fd, uint64_t pos, uint64_t size, uint64_t *start,
			  uint64_t *end)
{
	off_t data, hole;

	if (pos >= size)
		return 1;
	data = lseek(fd, (off_t)pos, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO)
			return 1;
		/* No SEEK_DATA support: everything is data. */
		*start = pos;
		*end = size;
		return 0;
	}
	if ((uint64_t)data >= size)
		return 1;
	hole = lseek(fd, data, SEEK_HOLE);
	if (hole < 0 || (uint64_t)hole > size)
		hole = (off_t)size;
	*start = (uint64_t)data;
	*end = (uint64_t)hole;
	return 0;
}

uint64_t copy_host_data_bytes(int fd, uint64_t size)
{
	uint64_t pos = 0, start, end, data = 0;

	while (host_next_data(fd, pos, size, &start, &end) == 0) {
		data += end - start;
		pos = end;
	}
	return data;
}

uint64_t copy_object_data_bytes(struct container *c, uint64_t id, uint64_t size)
{
	uint64_t pos = 0, start, end, data = 0;

	while (pos < size && object_seek(c, id, pos, SEEK_DATA, &start) == 0 &&
	       start < size &&
	       object_seek(c, id, start, SEEK_HOLE, &end) == 0) {
		if (end > size)
			end = size;
		if (end <= start)
			break;
		data += end - start;
		pos = end;
	}
	return data;
}

/* Where copy_host_data delivers each non-zero chunk of the source. */
typedef int (*copy_sink_fn)(void *arg, const void *buf, size_t len,
			    uint64_t offset);

/*
 * Read the data ranges of host file `src` (SEEK_DATA/SEEK_HOLE) chunk by
 * chunk and hand every chunk that is not all zeros to `sink`: holes and
 * zero chunks stay holes in a fresh destination.
 */
static int copy_host_data(int src, uint64_t size, copy_sink_fn sink, void *arg,
			  struct progress *progress, uint64_t progress_base)
{
	unsigned char *buf;
	uint64_t pos = 0, start, end, data = 0;
	int rc;

	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	while ((rc = host_next_data(src, pos, size, &start, &end)) == 0) {
		for (pos = start; pos < end;) {
			size_t want = end - pos < COPY_CHUNK
					      ? (size_t)(end - pos)
					      : COPY_CHUNK;
			size_t got = 0;

			if (cli_stop_requested()) {
				rc = -EINTR;
				goto out_free;
			}
			rc = read_full(src, buf, want, pos, &got);
			if (rc)
				goto out_free;
			if (got == 0) { /* file shrank under us */
				rc = -EIO;
				goto out_free;
			}
			if (!chunk_is_zero(buf, got)) {
				rc = sink(arg, buf, got, pos);
				if (rc)
					goto out_free;
			}
			pos += got;
			data += got;
			progress_update(progress, progress_base + data);
		}
	}
	rc = rc < 0 ? rc : 0;
out_free:
	free(buf);
	return rc;
}

static int sink_fd(void *arg, const void *buf, size_t len, uint64_t offset)
{
	return write_full(*(int *)arg, buf, len, offset);
}

int copy_fd_to_fd(int src, int dst, uint64_t size, struct progress *progress,
		  uint64_t progress_base)
{
	int rc;

	if (ftruncate(dst, (off_t)size) != 0)
		return -errno;
	rc = copy_host_data(src, size, sink_fd, &dst, progress, progress_base);
	if (!rc && fsync(dst) != 0)
		rc = -errno;
	return rc;
}

struct object_sink {
	struct container *c;
	uint64_t id;
	uint64_t since_commit;
};

/* Write into the object, committing every COPY_COMMIT_BYTES so a large
 * import does not pile up uncommitted data. */
static int sink_object(void *arg, const void *buf, size_t len, uint64_t offset)
{
	struct object_sink *o = arg;
	int rc = object_write(o->c, o->id, buf, len, offset);

	if (rc)
		return rc;
	o->since_commit += len;
	if (o->since_commit < COPY_COMMIT_BYTES)
		return 0;
	o->since_commit = 0;
	return container_commit(o->c);
}

int copy_fd_to_object(struct container *c, uint64_t id, int fd, uint64_t size,
		      struct progress *progress, uint64_t progress_base)
{
	struct object_sink sink = {.c = c, .id = id};
	int rc = object_truncate(c, id, size);

	if (rc)
		return rc;
	return copy_host_data(fd, size, sink_object, &sink, progress,
			      progress_base);
}

/* Next data range of object `id` at or after `pos`, below `limit`:
 * [*start, *end).  Returns 0, 1 when there is no more data, or -errno. */
static int object_next_data(struct container *c, uint64_t id, uint64_t pos,
			    uint64_t limit, uint64_t *start, uint64_t *end)
{
	int rc;

	if (pos >= limit)
		return 1;
	rc = object_seek(c, id, pos, SEEK_DATA, start);
	if (rc == -ENXIO || (rc == 0 && *start >= limit))
		return 1;
	if (rc)
		return rc;
	rc = object_seek(c, id, *start, SEEK_HOLE, end);
	if (rc)
		return rc;
	if (*end > limit)
		*end = limit;
	if (*end <= *start) /* a map that contradicts itself */
		return -EUCLEAN;
	return 0;
}

/* Where the data of an object goes: a host file or another object. */
struct object_copy_sink {
	int fd;		      /* a host file, or -1 */
	struct container *to; /* else this container's object to_id */
	uint64_t to_id;
	uint64_t since_commit;
};

/* Hand every non-zero chunk of object `id`'s data in [from, limit) to
 * `sink`; *out_data (may be NULL) gets the bytes of data read. */
static int copy_object_data(struct container *c, uint64_t id, uint64_t from,
			    uint64_t limit, struct object_copy_sink *sink,
			    struct progress *progress, uint64_t progress_base,
			    uint64_t *out_data)
{
	unsigned char *buf;
	uint64_t pos = from, start, end, data = 0;
	int rc;

	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	while ((rc = object_next_data(c, id, pos, limit, &start, &end)) == 0) {
		for (pos = start; pos < end;) {
			size_t want = end - pos < COPY_CHUNK
					      ? (size_t)(end - pos)
					      : COPY_CHUNK;
			size_t got = 0;

			if (cli_stop_requested()) {
				rc = -EINTR;
				goto out_free;
			}
			rc = object_read(c, id, buf, want, pos, &got);
			if (rc)
				goto out_free;
			if (got == 0) {
				rc = -EIO;
				goto out_free;
			}
			if (!chunk_is_zero(buf, got)) {
				if (sink->to) {
					struct object_sink o = {
						.c = sink->to,
						.id = sink->to_id,
						.since_commit =
							sink->since_commit};
					rc = sink_object(&o, buf, got, pos);
					sink->since_commit = o.since_commit;
				} else {
					rc = write_full(sink->fd, buf, got,
							pos);
				}
				if (rc)
					goto out_free;
			}
			pos += got;
			data += got;
			progress_update(progress, progress_base + data);
		}
	}
	rc = rc < 0 ? rc : 0;
out_free:
	if (out_data)
		*out_data = data;
	free(buf);
	return rc;
}

int copy_object_to_fd(struct container *c, uint64_t id, int fd, uint64_t size,
		      struct progress *progress, uint64_t progress_base)
{
	struct object_copy_sink sink = {.fd = fd};
	int rc = copy_object_data(c, id, 0, size, &sink, progress,
				  progress_base, NULL);

	if (!rc && (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0))
		rc = -errno;
	return rc;
}

int copy_object_to_object(struct container *src, uint64_t src_id,
			  struct container *dst, uint64_t dst_id, uint64_t size,
			  struct progress *progress, uint64_t progress_base)
{
	struct object_copy_sink sink = {.fd = -1, .to = dst, .to_id = dst_id};
	int rc = object_truncate(dst, dst_id, size);

	if (rc)
		return rc;
	return copy_object_data(src, src_id, 0, size, &sink, progress,
				progress_base, NULL);
}

/* Make [offset, offset + len) of host file `fd` read as zeros, as a hole
 * where the filesystem can punch one. */
static int zero_fd_range(int fd, uint64_t offset, uint64_t len)
{
	static const unsigned char zeros[65536];

	if (len == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)offset, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int rc = write_full(fd, zeros, n, offset);

		if (rc)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

int copy_object_extent_to_fd(struct container *c, uint64_t id, int fd,
			     uint64_t offset, uint64_t length, uint64_t size,
			     uint64_t *out_data)
{
	struct object_copy_sink sink = {.fd = fd};
	uint64_t limit = offset + length < size ? offset + length : size;
	int rc;

	*out_data = 0;
	if (offset >= limit)
		return 0;
	/* the file held older bytes here: what is a hole or zeros now must
	 * read as zeros, so the whole extent is cleared first and the data
	 * written over it */
	rc = zero_fd_range(fd, offset, limit - offset);
	if (rc)
		return rc;
	return copy_object_data(c, id, offset, limit, &sink, NULL, 0, out_data);
}
