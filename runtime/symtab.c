/* symtab.c — names and file:line for any pc in the process, for goroutine
 * dumps and for crash reports written from a signal handler.
 *
 * dladdr only sees dynamic symbols (gortd exports nothing but the SDK, and
 * static functions have none), and gives no line. Go names frames from a
 * table its linker writes into the binary (pclntab); the ELF equivalent is
 * the symbol table plus DWARF's line table, which every gort build keeps
 * (RelWithDebInfo). elfutils' libdwfl reads both; we do not parse DWARF.
 *
 * One index per loaded object (module): its function symbols (static ones
 * too, from .symtab, or .dynsym when stripped) and its line rows, sorted by
 * address, with their strings copied into one block the module owns. The
 * index is built outside any signal handler, with libdwfl, then published
 * in a fixed array of atomic slots. Lookups (gort__sym_lookup) only read
 * published, immutable arrays: no malloc, no lock, so a crash handler can
 * name frames with what was prepared before the crash. That is the design
 * choice for crash reports: a symbolizer run inside the handler (libdw
 * allocates) could deadlock on a heap lock the crashing thread holds, and
 * a pre-forked symbolizer process costs a process per gortd for a rare
 * event. The price is memory (16 bytes per line row: about 0.7 MiB for
 * gortd and libgort) and indexing every object when the crash reporter
 * starts (about 90 ms for gortd's 60 objects on a busy 2-core machine,
 * mostly gortd's and libgort's line tables and libstdc++'s and gRPC's
 * symbols), and again for each object dlopen'ed later
 * (gort_symbols_refresh: gortd's plugin loader calls it). An object loaded
 * and not refreshed is named by a dump (which refreshes first) but only by
 * address in a crash report.
 *
 * An unloaded object must not keep its entry: its address range may be
 * reused by the next plugin. gort_dlclose (stats.c) unpublishes the entries
 * whose objects are gone after dlclose, and frees them while holding the
 * dump lock for writing, so no dump is reading them; a crash report running
 * at that very moment can read freed memory (a crash during an unload: it
 * was dying anyway), so nothing is freed once a crash began.
 *
 * Built with GORT_NO_LIBDW (the cross-architecture smoke test, which links
 * statically and has no libdw for its target), objects are indexed without
 * names: every frame is object+offset.
 */
#include <dlfcn.h>
#include <elf.h>
#ifndef GORT_NO_LIBDW
#include <elfutils/libdwfl.h>
#endif
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symtab.h"

#define MAX_MODULES 256

struct sym_func {
    uintptr_t lo, hi; /* absolute addresses */
    uint32_t name;    /* offset in strs */
};

struct sym_line {
    uintptr_t addr;
    uint32_t file; /* offset in strs; UINT32_MAX for an end of sequence */
    int32_t line;
};

struct sym_module {
    uintptr_t lo, hi; /* the object's loaded segments */
    uintptr_t base;   /* load bias: module+offset is pc - base */
    struct sym_func *funcs;
    size_t nfuncs;
    struct sym_line *lines;
    size_t nlines;
    char *strs; /* names and file paths; strs[0] is the object's path */
    size_t nstrs, capstrs;
    bool seen; /* refresh: still loaded */
};

static _Atomic(struct sym_module *) modules[MAX_MODULES];
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool crashing;

/* ---- building (never in a signal handler) ------------------------------- */

static uint32_t str_add(struct sym_module *m, const char *s)
{
    size_t n = strlen(s) + 1;
    if (m->nstrs + n > m->capstrs) {
        size_t cap = m->capstrs ? m->capstrs : 4096;
        while (cap < m->nstrs + n)
            cap *= 2;
        char *p = realloc(m->strs, cap);
        if (!p)
            return UINT32_MAX;
        m->strs = p;
        m->capstrs = cap;
    }
    memcpy(m->strs + m->nstrs, s, n);
    m->nstrs += n;
    return (uint32_t)(m->nstrs - n);
}

