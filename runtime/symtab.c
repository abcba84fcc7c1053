/* symtab.c — names the executable's own functions in goroutine dumps.
 *
 * Dumps name frames with dladdr, which only sees a program's dynamic
 * symbols. gortd exports nothing but the SDK (an export list keeps its
 * internals from binding to plugins' symbols), so its own functions
 * (http_conn_serve, where every connection goroutine starts) have no
 * dynamic symbol. Go's runtime names frames from a table in its own binary
 * (pclntab); the ELF equivalent is .symtab, which the linker keeps unless
 * the binary is stripped. This file reads it once from /proc/self/exe:
 * the file is mapped read-only and never unmapped, so the names handed out
 * point into it and live as long as the process; the function symbols are
 * copied into an array sorted by address and searched by bisection.
 *
 * Only the executable is read: a shared object can be unloaded (plugins
 * are), which would leave a cached table and its names dangling. A stripped
 * or unreadable executable gives no names, and dumps show object+offset as
 * before. Loading happens on the first dump, under pthread_once.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symtab.h"

struct exe_sym {
    uintptr_t addr; /* in the file: add the load bias */
    uintptr_t size;
    const char *name; /* in the mapped file */
};

static struct {
    pthread_once_t once;
    uintptr_t bias;
    struct exe_sym *syms;
    size_t n;
} exe = {.once = PTHREAD_ONCE_INIT};

/* The first object dl_iterate_phdr visits is the main program. */
static int first_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(uintptr_t *)arg = info->dlpi_addr;
    return 1;
}

static int by_addr(const void *a, const void *b)
{
    const struct exe_sym *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

/* The section header i of the mapped file, or NULL when out of bounds. */
static const ElfW(Shdr) * section(const char *base, size_t len, size_t i)
{
    const ElfW(Ehdr) *eh = (const void *)base;
    if (i >= eh->e_shnum || eh->e_shentsize != sizeof(ElfW(Shdr)) ||
        eh->e_shoff > len || (len - eh->e_shoff) / sizeof(ElfW(Shdr)) <= i)
        return NULL;
    return (const ElfW(Shdr) *)(base + eh->e_shoff) + i;
}

static int in_file(const ElfW(Shdr) * sh, size_t len)
{
    return sh->sh_offset <= len && sh->sh_size <= len - sh->sh_offset;
}

/* Copies the sized function symbols of the file's .symtab into exe.syms. */
static void read_symtab(const char *base, size_t len)
{
    const ElfW(Ehdr) *eh = (const void *)base;
    if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] !=
            (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32))
        return;
    for (size_t i = 0; i < eh->e_shnum; i++) {
        const ElfW(Shdr) *sh = section(base, len, i);
        if (!sh || sh->sh_type != SHT_SYMTAB || !in_file(sh, len) ||
            sh->sh_entsize != sizeof(ElfW(Sym)))
            continue;
        const ElfW(Shdr) *st = section(base, len, sh->sh_link);
        if (!st || !in_file(st, len) || st->sh_size == 0 ||
            base[st->sh_offset + st->sh_size - 1] != '\0')
            return;
        const ElfW(Sym) *sym = (const void *)(base + sh->sh_offset);
        size_t nsym = sh->sh_size / sizeof *sym;
        exe.syms = malloc(nsym * sizeof *exe.syms);
        if (!exe.syms)
            return;
        for (size_t k = 0; k < nsym; k++) {
            if (ELF64_ST_TYPE(sym[k].st_info) /* = ELF32_ */ != STT_FUNC ||
                sym[k].st_shndx == SHN_UNDEF || sym[k].st_size == 0 ||
                sym[k].st_name >= st->sh_size)
                continue;
            exe.syms[exe.n++] =
                (struct exe_sym){sym[k].st_value, sym[k].st_size,
                                 base + st->sh_offset + sym[k].st_name};
        }
        qsort(exe.syms, exe.n, sizeof *exe.syms, by_addr);
        return;
    }
}

static void load(void)
{
    struct stat st;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        void *map =
            mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            dl_iterate_phdr(first_bias, &exe.bias);
            read_symtab(map, (size_t)st.st_size);
            if (exe.n == 0) /* nothing will point into it */
                munmap(map, (size_t)st.st_size);
        }
    }
    close(fd);
}

const char *gort__exe_symbol(uintptr_t pc, uintptr_t *offset)
{
    pthread_once(&exe.once, load);
    if (pc < exe.bias)
        return NULL;
    uintptr_t a = pc - exe.bias;
    size_t lo = 0, hi = exe.n; /* the last symbol at or below a */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (exe.syms[mid].addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || a - exe.syms[lo - 1].addr >= exe.syms[lo - 1].size)
        return NULL;
    *offset = a - exe.syms[lo - 1].addr;
    return exe.syms[lo - 1].name;
}
