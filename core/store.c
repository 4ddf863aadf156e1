/*
 * store.c -- a store directory of guest containers.
 *
 * Design notes.
 *   - Paths: a guest name is validated (name_guest_valid) before any path is
 *     built, and every file is opened relative to the store's directory fd
 *     (openat/renameat2/unlinkat), so nothing can reach outside the store.
 *   - Guest files are created, opened, renamed and removed only through
 *     guestfile.h on the store's dirio (`s->ns`, dirio.h), the seam the
 *     crash replay records: create commits the container under a temporary
 *     name and renames it into place, every change ends with a directory
 *     sync (guestfile.h gives the crash arguments).  This file decides
 *     policy: names, read-only, in use, saved image, contents.
 *   - One writer: an exclusive flock on .hangar-lock, whose content is the
 *     holder's PID for the error message of a second mount.
 *   - A background thread commits every open container every
 *     commit_interval_ms, so unflushed data never piles up for long.
 *   - Encrypted stores: `.hangar-store` says "encryption aes-256-gcm" and
 *     `.hangar-keys` holds the key-slot area (keyslot.h), always replaced
 *     whole: `.hangar-keys.tmp` written and fsynced, renamed over, the
 *     directory fsynced.  A crash leaves the old area or the new one; both
 *     wrap the same master key.  The master key is unlocked by store_open
 *     before anything is written and wiped by store_close.
 *
 * THREAD MODEL: `s->lock` protects the guest cache (`guests`, each entry's
 * name, container and refs) and `stopping`.  Container calls that may block
 * (commits) are made outside it, holding a cache reference so the container
 * cannot be closed underneath.  `s->cond` wakes the committer for shutdown.
 * `s->name_lock` (a leaf) also guards each entry's name, for guest_event,
 * which runs under a container's lock and so may not take `s->lock`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirio.h"
#include "format.h"
#include "guestfile.h"
#include "io.h"
#include "names.h"
#include "savelock.h"
#include "store.h"

struct guest_entry {
	struct store *store;
	char name[FORMAT_GUEST_NAME_MAX + 1];
	struct container *c; /* NULL if not open */
	unsigned refs;
};

struct store {
	char *dir;
	int dir_fd;
	struct dirio *ns; /* over dir_fd: every guest-file change */
	int lock_fd;
	bool read_only;
	unsigned cluster_shift;
	unsigned commit_interval_ms;
	container_event_fn event;
	void *event_arg;
	bool encrypted;
	struct crypto_key *master; /* immutable while open; NULL when plain */

	pthread_mutex_t lock;
	/* a leaf lock: a guest's name is rewritten by a rename (under `lock`
	 * too) while guest_event, called by a container with its own lock
	 * held (so it may not take `lock`), reads it */
	pthread_mutex_t name_lock;
	pthread_cond_t cond;
	bool stopping;
	bool committer_running;
	pthread_t committer;
	struct guest_entry **guests;
	size_t guest_num, guest_cap;
};

static int errno_neg(void)
{
	return errno ? -errno : -EIO;
}

static int dir_sync(int dir_fd)
{
	return fsync(dir_fd) ? errno_neg() : 0;
}