static int func_cmp(const void *a, const void *b)
{
    const struct sym_func *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Rows by address; at one address an end of sequence sorts first, so the
 * last row at or below a pc is the row that starts there. */
static int line_cmp(const void *a, const void *b)
{
    const struct sym_line *x = a, *y = b;
    if (x->addr != y->addr)
        return (x->addr > y->addr) - (x->addr < y->addr);
    return (y->file == UINT32_MAX) - (x->file == UINT32_MAX);
}

#ifndef GORT_NO_LIBDW
static void index_funcs(struct sym_module *m, Dwfl_Module *mod)
{
    int n = dwfl_module_getsymtab(mod);
    if (n <= 0)
        return;
    m->funcs = malloc((size_t)n * sizeof *m->funcs);
    if (!m->funcs)
        return;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name =
            dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info);
        if (!name || !*name || sym.st_size == 0 || shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        uint32_t off = str_add(m, name);
        if (off == UINT32_MAX)
            break;
        m->funcs[m->nfuncs++] = (struct sym_func){
            (uintptr_t)addr, (uintptr_t)(addr + sym.st_size), off};
    }
    if (m->nfuncs)
        qsort(m->funcs, m->nfuncs, sizeof *m->funcs, func_cmp);
}

/* The offset of path in strs, copied once per compilation unit's file
 * (rows repeat the same few pointers, mostly the previous row's). */
struct file_memo {
    const char *src[64];
    uint32_t off[64];
    int n, last;
};

static uint32_t file_off(struct sym_module *m, struct file_memo *fm,
                         const char *src)
{
    if (fm->n && fm->src[fm->last] == src)
        return fm->off[fm->last];
    for (int i = 0; i < fm->n; i++)
        if (fm->src[i] == src) {
            fm->last = i;
            return fm->off[i];
        }
    uint32_t off = str_add(m, src);
    int slot = fm->n < 64 ? fm->n++ : 63;
    fm->src[slot] = src;
    fm->off[slot] = off;
    fm->last = slot;
    return off;
}

static bool line_push(struct sym_module *m, size_t *cap, struct sym_line l)
{
    if (m->nlines == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        struct sym_line *p = realloc(m->lines, c * sizeof *p);
        if (!p)
            return false;
        m->lines = p;
        *cap = c;
    }
    m->lines[m->nlines++] = l;
    return true;
}

static void index_lines(struct sym_module *m, Dwfl_Module *mod)
{
    size_t cap = 0;
    Dwarf_Addr bias;
    for (Dwarf_Die *cu = dwfl_module_nextcu(mod, NULL, &bias); cu;
         cu = dwfl_module_nextcu(mod, cu, &bias)) {
        Dwarf_Lines *lines;
        size_t n;
        struct file_memo fm = {.n = 0, .last = 0};
        if (dwarf_getsrclines(cu, &lines, &n) != 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            Dwarf_Line *l = dwarf_onesrcline(lines, i);
            Dwarf_Addr a;
            int lineno = 0;
            bool end = false;
            if (!l || dwarf_lineaddr(l, &a) != 0 || a == 0)
                continue;
            dwarf_lineno(l, &lineno);
            dwarf_lineendsequence(l, &end);
            const char *src = end ? NULL : dwarf_linesrc(l, NULL, NULL);
            uint32_t f = src ? file_off(m, &fm, src) : UINT32_MAX;
            if (!end && f == UINT32_MAX)
                continue;
            if (!line_push(m, &cap, (struct sym_line){a + bias, f, lineno}))
                return;
        }
    }
    if (m->nlines)
        qsort(m->lines, m->nlines, sizeof *m->lines, line_cmp);
}

/* No separate debug files: the objects gort builds carry their DWARF, and
 * looking elsewhere (debuginfod) could reach the network from a dump. */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                        Dwarf_Addr base, const char *file_name,
                        const char *debuglink_file, GElf_Word debuglink_crc,
                        char **debuginfo_file_name)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    (void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_debuginfo = no_debuginfo,
    .section_address = dwfl_offline_section_address,
};

#endif /* GORT_NO_LIBDW */

static void module_free(struct sym_module *m)
{
    if (!m)
        return;
    free(m->funcs);
    free(m->lines);
    free(m->strs);
    free(m);
}

static struct sym_module *module_build(const char *path, uintptr_t base,
                                       uintptr_t lo, uintptr_t hi)
{
    struct sym_module *m = calloc(1, sizeof *m);
    if (!m || str_add(m, path) != 0) {
        module_free(m);
        return NULL;
    }
    m->lo = lo;
    m->hi = hi;
    m->base = base;
#ifndef GORT_NO_LIBDW
    Dwfl *d = dwfl_begin(&callbacks);
    Dwfl_Module *mod =
        d ? dwfl_report_elf(d, path, path, -1, base, false) : NULL;
    if (d)
        dwfl_report_end(d, NULL, NULL);
    if (mod) {
        index_funcs(m, mod);
        index_lines(m, mod);
    }
    if (d)
        dwfl_end(d);
#endif
    return m;
}

