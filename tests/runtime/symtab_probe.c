/* symtab_probe — a shared object test_symtab loads and unloads: its static
 * function is named while it is loaded, and forgotten once it is not. */
__attribute__((noinline)) static int probe_static_fn(int x)
{
    return x * 7 + 3;
}

void *probe_static_addr(void);
void *probe_static_addr(void)
{
    return (void *)probe_static_fn;
}

int probe_call(int x);
int probe_call(int x)
{
    return probe_static_fn(x);
}
