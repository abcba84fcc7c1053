/* probe_exe — an empty program built with this tree's compiler and flags:
 * whatever it exports is the toolchain's (a sanitizer runtime's interface),
 * which check_exports.py does not count as gortd's. */
int main(void)
{
    return 0;
}
