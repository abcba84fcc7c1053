/* http/routing_tree.h — the mux's routing tree; private to server/http.
 * The design is at the top of routing_tree.c. */
#ifndef GORT_SERVER_HTTP_ROUTING_TREE_H
#define GORT_SERVER_HTTP_ROUTING_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "http/mux.h"
#include "http/pattern.h"

struct node;

/* A literal edge. key points into the child, which owns it. */
struct edge {
    const char *key;
    size_t len;
    struct node *child;
};

/* A tree node. Owned by its parent; the root by the mux. */
struct node {
    const struct route *route; /* the pattern that ends here, or NULL */
    struct edge *edges;        /* sorted by key_cmp */
    size_t nedges, cap;
    struct node *wild;  /* {name} */
    struct node *multi; /* {name...} or a trailing '/': a leaf */
    struct node *end;   /* {$}: a leaf */
    char key[];         /* the key of the edge to this node */
};

/* One walk of a path down the tree. */
struct walk {
    const char *path; /* starts with '/' */
    size_t len;
    char *scratch; /* values go here, at their segments' offsets; NULL in a
                      trial walk, which records nothing */
    struct mux_value *vals;
    size_t nvals; /* values of the route found */
};

/* A new node under key (len bytes, copied); NULL when out of memory. */
struct node *mux__node_new(const char *key, size_t len);

/* Frees n and its subtree (NULL is fine); not the routes. */
void mux__node_free(struct node *n);

/* Adds r's path to the tree. On failure the tree may keep new empty nodes,
 * which match nothing. 0 or -ENOMEM. */
int mux__tree_insert(struct node *root, const struct route *r);

/* The most specific route for w's path (q's host, without its port, then
 * any host; q's method, GET for HEAD, then any method), or NULL. Fills
 * w's values unless w->scratch is NULL (a trial walk). */
const struct route *mux__tree_lookup(const struct node *root,
                                     const struct mux_request *q,
                                     struct walk *w);

/* ---- method sets (Allow) ------------------------------------------------- */

/* Enough for any Allow value that fits MUX_ALLOW_MAX (3 bytes at least
 * per method with its ", "). */
#define MSET_MAX (MUX_ALLOW_MAX / 3 + 2)

struct mset {
    const char *s[MSET_MAX];
    size_t len[MSET_MAX];
    size_t n;
    bool overflow;
};

/* Adds s, keeping the set sorted; sets overflow when full. */
void mux__mset_add(struct mset *m, const char *s, size_t len);

/* Adds HEAD when GET is there. */
void mux__mset_add_head(struct mset *m);

/* The length of "A, B, C". */
size_t mux__mset_joined_len(const struct mset *m);

/* Every method registered in the tree, under any host. */
void mux__mset_all(struct mset *m, const struct node *root);

/* Go's matchingMethods: adds to set the methods whose patterns match q's
 * path or the path plus '/' (slash, slash_len bytes; 0 when none), under
 * q's host and any host. */
void mux__tree_allow(const struct node *root, const struct mux_request *q,
                     const char *slash, size_t slash_len, struct mset *set);

#endif
