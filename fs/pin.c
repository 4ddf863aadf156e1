/*
 * pin.c -- a read-only mount beside a read-write one: the guests the
 * writer has open are served from pins.
 *
 * `hangarfs -o ro` beside a read-write hangarfs of the same store cannot
 * read a guest the writer has open from its live tree: the writer recycles
 * its blocks as it writes, so a reader could get bytes no committed state
 * held.  Instead (container.h, "Pins"), the first request that needs such
 * a guest asks the writer, through its control socket, for a pin: a
 * snapshot named after this daemon's PID, one commit holding every write
 * the writer completed before it.  The pin is read from the container file
 * beside the writer (store_snapshot_open_beside: nothing a snapshot maps
 * is freed or rewritten while it exists), and its read-only view stands in
 * for the guest's container in every request (guest_acquire), so the
 * guest's files, sizes, listing and reads are all of that one commit.
 *
 * Freshness: a view serves every request while a file of the guest is
 * open in this mount.  An open when none is (the guest was idle here)
 * takes a new pin, so a reader that closes and reopens sees the writer's
 * state as of that reopen; the old pin is dropped once its last request
 * ends.  A pin without open files serves lookups and listings for
 * PIN_IDLE_MS more (an `ls -l` or a `cat` starts with lookups) and is then
 * dropped by the reaper thread.  Dropping a pin closes its view and asks
 * the writer to delete it (CONTROL_OP_UNPIN); at unmount every pin goes.
 * A pin this daemon leaves behind (SIGKILL) is deleted by the writer when
 * it takes the next pin of that guest or opens it again (its PID is dead).
 *
 * When no pin can be had (the writer serves no control socket, refuses us,
 * or the guest's file cannot be read beside it) the guest answers EBUSY as
 * before, and guest.c logs why once.  In a pinned guest `.snapshots` is
 * empty (the view has no snapshots of its own).
 *
 * THREAD MODEL: `pins.lock` protects the list and every field of every
 * pin; a pin being taken (`ready` false) makes other requests for its
 * guest wait on `pins.cond`.  Control requests and the opening and closing
 * of views run outside the lock.  The reaper thread wakes every
 * PIN_REAP_MS and stops at pins_stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "hangarfs.h"

#define PIN_IDLE_MS 1000 /* a pin without open files serves this long */
#define PIN_REAP_MS 250	 /* how often the reaper looks */

struct pin {
	char guest[HFS_GUEST_NAME_MAX];
	char name[HFS_SNAPSHOT_NAME_MAX];
	struct container *guest_c; /* store_snapshot_open_beside's */
	struct container *view;
	unsigned refs;	  /* requests and open files using the view */
	unsigned handles; /* of which open files */
	bool ready;	  /* taken and opened (else being taken) */
	bool retired;	  /* a newer pin serves new requests */
	uint64_t idle_since_ms;
	struct pin *next;
};

