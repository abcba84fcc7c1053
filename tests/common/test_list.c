/* test_list.c — the intrusive list (common/list.h): order, O(1) removal
 * anywhere, replacement, the zero value as an empty list, and iteration
 * that may unlink the element it stands on. Every check also walks the
 * list backwards, so a broken prev link cannot hide behind a good next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/list.h"

struct item {
    int v;
    struct ilist_node link; /* not first: ilist_entry must subtract */
};

/* Asserts that l holds exactly want[0..n) in order, both ways. */
static void expect(const struct ilist *l, const int *want, size_t n)
{
    size_t i = 0;
    const struct item *it;
    ilist_for_each_entry(it, l, link) {
        assert_true(i < n);
        assert_int_equal(it->v, want[i]);
        i++;
    }
    assert_int_equal(i, n);
    const struct ilist_node *b = l->last;
    for (i = n; i > 0; i--, b = b->prev) {
        assert_non_null(b);
        assert_int_equal(ilist_entry(b, const struct item, link)->v,
                         want[i - 1]);
    }
    assert_null(b);
    assert_int_equal(ilist_empty(l), n == 0);
}

static void fill(struct ilist *l, struct item *it, int n)
{
    for (int i = 0; i < n; i++) {
        it[i].v = i;
        ilist_push_back(l, &it[i].link);
    }
}

static void zero_value_is_empty(void **state)
{
    (void)state;
    struct ilist l;
    memset(&l, 0, sizeof l);
    assert_true(ilist_empty(&l));
    assert_null(ilist_pop_front(&l));
    assert_null(ilist_pop_back(&l));
    struct ilist init = ILIST_INIT;
    expect(&init, NULL, 0);
}

static void push_back_and_front_order(void **state)
{
    (void)state;
    struct ilist l = ILIST_INIT;
    struct item a = {.v = 1}, b = {.v = 2}, c = {.v = 3};
    ilist_push_back(&l, &b.link);
    ilist_push_front(&l, &a.link);
    ilist_push_back(&l, &c.link);
    expect(&l, (int[]){1, 2, 3}, 3);
}

static void remove_first_middle_last_only(void **state)
{
    (void)state;
    struct ilist l = ILIST_INIT;
    struct item it[4];
    fill(&l, it, 4);
    ilist_remove(&l, &it[1].link); /* middle */
    expect(&l, (int[]){0, 2, 3}, 3);
    assert_null(it[1].link.next);
    assert_null(it[1].link.prev);
    ilist_remove(&l, &it[0].link); /* first */
    expect(&l, (int[]){2, 3}, 2);
    ilist_remove(&l, &it[3].link); /* last */
    expect(&l, (int[]){2}, 1);
    ilist_remove(&l, &it[2].link); /* only */
    expect(&l, NULL, 0);
    assert_null(l.first);
    assert_null(l.last);
    /* A removed node can go onto another list. */
    struct ilist other = ILIST_INIT;
    ilist_push_back(&other, &it[1].link);
    expect(&other, (int[]){1}, 1);
}

static void pop_front_and_back(void **state)
{
    (void)state;
    struct ilist l = ILIST_INIT;
    struct item it[3];
    fill(&l, it, 3);
    struct ilist_node *n = ilist_pop_front(&l);
    assert_ptr_equal(n, &it[0].link);
    assert_null(n->next);
    n = ilist_pop_back(&l);
    assert_ptr_equal(n, &it[2].link);
    assert_null(n->prev);
    expect(&l, (int[]){1}, 1);
    assert_ptr_equal(ilist_pop_back(&l), &it[1].link);
    expect(&l, NULL, 0);
}

static void replace_keeps_the_place(void **state)
{
    (void)state;
    struct ilist l = ILIST_INIT;
    struct item it[3], x = {.v = 10}, y = {.v = 11}, z = {.v = 12};
    fill(&l, it, 3);
    ilist_replace(&l, &it[1].link, &x.link); /* middle */
    expect(&l, (int[]){0, 10, 2}, 3);
    assert_null(it[1].link.next);
    assert_null(it[1].link.prev);
    ilist_replace(&l, &it[0].link, &y.link); /* first */
    ilist_replace(&l, &it[2].link, &z.link); /* last */
    expect(&l, (int[]){11, 10, 12}, 3);

    struct ilist one = ILIST_INIT;
    struct item a = {.v = 1}, b = {.v = 2};
    ilist_push_back(&one, &a.link);
    ilist_replace(&one, &a.link, &b.link); /* only */
    expect(&one, (int[]){2}, 1);
}

static void safe_iteration_may_unlink(void **state)
{
    (void)state;
    struct ilist l = ILIST_INIT;
    struct item *it = calloc(6, sizeof *it);
    assert_non_null(it);
    fill(&l, it, 6);
    /* Drop the even ones and poison them, as a free would. */
    struct item *p, *tmp;
    ilist_for_each_entry_safe(p, tmp, &l, link) {
        if (p->v % 2 == 0) {
            ilist_remove(&l, &p->link);
            memset(p, 0xa5, sizeof *p);
        }
    }
    expect(&l, (int[]){1, 3, 5}, 3);
    /* And the rest, which empties the list. */
    ilist_for_each_entry_safe(p, tmp, &l, link) {
        ilist_remove(&l, &p->link);
    }
    expect(&l, NULL, 0);
    free(it);
}

static void head_copy_moves_the_list(void **state)
{
    /* sync.c's WaitGroup takes its whole waiter list by copying the head:
     * the nodes never point back at the head, so the copy is the list. */
    (void)state;
    struct ilist l = ILIST_INIT;
    struct item it[3];
    fill(&l, it, 3);
    struct ilist taken = l;
    l = (struct ilist)ILIST_INIT;
    expect(&l, NULL, 0);
    expect(&taken, (int[]){0, 1, 2}, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_value_is_empty),
        cmocka_unit_test(push_back_and_front_order),
        cmocka_unit_test(remove_first_middle_last_only),
        cmocka_unit_test(pop_front_and_back),
        cmocka_unit_test(replace_keeps_the_place),
        cmocka_unit_test(safe_iteration_may_unlink),
        cmocka_unit_test(head_copy_moves_the_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
