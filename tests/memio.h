/*
 * memio.h -- an in-memory container io for tests, with fault injection and
 * an operation log.
 *
 * A memio is a `struct io` whose file is a growable byte array.  Tests own
 * it: io_close() on it does nothing, so a container can be closed and the
 * same bytes reopened; memio_free() releases it.
 *
 * Fault injection: `fail_at` counts calls of the selected kinds
 * (`fail_mask`, MEMIO_OP_* bits); the call that brings it to zero fails with
 * `fail_errno` (and every later selected call too if `fail_sticky`).  A
 * short write writes half the bytes and then fails.
 *
 * Recording: when `log` is enabled every mutating call and every sync is
 * appended to the log with its data, which the crash harness replays.
 *
 * THREAD MODEL: every op takes `lock`, so a memio may be shared by threads;
 * writeback only counts (atomically) and calls its hook, which may block,
 * so it takes no lock.
 */
#ifndef HANGAR_TESTS_MEMIO_H
#define HANGAR_TESTS_MEMIO_H

#include <errno.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

enum memio_op_kind {
	MEMIO_OP_PREAD = 1 << 0,
	MEMIO_OP_PWRITE = 1 << 1,
	MEMIO_OP_SYNC = 1 << 2,
	MEMIO_OP_TRUNCATE = 1 << 3,
	MEMIO_OP_FALLOCATE = 1 << 4,
};

struct memio_op {
	enum memio_op_kind kind;
	int mode; /* fallocate */
	uint64_t offset, len;
	uint8_t *data; /* pwrite: a copy */
};

struct memio {
	struct io io;
	pthread_mutex_t lock;
	uint8_t *data;
	uint64_t size, cap;
	/* fault injection */
	unsigned fail_mask;
	long fail_at; /* 0 = off */
	int fail_errno;
	bool fail_sticky, fail_short, failed;
	long calls;
	/* the call that failed first (valid once `failed`) */
	enum memio_op_kind failed_kind;
	uint64_t failed_offset, failed_len;
	/* called at the start of every sync, outside the lock (a test
	 * stands in for a slow disk with it) */
	void (*sync_hook)(void *arg);
	void *sync_arg;
	/* io_writeback: counted, then the hook (no durability effect) */
	_Atomic uint64_t writebacks;
	void (*writeback_hook)(void *arg);
	void *writeback_arg;
	/* recording */
	bool recording;
	struct memio_op *log;
	size_t log_num, log_cap;
};

static inline struct memio *memio_of(struct io *io)
{
	return (struct memio *)io;
}

static inline int memio_fault_at(struct memio *m, enum memio_op_kind kind,
				 uint64_t off, uint64_t len)
{
	if (!(m->fail_mask & kind))
		return 0;
	m->calls++;
	if (m->failed && m->fail_sticky)
		return m->fail_errno;
	if (m->fail_at && m->calls == m->fail_at) {
		m->failed = true;
		m->failed_kind = kind;
		m->failed_offset = off;
		m->failed_len = len;
		return m->fail_errno;
	}
	return 0;
}

static inline int memio_fault(struct memio *m, enum memio_op_kind kind)
{
	return memio_fault_at(m, kind, 0, 0);
}

static inline int memio_reserve(struct memio *m, uint64_t size)
{
	if (size <= m->cap)
		return 0;
	uint64_t cap = m->cap ? m->cap : 65536;
	while (cap < size)
		cap *= 2;
	uint8_t *d = realloc(m->data, cap);
	if (!d)
		return -ENOMEM;
	memset(d + m->cap, 0, cap - m->cap);
	m->data = d;
	m->cap = cap;
	return 0;
}

static inline void memio_record(struct memio *m, enum memio_op_kind kind,
				int mode, uint64_t off, uint64_t len,
				const void *data)
{
	if (!m->recording)
		return;
	if (m->log_num == m->log_cap) {
		m->log_cap = m->log_cap ? m->log_cap * 2 : 256;
		m->log = realloc(m->log, m->log_cap * sizeof(*m->log));
		if (!m->log)
			abort();
	}
	struct memio_op *op = &m->log[m->log_num++];
	op->kind = kind;
	op->mode = mode;
	op->offset = off;
	op->len = len;
	op->data = NULL;
	if (data) {
		op->data = malloc(len ? len : 1);
		if (!op->data)
			abort();
		memcpy(op->data, data, len);
	}
}

