/*
 * guestinfo.c -- gather what `hangar ls` and `hangar status` show.
 *
 * One pass over a guest: its container's counters, its save state and every
 * object's attributes.  A guest whose container cannot be opened (corrupt,
 * hostile, unreadable) still gets a summary with open_error set, so a list
 * of guests never stops at a broken one (docs/design.md, invariant 6).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "hangar/io.h"
#include "hangar/names.h"

int cli_guest_list(const struct cli_store *cs, char ***out_names,
		   size_t *out_num, int *width)
{
	int rc = store_guest_list(cs->store, out_names, out_num);

	if (rc) {
		cli_error("%s: cannot list guests: %s", cs->dir,
			  cli_strerror(rc));
		return rc;
	}
	for (size_t i = 0; width && i < *out_num; i++)
		if ((int)strlen((*out_names)[i]) > *width)
			*width = (int)strlen((*out_names)[i]);
	return 0;
}

static bool timespec_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static void guest_file_stat(struct store *s, struct guest_summary *g)
{
	struct stat st;

	if (store_guest_stat(s, g->name, &st) != 0)
		return;
	g->file_size = (uint64_t)st.st_size;
	g->file_allocated = (uint64_t)st.st_blocks * 512u;
	g->file_mtime = st.st_mtim;
}

static int guest_load_objects(struct container *c, struct guest_summary *g)
{
	struct object_name *names = NULL;
	size_t num = 0;
	int rc;

	rc = object_list(c, &names, &num);
	if (rc)
		return rc;
	if (num) {
		g->objects = calloc(num, sizeof(*g->objects));
		if (!g->objects) {
			free(names);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < num; i++) {
		struct guest_object *o = &g->objects[g->num_objects];

		if (object_getattr(c, names[i].id, &o->attr) != 0)
			continue; /* unlinked since the listing */
		snprintf(o->name, sizeof(o->name), "%s", names[i].name);
		if (timespec_after(o->attr.mtime, g->last_change))
			g->last_change = o->attr.mtime;
		if (timespec_after(o->attr.ctime, g->last_change))
			g->last_change = o->attr.ctime;
		g->num_objects++;
	}
	free(names);
	return 0;
}

