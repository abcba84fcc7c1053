/* symtab.h — the executable's function names from its .symtab, for dumps
 * (symtab.c says why dladdr is not enough). Internal to libgort. */
#ifndef GORT_RUNTIME_SYMTAB_H
#define GORT_RUNTIME_SYMTAB_H

#include <stdint.h>

/* The name of the executable's function that holds pc, with *offset set to
 * pc's distance from its start; NULL when pc is not in one the executable's
 * symbol table names (another object, a stripped binary). The name lives as
 * long as the process. Thread-safe; the first call reads the table. */
const char *gort__exe_symbol(uintptr_t pc, uintptr_t *offset);

#endif