static bool is_indexed(uintptr_t lo, const char *path)
{
    for (int i = 0; i < MAX_MODULES; i++) {
        struct sym_module *m = atomic_load(&modules[i]);
        if (m && m->lo == lo && strcmp(m->strs, path) == 0) {
            m->seen = true;
            return true;
        }
    }
    return false;
}

static void publish(struct sym_module *m)
{
    for (int i = 0; i < MAX_MODULES; i++) {
        struct sym_module *expect = NULL;
        if (atomic_compare_exchange_strong(&modules[i], &expect, m))
            return;
    }
    module_free(m); /* full: that object stays unnamed */
}

static int index_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    char exe[4096];
    const char *path = info->dlpi_name;
    if (!path || !*path) { /* the main program */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return 0;
        exe[n] = '\0';
        path = exe;
    }
    if (path[0] != '/' && strncmp(path, "./", 2) != 0)
        return 0; /* the vDSO and friends: no file to read */
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (lo >= hi || is_indexed(lo, path))
        return 0;
    struct sym_module *m = module_build(path, info->dlpi_addr, lo, hi);
    if (m) {
        m->seen = true;
        publish(m);
    }
    return 0;
}

void gort__sym_refresh(void)
{
    pthread_mutex_lock(&index_lock);
    dl_iterate_phdr(index_one, NULL);
    pthread_mutex_unlock(&index_lock);
}

void gort__sym_prune(void)
{
    pthread_mutex_lock(&index_lock);
    for (int i = 0; i < MAX_MODULES; i++) {
        struct sym_module *m = atomic_load(&modules[i]);
        if (m)
            m->seen = false;
    }
    dl_iterate_phdr(index_one, NULL);
    for (int i = 0; i < MAX_MODULES; i++) {
        struct sym_module *m = atomic_load(&modules[i]);
        if (!m || m->seen)
            continue;
        atomic_store(&modules[i], NULL);
        if (!atomic_load(&crashing))
            module_free(m);
    }
    pthread_mutex_unlock(&index_lock);
}

void gort__sym_crashing(void)
{
    atomic_store(&crashing, true);
}

/* ---- lookups (async-signal-safe) ---------------------------------------- */

static const struct sym_module *module_of(uintptr_t pc)
{
    for (int i = 0; i < MAX_MODULES; i++) {
        const struct sym_module *m =
            atomic_load_explicit(&modules[i], memory_order_acquire);
        if (m && pc >= m->lo && pc < m->hi)
            return m;
    }
    return NULL;
}

const void *gort__sym_module(uintptr_t pc)
{
    return module_of(pc);
}

static const struct sym_func *func_of(const struct sym_module *m, uintptr_t pc)
{
    size_t lo = 0, hi = m->nfuncs; /* the last function starting at or below */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->funcs[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Aliases share an address; any of them that covers pc will do. */
    for (size_t i = lo; i > 0 && m->funcs[i - 1].lo <= pc; i--) {
        if (pc < m->funcs[i - 1].hi)
            return &m->funcs[i - 1];
        if (lo - i > 8)
            break;
    }
    return NULL;
}

static const struct sym_line *line_of(const struct sym_module *m, uintptr_t pc)
{
    size_t lo = 0, hi = m->nlines;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->lines[mid].addr <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || m->lines[lo - 1].file == UINT32_MAX)
        return NULL;
    return &m->lines[lo - 1];
}

bool gort__sym_lookup(uintptr_t pc, bool ret, struct gort__sym *out)
{
    memset(out, 0, sizeof *out);
    const struct sym_module *m = module_of(pc);
    if (!m)
        return false;
    out->object = m->strs;
    out->objoff = pc - m->base;
    /* A return address is one past the call; the call's line is what
     * the reader wants (addr2line's convention, and Go's). */
    uintptr_t at = ret && pc > m->lo ? pc - 1 : pc;
    const struct sym_func *f = func_of(m, at);
    if (f) {
        out->func = m->strs + f->name;
        out->funcoff = pc - f->lo;
    }
    const struct sym_line *l = line_of(m, at);
    if (l && (!f || l->addr >= f->lo)) {
        out->file = m->strs + l->file;
        out->line = l->line;
    }
    return true;
}
