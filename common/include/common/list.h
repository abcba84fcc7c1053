/* common/list.h — the intrusive doubly linked list the runtime and gortd use.
 *
 * The element embeds a struct ilist_node and the list links those nodes;
 * ilist_entry (container_of) gets the element back. Nothing is allocated,
 * so a waiter can sit on the list from its own stack, and removing an
 * element whose node is at hand is O(1) without walking the list.
 *
 * The list is NULL-terminated at both ends, not circular around a sentinel:
 * a zeroed struct ilist is a valid empty list. That matters for the runtime's
 * gort_mutex and gort_waitgroup, whose zero value must work (GORT_MUTEX_INIT
 * is all zeros), and lets a calloc'ed owner start with empty lists.
 *
 * No locking: each list says in its owner's struct which lock guards it. A
 * node is on at most one list at a time; ilist_remove leaves it unlinked
 * (both pointers NULL), so it can go onto another list.
 *
 * Internal to gort (header-only, library gort_common): never part of the
 * SDK, never installed.
 */
#ifndef GORT_COMMON_LIST_H
#define GORT_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct ilist_node {
    struct ilist_node *next, *prev; /* NULL at the ends */
};

struct ilist {
    struct ilist_node *first, *last; /* both NULL when empty */
};

#define ILIST_INIT                                                             \
    {                                                                          \
        NULL, NULL                                                             \
    }

/* The element that embeds node as its field member. node must not be NULL:
 * pointer arithmetic on NULL is undefined (see ilist_entry_or_null). */
#define ilist_entry(node, type, member)                                        \
    ((type *)(void *)((char *)(node)-offsetof(type, member)))

#define ilist_entry_or_null(node, type, member)                                \
    ((node) ? ilist_entry(node, type, member) : (type *)NULL)

/* for (pos = first element; pos; pos = next element). pos is a pointer to
 * the element type; the body must not unlink pos (see _safe). */
#define ilist_for_each_entry(pos, list, member)                                \
    for (pos = ilist_entry_or_null((list)->first, __typeof__(*pos), member);   \
         pos; pos = ilist_entry_or_null(pos->member.next, __typeof__(*pos),    \
                                        member))

/* The same, reading the next element before the body runs, so the body may
 * unlink (or free) pos. tmp is a second pointer of pos's type. */
#define ilist_for_each_entry_safe(pos, tmp, list, member)                      \
    for (pos = ilist_entry_or_null((list)->first, __typeof__(*pos), member),   \
        tmp = pos ? ilist_entry_or_null(pos->member.next, __typeof__(*pos),    \
                                        member)                                \
                  : NULL;                                                      \
         pos;                                                                  \
         pos = tmp, tmp = pos ? ilist_entry_or_null(pos->member.next,          \
                                                    __typeof__(*pos), member)  \
                              : NULL)

static inline bool ilist_empty(const struct ilist *l)
{
    return l->first == NULL;
}

static inline void ilist_push_back(struct ilist *l, struct ilist_node *n)
{
    n->next = NULL;
    n->prev = l->last;
    if (l->last)
        l->last->next = n;
    else
        l->first = n;
    l->last = n;
}

static inline void ilist_push_front(struct ilist *l, struct ilist_node *n)
{
    n->prev = NULL;
    n->next = l->first;
    if (l->first)
        l->first->prev = n;
    else
        l->last = n;
    l->first = n;
}

/* Unlinks n, which must be on l. */
static inline void ilist_remove(struct ilist *l, struct ilist_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->last = n->prev;
    n->next = n->prev = NULL;
}

/* Puts with where old is (old must be on l, with on no list); old leaves
 * l unlinked. */
static inline void ilist_replace(struct ilist *l, struct ilist_node *old,
                                 struct ilist_node *with)
{
    with->next = old->next;
    with->prev = old->prev;
    if (old->prev)
        old->prev->next = with;
    else
        l->first = with;
    if (old->next)
        old->next->prev = with;
    else
        l->last = with;
    old->next = old->prev = NULL;
}

/* Unlinks and returns the first node, or NULL when l is empty. */
static inline struct ilist_node *ilist_pop_front(struct ilist *l)
{
    struct ilist_node *n = l->first;
    if (n)
        ilist_remove(l, n);
    return n;
}

/* Unlinks and returns the last node, or NULL when l is empty. */
static inline struct ilist_node *ilist_pop_back(struct ilist *l)
{
    struct ilist_node *n = l->last;
    if (n)
        ilist_remove(l, n);
    return n;
}

#endif /* GORT_COMMON_LIST_H */
