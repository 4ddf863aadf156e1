/*
 * copy.c -- sparse copies between host files and container objects.
 *
 * Both directions are proportional to the data, not to the virtual size:
 *   - in:  the source's own SEEK_DATA/SEEK_HOLE map says which ranges to
 *          read (a filesystem without it reports all data, which is still
 *          correct), and chunks that are all zeros are not written, so the
 *          object stays a hole there (the object is new, so its holes
 *          already read as zeros);
 *   - out: the object's map (object_seek) says which ranges to read, zero
 *          chunks are skipped again, and ftruncate gives the file its size,
 *          so `du` of an export matches the data.
 * Progress counts bytes of data read (the ranges above), not offsets, so it
 * advances evenly over a sparse file; copy_host_data_bytes and
 * copy_object_data_bytes measure the same ranges beforehand for the total.
 * Imports commit every COPY_COMMIT_BYTES so a huge import neither keeps an
 * unbounded transaction in memory nor loses everything to a crash.
 */
#include <errno.h>
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

int copy_object_to_fd(struct container *c, uint64_t id, int fd, uint64_t size,
		      struct progress *progress, uint64_t progress_base)
{
	unsigned char *buf;
	uint64_t pos = 0, start, end, data = 0;
	int rc = 0;

	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	while (pos < size) {
		rc = object_seek(c, id, pos, SEEK_DATA, &start);
		if (rc == -ENXIO) {
			rc = 0;
			break;
		}
		if (rc)
			goto out_free;
		if (start >= size)
			break;
		rc = object_seek(c, id, start, SEEK_HOLE, &end);
		if (rc)
			goto out_free;
		if (end > size)
			end = size;
		if (end <= start) { /* a map that contradicts itself */
			rc = -EUCLEAN;
			goto out_free;
		}
		for (pos = start; pos < end;) {
			size_t want = end - pos < COPY_CHUNK
					      ? (size_t)(end - pos)
					      : COPY_CHUNK;
			size_t got = 0;

			rc = object_read(c, id, buf, want, pos, &got);
			if (rc)
				goto out_free;
			if (got == 0) {
				rc = -EIO;
				goto out_free;
			}
			if (!chunk_is_zero(buf, got)) {
				rc = write_full(fd, buf, got, pos);
				if (rc)
					goto out_free;
			}
			pos += got;
			data += got;
			progress_update(progress, progress_base + data);
		}
	}
	if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
		rc = -errno;
		goto out_free;
	}
out_free:
	free(buf);
	return rc;
}
