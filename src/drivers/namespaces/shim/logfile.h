#ifndef CORRAL_LOGFILE_H
#define CORRAL_LOGFILE_H

#include <stddef.h>
#include <stdint.h>

/* container.log in the CRI format ("<RFC 3339 time> <stream> <F|P> <text>"), rotated to
 * container.log.1 .. .N-1 when the next record would pass max_bytes. */
struct logfile {
    int dirfd;
    int fd;
    uint64_t size, max_bytes;
    uint32_t max_files;
    size_t used; /* bytes of records buffered, not yet written (always 0 between calls) */
};

int logfile_open(struct logfile *l, const char *dir, uint64_t max_bytes, uint32_t max_files);
/* Writes one chunk read from a stream, split into records at newlines, all stamped with the time
 * of the call; they are in the file when it returns. */
int logfile_write(struct logfile *l, const char *stream, const char *data, size_t len);

#endif
