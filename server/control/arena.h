/* control/arena.h — the memory a control-plane reply is built in.
 *
 * A handler hangs submessages, repeated-field arrays and strings off its
 * output message; all of it comes from one arena that the dispatcher frees
 * after packing the reply. One owner, one release path: a handler that fails
 * halfway frees nothing itself.
 */
#ifndef GORT_CTL_ARENA_H
#define GORT_CTL_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct ctl_arena_chunk;
struct ctl_arena_adopted;

struct ctl_arena {
    struct ctl_arena_chunk *chunks; /* newest first; bump-allocated */
    struct ctl_arena_adopted
        *adopted; /* malloc'd blocks freed with the arena */
    int failed;   /* an allocation failed: the reply is not sent */
};

#define CTL_ARENA_INIT                                                         \
    {                                                                          \
        NULL, NULL, 0                                                          \
    }

/* Out of memory is the call's failure, never the process's: an allocation
 * that fails returns NULL and marks the arena failed; the dispatcher then
 * answers RESOURCE_EXHAUSTED instead of the reply (dispatch.c). Callers
 * check for NULL and give up building; ctl_arena_strdup alone never
 * returns NULL, so code that copies strings under a lock (gortd's
 * catalog) can finish and release it. */

/* Zeroed, max_align_t-aligned memory, or NULL (failed). */
void *ctl_arena_alloc(struct ctl_arena *a, size_t n);

/* n zeroed elements of size sz (overflow-checked), or NULL (failed). */
void *ctl_arena_array(struct ctl_arena *a, size_t n, size_t sz);

/* A copy of s ("" for NULL); "" (static) when out of memory (failed). */
char *ctl_arena_strdup(struct ctl_arena *a, const char *s);

/* A message of descriptor d, initialised to its defaults, or NULL. */
void *ctl_arena_msg(struct ctl_arena *a, const ProtobufCMessageDescriptor *d);

/* Takes ownership of a malloc'd block: free(p) when the arena is freed
 * (at once, and the arena failed, if it cannot be recorded). */
void ctl_arena_adopt(struct ctl_arena *a, void *p);

/* Frees everything; the arena is empty and reusable afterwards. */
void ctl_arena_free(struct ctl_arena *a);

/* Logs "fatal error" with err="FUNC: message" and aborts: a broken
 * invariant, never a failed allocation. */
_Noreturn void ctl_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif /* GORT_CTL_ARENA_H */