static int config_read(int dir_fd, unsigned *out_shift, bool *out_encrypted)
{
	char buf[256];
	int fd = openat(dir_fd, STORE_CONFIG_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : errno_neg();
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return errno_neg();
	buf[n] = '\0';
	unsigned version = 0, shift = 0;
	if (sscanf(buf, "hangar-store %u\ncluster_shift %u", &version,
		   &shift) != 2 ||
	    version != 1 || shift < FORMAT_CLUSTER_SHIFT_MIN ||
	    shift > FORMAT_CLUSTER_SHIFT_MAX)
		return -EINVAL;
	*out_shift = shift;
	*out_encrypted = strstr(buf, "\nencryption aes-256-gcm\n") != NULL;
	return 0;
}

/* Read the key-slot area (exactly KEYSLOT_AREA_SIZE bytes). */
static int keys_read(int dir_fd, uint8_t *area)
{
	int fd = openat(dir_fd, STORE_KEYS_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -EUCLEAN : errno_neg();
	/* one byte more than the area tells a longer file apart */
	uint8_t buf[KEYSLOT_AREA_SIZE + 1];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	int ret = n < 0 ? errno_neg() : 0;
	close(fd);
	if (!ret && n != KEYSLOT_AREA_SIZE)
		ret = -EUCLEAN;
	if (!ret)
		memcpy(area, buf, KEYSLOT_AREA_SIZE);
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

/* Replace the key-slot area atomically (see the design notes). */
static int keys_write(int dir_fd, const uint8_t *area)
{
	static const char tmp[] = STORE_KEYS_NAME ".tmp";
	int ret = 0;
	int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
	if (fd < 0)
		return errno_neg();
	if (pwrite(fd, area, KEYSLOT_AREA_SIZE, 0) != KEYSLOT_AREA_SIZE ||
	    fsync(fd) != 0)
		ret = errno_neg();
	close(fd);
	if (!ret && renameat(dir_fd, tmp, dir_fd, STORE_KEYS_NAME) != 0)
		ret = errno_neg();
	if (ret)
		(void)unlinkat(dir_fd, tmp, 0);
	else
		ret = dir_sync(dir_fd);
	return ret;
}

int store_init(const char *dir, const struct store_init_options *opts)
{
	unsigned shift = opts && opts->cluster_shift
				 ? opts->cluster_shift
				 : FORMAT_CLUSTER_SHIFT_DEFAULT;
	char buf[128];
	uint8_t area[KEYSLOT_AREA_SIZE];
	struct crypto_key *master = NULL;
	const bool encrypt = opts && opts->encrypt;
	int dir_fd, fd, ret = 0;

	if (shift < FORMAT_CLUSTER_SHIFT_MIN ||
	    shift > FORMAT_CLUSTER_SHIFT_MAX)
		return -EINVAL;
	if (encrypt && (!opts->key_secret || opts->key_secret_len == 0))
		return -EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno_neg();
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return errno_neg();
	if (faccessat(dir_fd, STORE_CONFIG_NAME, F_OK, 0) == 0) {
		ret = -EEXIST;
		goto out_close;
	}
	if (encrypt) {
		/* The key area first: the settings file is what makes the
		 * directory a store. */
		ret = keyslot_area_init(area, &master, opts->key_kind,
					opts->kdf, opts->key_secret,
					opts->key_secret_len);
		crypto_key_free(master); /* guests are created by store_open */
		if (!ret)
			ret = keys_write(dir_fd, area);
		if (ret)
			goto out_close;
	}
	int len = snprintf(buf, sizeof(buf),
			   "hangar-store 1\ncluster_shift %u\n%s", shift,
			   encrypt ? "encryption aes-256-gcm\n" : "");
	fd = openat(dir_fd, ".hangar-store.tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = errno_neg();
		goto out_close;
	}
	if (write(fd, buf, (size_t)len) != len || fsync(fd) != 0)
		ret = errno_neg();
	close(fd);
	if (!ret && renameat(dir_fd, ".hangar-store.tmp", dir_fd,
			     STORE_CONFIG_NAME) != 0)
		ret = errno_neg();
	if (!ret)
		ret = dir_sync(dir_fd);
out_close:
	close(dir_fd);
	return ret;
}

static void *committer_main(void *arg);

int store_open(const char *dir, const struct store_options *opts,
	       struct store **out_store)
{
	struct store *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	s->read_only = opts && opts->read_only;
	s->commit_interval_ms = opts ? opts->commit_interval_ms : 0;
	s->event = opts ? opts->event : NULL;
	s->event_arg = opts ? opts->event_arg : NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->name_lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->dir = strdup(dir);
	if (!s->dir) {
		ret = -ENOMEM;
		goto out_free;
	}
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		ret = errno_neg();
		goto out_free;
	}
	ret = dirio_file_open(s->dir_fd, &s->ns);
	if (ret)
		goto out_close_dir;
	ret = config_read(s->dir_fd, &s->cluster_shift, &s->encrypted);
	if (ret)
		goto out_close_dir;
	if (s->encrypted) {
		/* Unlock before anything is written: a wrong key touches
		 * nothing. */
		uint8_t area[KEYSLOT_AREA_SIZE];
		if (!opts || !opts->key_secret) {
			ret = -ENOKEY;
			goto out_close_dir;
		}
		ret = keys_read(s->dir_fd, area);
		if (!ret)
			ret = keyslot_unlock(&s->master, NULL, area,
					     sizeof(area), opts->key_kind,
					     opts->key_secret,
					     opts->key_secret_len);
		if (ret)
			goto out_close_dir;
	}
	if (s->read_only) {
		/* A reader takes a shared lock when it can, so no writer
		 * starts underneath a read-only mount; when a writer already
		 * holds the store, the reader proceeds without (it reads the
		 * last committed state). */
		s->lock_fd = openat(s->dir_fd, STORE_LOCK_NAME,
				    O_RDONLY | O_CLOEXEC);
		if (s->lock_fd >= 0 && flock(s->lock_fd, LOCK_SH | LOCK_NB)) {
			close(s->lock_fd);
			s->lock_fd = -1;
		}
	} else {
		s->lock_fd = openat(s->dir_fd, STORE_LOCK_NAME,
				    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->lock_fd < 0) {
			ret = errno_neg();
			goto out_close_dir;
		}
		if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			ret = errno == EWOULDBLOCK ? -EWOULDBLOCK : errno_neg();
			goto out_close_lock;
		}
		char pid[32];
		int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(s->lock_fd, 0) != 0 ||
		    pwrite(s->lock_fd, pid, (size_t)len, 0) != len) {
			ret = errno_neg();
			goto out_close_lock;
		}
		if (s->commit_interval_ms) {
			ret = -pthread_create(&s->committer, NULL,
					      committer_main, s);
			if (ret)
				goto out_close_lock;
			s->committer_running = true;
		}
	}
	*out_store = s;
	return 0;
out_close_lock:
	close(s->lock_fd);
out_close_dir:
	dirio_close(s->ns);
	close(s->dir_fd);
out_free:
	crypto_key_free(s->master);
	free(s->dir);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->name_lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return ret;
}

