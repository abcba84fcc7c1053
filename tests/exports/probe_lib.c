/* probe_lib — an empty shared library built with this tree's compiler and
 * flags: whatever it exports is the toolchain's, which check_exports.py
 * does not count as libgort's. */
__attribute__((visibility("hidden"))) int exports_probe(void);

__attribute__((visibility("hidden"))) int exports_probe(void)
{
    return 0;
}