struct pins {
	struct hfs *fs;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a pin became ready or failed */
	pthread_cond_t stop_cond;
	struct pin *list;
	bool stopping;
	pthread_t reaper;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Close `p`'s view and ask the writer to delete it; frees `p`.  Without
 * the lock. */
static void pin_drop(struct hfs *fs, struct pin *p)
{
	int err;

	store_snapshot_close_beside(p->guest_c, p->view);
	err = control_request_name(fs->store_path, CONTROL_OP_UNPIN, p->guest,
				   p->name, 0, NULL);
	if (err && err != -ENOENT && err != -ENOTCONN)
		log_object(LOG_WARNING, p->guest, NULL,
			   "%s: pin %s could not be dropped: %s; the writer "
			   "deletes it once this daemon has exited",
			   p->guest, p->name, hfs_strerror(err));
	free(p);
}

static void pin_unlink(struct pins *ps, struct pin *p)
{
	for (struct pin **pp = &ps->list; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

/* The pin of `guest` that serves new requests (ready or being taken). */
static struct pin *pin_current(struct pins *ps, const char *guest)
{
	for (struct pin *p = ps->list; p; p = p->next)
		if (!p->retired && strcmp(p->guest, guest) == 0)
			return p;
	return NULL;
}

/* Take a pin of `guest` through the writer and open its view into `p`. */
static int pin_take(struct hfs *fs, struct pin *p, char *why, size_t why_len)
{
	struct control_reply *reply = malloc(sizeof(*reply));
	int err;

	if (!reply)
		return -ENOMEM;
	err = control_request(fs->store_path, CONTROL_OP_PIN, p->guest, 0,
			      reply);
	if (err) {
		snprintf(why, why_len, "the writer did not pin it: %s",
			 reply->text[0] ? reply->text : hfs_strerror(err));
		free(reply);
		return err;
	}
	if (strlen(reply->text) >= sizeof(p->name) ||
	    !container_pin_name_parse(reply->text, NULL)) {
		snprintf(why, why_len, "the writer's answer is no pin");
		free(reply);
		return -EPROTO;
	}
	memcpy(p->name, reply->text, strlen(reply->text) + 1);
	free(reply);
	err = store_snapshot_open_beside(fs->store, p->guest, p->name,
					 &p->guest_c, &p->view);
	if (err) {
		snprintf(why, why_len, "its pin %s could not be read: %s",
			 p->name, hfs_strerror(err));
		(void)control_request_name(fs->store_path, CONTROL_OP_UNPIN,
					   p->guest, p->name, 0, NULL);
	}
	return err;
}

int pin_acquire(struct hfs *fs, const char *guest, bool fresh,
		struct container **out_view, char *why, size_t why_len)
{
	struct pins *ps = fs->pins;
	struct pin *p, *old = NULL;
	int err;

	why[0] = '\0';
	if (!ps)
		return -EBUSY;
	pthread_mutex_lock(&ps->lock);
	for (;;) {
		p = pin_current(ps, guest);
		if (!p || p->ready)
			break;
		pthread_cond_wait(&ps->cond, &ps->lock); /* being taken */
	}
	if (p && fresh && p->handles == 0) {
		/* an open of an idle guest: the writer's state as of now */
		p->retired = true;
		if (p->refs == 0) {
			pin_unlink(ps, p);
			old = p;
		}
		p = NULL;
	}
	if (p) {
		p->refs++;
		*out_view = p->view;
		pthread_mutex_unlock(&ps->lock);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pthread_mutex_unlock(&ps->lock);
		if (old)
			pin_drop(fs, old);
		return -ENOMEM;
	}
	snprintf(p->guest, sizeof(p->guest), "%s", guest);
	p->next = ps->list;
	ps->list = p;
	pthread_mutex_unlock(&ps->lock);
	if (old)
		pin_drop(fs, old);

	err = pin_take(fs, p, why, why_len);
	pthread_mutex_lock(&ps->lock);
	if (err) {
		pin_unlink(ps, p);
		free(p);
	} else {
		p->ready = true;
		p->refs = 1;
		*out_view = p->view;
	}
	pthread_cond_broadcast(&ps->cond);
	pthread_mutex_unlock(&ps->lock);
	return err;
}

/* The pin whose view is `c`, under the lock; NULL if none. */
static struct pin *pin_of_view(struct pins *ps, const struct container *c)
{
	for (struct pin *p = ps->list; p; p = p->next)
		if (p->ready && p->view == c)
			return p;
	return NULL;
}

bool pin_release(struct hfs *fs, struct container *c)
{
	struct pins *ps = fs->pins;
	struct pin *p, *drop = NULL;

	if (!ps)
		return false;
	pthread_mutex_lock(&ps->lock);
	p = pin_of_view(ps, c);
	if (p && --p->refs == 0) {
		p->idle_since_ms = now_ms();
		if (p->retired) {
			pin_unlink(ps, p);
			drop = p;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	if (drop)
		pin_drop(fs, drop);
	return p != NULL;
}

void pin_handle(struct hfs *fs, struct container *c, bool opened)
{
	struct pins *ps = fs->pins;
	struct pin *p;

	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	p = pin_of_view(ps, c);
	if (p && opened)
		p->handles++;
	else if (p && p->handles > 0)
		p->handles--;
	pthread_mutex_unlock(&ps->lock);
}

/* Drop the pins idle for PIN_IDLE_MS (all of them when stopping). */
static void pins_reap(struct pins *ps)
{
	struct pin *drop = NULL;
	const uint64_t now = now_ms();

	pthread_mutex_lock(&ps->lock);
	for (struct pin **pp = &ps->list; *pp;) {
		struct pin *p = *pp;

		if (p->ready && p->refs == 0 &&
		    (ps->stopping || now - p->idle_since_ms >= PIN_IDLE_MS)) {
			*pp = p->next;
			p->next = drop;
			drop = p;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	while (drop) {
		struct pin *next = drop->next;

		pin_drop(ps->fs, drop);
		drop = next;
	}
}

static void *reaper_main(void *arg)
{
	struct pins *ps = arg;

	pthread_mutex_lock(&ps->lock);
	while (!ps->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += PIN_REAP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ps->stop_cond, &ps->lock, &until);
		if (ps->stopping)
			break;
		pthread_mutex_unlock(&ps->lock);
		pins_reap(ps);
		pthread_mutex_lock(&ps->lock);
	}
	pthread_mutex_unlock(&ps->lock);
	return NULL;
}

int pins_start(struct hfs *fs)
{
	struct pins *ps = calloc(1, sizeof(*ps));
	pthread_condattr_t cattr;
	int err;

	if (!ps)
		return -ENOMEM;
	ps->fs = fs;
	pthread_mutex_init(&ps->lock, NULL);
	pthread_cond_init(&ps->cond, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&ps->stop_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	err = -pthread_create(&ps->reaper, NULL, reaper_main, ps);
	if (err) {
		pthread_mutex_destroy(&ps->lock);
		pthread_cond_destroy(&ps->cond);
		pthread_cond_destroy(&ps->stop_cond);
		free(ps);
		return err;
	}
	fs->pins = ps;
	return 0;
}

void pins_stop(struct hfs *fs)
{
	struct pins *ps = fs->pins;

	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	ps->stopping = true;
	pthread_cond_broadcast(&ps->stop_cond);
	pthread_mutex_unlock(&ps->lock);
	pthread_join(ps->reaper, NULL);
	/* the session is over: nothing uses a view any more */
	pthread_mutex_lock(&ps->lock);
	for (struct pin *p = ps->list; p; p = p->next)
		p->refs = 0;
	pthread_mutex_unlock(&ps->lock);
	pins_reap(ps);
	fs->pins = NULL;
	pthread_mutex_destroy(&ps->lock);
	pthread_cond_destroy(&ps->cond);
	pthread_cond_destroy(&ps->stop_cond);
	free(ps);
}