int store_close(struct store *s)
{
	int first = 0;
	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->committer_running)
		pthread_join(s->committer, NULL);
	for (size_t i = 0; i < s->guest_num; i++) {
		int ret = container_close(s->guests[i]->c);
		if (ret && !first)
			first = ret;
		free(s->guests[i]);
	}
	free(s->guests);
	if (s->lock_fd >= 0) {
		if (!s->read_only && ftruncate(s->lock_fd, 0) != 0 && !first)
			first = errno_neg();
		close(s->lock_fd);
	}
	dirio_close(s->ns);
	close(s->dir_fd);
	crypto_key_free(s->master); /* wiped */
	free(s->dir);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->name_lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return first;
}

int store_lock_holder(const char *dir, pid_t *out_pid)
{
	char path[4096], buf[32];
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_NAME);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		close(fd);
		return -ENOENT;
	}
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n < 0)
		n = 0; /* held, but by readers only: no PID */
	buf[n] = '\0';
	*out_pid = (pid_t)atol(buf);
	return 0;
}

unsigned store_cluster_shift(const struct store *s)
{
	return s->cluster_shift;
}

const char *store_dir(const struct store *s)
{
	return s->dir;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void store_names_free(char **names, size_t num)
{
	for (size_t i = 0; names && i < num; i++)
		free(names[i]);
	free(names);
}

int store_guest_list(struct store *s, char ***out_names, size_t *out_num)
{
	char **names = NULL;
	size_t num = 0, cap = 0;
	int ret = 0;
	int fd = dup(s->dir_fd);
	if (fd < 0)
		return errno_neg();
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return errno_neg();
	}
	rewinddir(d);
	struct dirent *de;
	const size_t suffix = strlen(STORE_GUEST_SUFFIX);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= suffix ||
		    strcmp(de->d_name + len - suffix, STORE_GUEST_SUFFIX) != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(len - suffix),
			 de->d_name);
		if (!name_guest_valid(name))
			continue;
		if (num == cap) {
			cap = cap ? cap * 2 : 16;
			char **n = realloc(names, cap * sizeof(*n));
			if (!n) {
				ret = -ENOMEM;
				break;
			}
			names = n;
		}
		names[num] = strdup(name);
		if (!names[num]) {
			ret = -ENOMEM;
			break;
		}
		num++;
	}
	closedir(d);
	if (ret) {
		store_names_free(names, num);
		return ret;
	}
	if (num)
		qsort(names, num, sizeof(*names), str_cmp);
	*out_names = names;
	*out_num = num;
	return 0;
}