static inline int memio_pread(struct io *io, void *buf, size_t len,
			      uint64_t off)
{
	struct memio *m = memio_of(io);
	pthread_mutex_lock(&m->lock);
	int ret = memio_fault_at(m, MEMIO_OP_PREAD, off, len);
	if (!ret) {
		memset(buf, 0, len);
		if (off < m->size) {
			uint64_t n = m->size - off < len ? m->size - off : len;
			memcpy(buf, m->data + off, n);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static inline int memio_pwrite(struct io *io, const void *buf, size_t len,
			       uint64_t off)
{
	struct memio *m = memio_of(io);
	pthread_mutex_lock(&m->lock);
	int ret = memio_fault_at(m, MEMIO_OP_PWRITE, off, len);
	size_t n = len;
	if (ret && m->fail_short && !m->fail_sticky)
		n = len / 2;
	else if (ret)
		n = 0;
	if (n) {
		int r = memio_reserve(m, off + n);
		if (r) {
			ret = r;
		} else {
			memcpy(m->data + off, buf, n);
			if (off + n > m->size)
				m->size = off + n;
			memio_record(m, MEMIO_OP_PWRITE, 0, off, n, buf);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static inline int memio_sync(struct io *io)
{
	struct memio *m = memio_of(io);
	if (m->sync_hook)
		m->sync_hook(m->sync_arg);
	pthread_mutex_lock(&m->lock);
	int ret = memio_fault(m, MEMIO_OP_SYNC);
	if (!ret)
		memio_record(m, MEMIO_OP_SYNC, 0, 0, 0, NULL);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static inline int memio_truncate(struct io *io, uint64_t size)
{
	struct memio *m = memio_of(io);
	pthread_mutex_lock(&m->lock);
	int ret = memio_fault_at(m, MEMIO_OP_TRUNCATE, size, 0);
	if (!ret)
		ret = memio_reserve(m, size);
	if (!ret) {
		if (size < m->size)
			memset(m->data + size, 0, m->size - size);
		m->size = size;
		memio_record(m, MEMIO_OP_TRUNCATE, 0, size, 0, NULL);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static inline int memio_fallocate(struct io *io, int mode, uint64_t off,
				  uint64_t len)
{
	struct memio *m = memio_of(io);
	pthread_mutex_lock(&m->lock);
	int ret = memio_fault_at(m, MEMIO_OP_FALLOCATE, off, len);
	if (!ret)
		ret = memio_reserve(m, off + len);
	if (!ret) {
		if (mode & FALLOC_FL_PUNCH_HOLE) {
			uint64_t end = off + len;
			if (end > m->size)
				end = m->size;
			if (off < end)
				memset(m->data + off, 0, end - off);
		} else if (!(mode & FALLOC_FL_KEEP_SIZE) &&
			   off + len > m->size) {
			m->size = off + len;
		}
		memio_record(m, MEMIO_OP_FALLOCATE, mode, off, len, NULL);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static inline int memio_size(struct io *io, uint64_t *out)
{
	struct memio *m = memio_of(io);
	pthread_mutex_lock(&m->lock);
	*out = m->size;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static inline void memio_close(struct io *io)
{
	(void)io; /* the test owns the memio */
}

/* Not a sync: nothing becomes durable, nothing is recorded. */
static inline int memio_writeback(struct io *io)
{
	struct memio *m = (struct memio *)io;
	atomic_fetch_add(&m->writebacks, 1);
	if (m->writeback_hook)
		m->writeback_hook(m->writeback_arg);
	return 0;
}

static const struct io_ops memio_ops = {
	.pread = memio_pread,
	.pwrite = memio_pwrite,
	.fdatasync = memio_sync,
	.writeback = memio_writeback,
	.ftruncate = memio_truncate,
	.fallocate = memio_fallocate,
	.size = memio_size,
	.close = memio_close,
};

static inline struct memio *memio_new(void)
{
	struct memio *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->io.ops = &memio_ops;
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static inline void memio_log_clear(struct memio *m)
{
	for (size_t i = 0; i < m->log_num; i++)
		free(m->log[i].data);
	m->log_num = 0;
}

/* memio_clone - a new memio with a copy of `m`'s bytes (no log, no faults). */
static inline struct memio *memio_clone(const struct memio *m)
{
	struct memio *n = memio_new();
	if (memio_reserve(n, m->size ? m->size : 1))
		abort();
	memcpy(n->data, m->data, m->size);
	n->size = m->size;
	return n;
}

static inline void memio_free(struct memio *m)
{
	if (!m)
		return;
	memio_log_clear(m);
	free(m->log);
	free(m->data);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static inline void memio_fail(struct memio *m, unsigned mask, long at, int err,
			      bool sticky)
{
	m->fail_mask = mask;
	m->fail_at = at;
	m->fail_errno = err;
	m->fail_sticky = sticky;
	m->failed = false;
	m->calls = 0;
}

#endif /* HANGAR_TESTS_MEMIO_H */