void guest_busy_text(struct store *s, const char *name, char *buf, size_t len)
{
	char comm[32] = "", path[64];
	bool exclusive = false;
	pid_t pid = 0;
	FILE *f;

	if (store_guest_holder(s, name, &pid, &exclusive) != 0) {
		struct store_holder_record rec;
		if (store_guest_holder_record(s, name, &rec) == 0)
			snprintf(buf, len,
				 "open read-write on host %s by PID %ld",
				 rec.host, rec.pid);
		else
			snprintf(buf, len,
				 "open read-write by another process");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = pid > 0 ? fopen(path, "re") : NULL;
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	if (pid > 0)
		snprintf(buf, len, "open %s by %s PID %ld",
			 exclusive ? "read-write" : "read-only",
			 comm[0] ? comm : "process", (long)pid);
	else
		snprintf(buf, len, "open %s by another process",
			 exclusive ? "read-write" : "read-only");
}

void guest_holder_load(struct store *s, const char *name,
		       struct guest_summary *out)
{
	struct store_holder_record rec;
	bool exclusive = false;
	struct io *io = NULL;
	pid_t pid = 0;

	memset(&out->holder, 0, sizeof(out->holder));
	if (store_guest_holder(s, name, &pid, &exclusive) == 0) {
		if (!exclusive || pid <= 0)
			return;
		/* on this host: the lock table is the truth, the record
		 * adds the time when it is the same holder's */
		if (store_guest_holder_record(s, name, &rec) != 0 ||
		    rec.pid != (long)pid) {
			memset(&rec, 0, sizeof(rec));
			if (gethostname(rec.host, sizeof(rec.host) - 1) != 0)
				snprintf(rec.host, sizeof(rec.host), "?");
			rec.pid = (long)pid;
		}
		out->holder = rec;
		return;
	}
	/* Nobody in our lock table: held on another host if a shared lock
	 * is refused. */
	int rc = store_guest_open_io(s, name, &io);
	if (rc == 0) {
		io_close(io);
		return;
	}
	if (rc == -EBUSY && store_guest_holder_record(s, name, &rec) == 0)
		out->holder = rec;
}

const char *guest_open_error_text(const struct guest_summary *g)
{
	return g->open_reason[0] ? g->open_reason : cli_strerror(g->open_error);
}

/*
 * store_guest_get, for a store opened with read_beside_writer: a guest a
 * writer has open may fail to load because the writer recycled a block of
 * the committed tree we started from (store.h: checksums catch it, nothing
 * wrong is used).  Load again from the newer superblock, a few times; a
 * guest that keeps failing while a writer holds it is reported busy, not
 * corrupt.  Without a writer, the error is real.
 */
int guest_get_stable(struct store *s, const char *name, struct container **out)
{
	for (unsigned attempt = 0;; attempt++) {
		bool exclusive = false;
		pid_t pid = 0;
		int rc = store_guest_get(s, name, out);

		if (rc != -EBADMSG && rc != -EUCLEAN)
			return rc;
		if (store_guest_holder(s, name, &pid, &exclusive) != 0 ||
		    !exclusive)
			return rc;
		if (attempt == 5)
			return -EBUSY;
		usleep(10000u << attempt);
	}
}

int guest_summary_load(struct store *s, const char *name,
		       struct guest_summary *out)
{
	struct container *c = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	guest_file_stat(s, out);
	rc = guest_get_stable(s, name, &c);
	if (rc) {
		out->open_error = rc;
		if (rc == -EBUSY)
			guest_busy_text(s, name, out->open_reason,
					sizeof(out->open_reason));
		return 0;
	}
	container_info(c, &out->info);
	out->save_error = save_lock_status(c, &out->save);
	rc = container_snapshot_list(c, &out->snapshots, &out->num_snapshots);
	if (rc) {
		store_guest_put(s, c);
		guest_summary_cleanup(out);
		return rc; /* -ENOMEM: the list is in memory */
	}
	rc = guest_load_objects(c, out);
	if (rc == -ENOMEM) {
		store_guest_put(s, c);
		guest_summary_cleanup(out);
		return rc;
	}
	if (rc)
		out->open_error = rc;
	/* The last commit is the last change; object times are the fallback
	 * for a container that does not record it. */
	if (out->info.commit_time.tv_sec != 0)
		out->last_change = out->info.commit_time;
	if (out->last_change.tv_sec == 0)
		out->last_change = out->file_mtime;
	store_guest_put(s, c);
	return 0;
}

void guest_summary_cleanup(struct guest_summary *g)
{
	free(g->objects);
	g->objects = NULL;
	g->num_objects = 0;
	free(g->snapshots);
	g->snapshots = NULL;
	g->num_snapshots = 0;
}

const struct guest_object *guest_summary_find(const struct guest_summary *g,
					      const char *name)
{
	for (size_t i = 0; i < g->num_objects; i++)
		if (strcmp(g->objects[i].name, name) == 0)
			return &g->objects[i];
	return NULL;
}

const char *guest_state_text(const struct guest_summary *g)
{
	if (g->open_error == -EBUSY)
		return "busy";
	if (g->open_error)
		return "unreadable";
	if (g->save_error)
		return "unknown";
	if (guest_summary_find(g, GUEST_INCOMPLETE_MARKER))
		return "incomplete";
	if (g->save.state == SAVE_STATE_NONE && g->save.image_unsealed)
		return "saving";
	return save_state_name(g->save.state);
}

void guest_disk_name(char *buf, size_t len, unsigned index)
{
	if (index == 0)
		snprintf(buf, len, "disk.raw");
	else
		snprintf(buf, len, "disk%u.raw", index);
}