static void guest_event(void *arg, const struct container_event *ev)
{
	struct guest_entry *g = arg;
	struct container_event copy = *ev;
	char name[sizeof(g->name)];
	pthread_mutex_lock(&g->store->name_lock);
	memcpy(name, g->name, sizeof(name));
	pthread_mutex_unlock(&g->store->name_lock);
	copy.guest = name;
	if (g->store->event)
		g->store->event(g->store->event_arg, &copy);
}

int store_guest_create(struct store *s, const char *name,
		       const struct guest_create_options *opts)
{
	if (!name_guest_valid(name))
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	const struct container_options copts = {
		.cluster_shift = s->cluster_shift,
		.compress_disks = opts && opts->compress_disks,
		.master = s->master,
	};
	pthread_mutex_lock(&s->lock);
	int ret = guestfile_create(s->ns, name, &copts);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static struct guest_entry *guest_find(struct store *s, const char *name)
{
	for (size_t i = 0; i < s->guest_num; i++)
		if (strcmp(s->guests[i]->name, name) == 0)
			return s->guests[i];
	return NULL;
}

static struct guest_entry *guest_find_container(struct store *s,
						const struct container *c)
{
	for (size_t i = 0; i < s->guest_num; i++)
		if (s->guests[i]->c == c)
			return s->guests[i];
	return NULL;
}

static void guest_forget(struct store *s, struct guest_entry *g)
{
	for (size_t i = 0; i < s->guest_num; i++) {
		if (s->guests[i] != g)
			continue;
		s->guests[i] = s->guests[--s->guest_num];
		break;
	}
	free(g);
}

int store_guest_get(struct store *s, const char *name,
		    struct container **out_container)
{
	struct guest_entry *g;
	struct io *io = NULL;
	int ret = 0;

	if (!name_guest_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	g = guest_find(s, name);
	if (g) {
		g->refs++;
		*out_container = g->c;
		goto out_unlock;
	}
	if (s->guest_num == s->guest_cap) {
		size_t cap = s->guest_cap ? s->guest_cap * 2 : 16;
		struct guest_entry **n = realloc(s->guests, cap * sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		s->guests = n;
		s->guest_cap = cap;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	g->store = s;
	snprintf(g->name, sizeof(g->name), "%s", name);
	ret = guestfile_open(s->ns, name, s->read_only ? O_RDONLY : O_RDWR,
			     &io);
	if (ret) {
		free(g);
		goto out_unlock;
	}
	struct container_options copts = {.read_only = s->read_only,
					  .event = guest_event,
					  .event_arg = g,
					  .master = s->master};
	ret = container_open(io, &copts, &g->c);
	if (ret) {
		io_close(io);
		free(g);
		goto out_unlock;
	}
	g->refs = 1;
	s->guests[s->guest_num++] = g;
	*out_container = g->c;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void store_guest_put(struct store *s, struct container *c)
{
	pthread_mutex_lock(&s->lock);
	struct guest_entry *g = guest_find_container(s, c);
	if (g && g->refs > 0)
		g->refs--;
	pthread_mutex_unlock(&s->lock);
}

int store_guest_delete(struct store *s, const char *name, unsigned flags)
{
	struct container *c = NULL;
	const bool ignore_lock = flags & STORE_DELETE_IGNORE_SAVE_LOCK;
	int ret;

	if (!name_guest_valid(name))
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	ret = store_guest_get(s, name, &c);
	if (ret && !(ignore_lock && ret != -ENOENT))
		return ret;
	pthread_mutex_lock(&s->lock);
	struct guest_entry *g = c ? guest_find_container(s, c) : NULL;
	if (g) {
		g->refs--; /* ours */
		if (g->refs > 0) {
			ret = -EBUSY;
			goto out_unlock;
		}
		struct container_info info;
		struct save_status st;
		container_info(c, &info);
		save_lock_status(c, &st);
		if (!ignore_lock && (st.state == SAVE_STATE_SAVED ||
				     st.state == SAVE_STATE_RESUMING)) {
			ret = -EBUSY;
			goto out_unlock;
		}
		if (!(flags & STORE_DELETE_CONTENTS) && info.object_count > 0) {
			ret = -ENOTEMPTY;
			goto out_unlock;
		}
		(void)container_close(g->c);
		guest_forget(s, g);
	}
	ret = guestfile_delete(s->ns, name);
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_guest_rename(struct store *s, const char *from, const char *to)
{
	if (!name_guest_valid(from) || !name_guest_valid(to))
		return -EINVAL;
	if (s->read_only)
		return -EROFS;
	if (strcmp(from, to) == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	int ret = guestfile_rename(s->ns, from, to);
	char ffile[GUESTFILE_NAME_MAX];
	guestfile_name(from, ffile);
	/* A failed directory sync comes after the rename itself: the cache
	 * follows the file whenever it moved. */
	if (ret == 0 || dirio_exists(s->ns, ffile) == -ENOENT) {
		struct guest_entry *g = guest_find(s, from);
		if (g) {
			pthread_mutex_lock(&s->name_lock);
			snprintf(g->name, sizeof(g->name), "%s", to);
			pthread_mutex_unlock(&s->name_lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_commit_all(struct store *s)
{
	struct container **list = NULL;
	size_t num = 0;
	int first = 0;

	pthread_mutex_lock(&s->lock);
	list = calloc(s->guest_num ? s->guest_num : 1, sizeof(*list));
	if (!list) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->guest_num; i++) {
		s->guests[i]->refs++;
		list[num++] = s->guests[i]->c;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < num; i++) {
		int ret = container_commit(list[i]);
		if (ret && !first)
			first = ret;
		store_guest_put(s, list[i]);
	}
	free(list);
	return first;
}

static void *committer_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += s->commit_interval_ms / 1000;
		until.tv_nsec += (long)(s->commit_interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &until);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->lock);
		(void)store_commit_all(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- encryption --------------------------------------------------------- */

bool store_is_encrypted(const struct store *s)
{
	return s->encrypted;
}

const struct crypto_key *store_master_key(const struct store *s)
{
	return s->master;
}

/* Read-modify-write of the key area under an flock on the directory. */
static int keys_edit_begin(struct store *s, uint8_t *area)
{
	if (!s->encrypted)
		return -ENOTSUP;
	if (flock(s->dir_fd, LOCK_EX) != 0)
		return errno_neg();
	int ret = keys_read(s->dir_fd, area);
	if (ret)
		(void)flock(s->dir_fd, LOCK_UN);
	return ret;
}

int store_key_add(struct store *s, enum keyslot_kind kind, const void *secret,
		  size_t secret_len, const struct crypto_scrypt_params *kdf,
		  unsigned *out_slot)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	unsigned slot = 0;
	int ret = keys_edit_begin(s, area);
	if (ret)
		return ret;
	ret = keyslot_add(area, sizeof(area), &slot, s->master, kind, kdf,
			  secret, secret_len);
	if (!ret)
		ret = keys_write(s->dir_fd, area);
	(void)flock(s->dir_fd, LOCK_UN);
	if (!ret && out_slot)
		*out_slot = slot;
	return ret;
}

int store_key_remove(struct store *s, unsigned index)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	int ret = keys_edit_begin(s, area);
	if (ret)
		return ret;
	ret = keyslot_remove(area, sizeof(area), s->master, index);
	if (!ret)
		ret = keys_write(s->dir_fd, area);
	(void)flock(s->dir_fd, LOCK_UN);
	return ret;
}

int store_key_list(struct store *s, struct keyslot_info *out_info,
		   unsigned *out_count)
{
	uint8_t area[KEYSLOT_AREA_SIZE];
	int ret;

	if (!s->encrypted)
		return -ENOTSUP;
	ret = keys_read(s->dir_fd, area);
	if (ret)
		return ret;
	return keyslot_list(area, sizeof(area), out_info, out_count);
}
