/*
 * hangar/io.h -- an open container file, as the store hands one out.
 *
 * store_guest_open_io (hangar/store.h) gives a tool that reads a container
 * file whole (`hangar check`: check_container_progress) a `struct io`: the
 * file opened read-only, with a shared container lock held until io_close.
 * To its users the io is opaque; what it is inside (the operations every
 * byte of core goes through, and the seam tests interpose on) is core's
 * private io.h.
 *
 * Ownership: whoever received the io closes it, once.  THREAD MODEL: an io
 * may be used from any thread; io_close must not race any other use.
 */
#ifndef HANGAR_IO_H
#define HANGAR_IO_H

struct io;

/* io_close - free an io (closing its file and dropping its lock).  Accepts
 * NULL. */
void io_close(struct io *io);

#endif /* HANGAR_IO_H */
