/* probe_exe — an empty program built with this tree's compiler and flags
 * and linked with gortd's libraries: whatever it exports is the
 * toolchain's (a sanitizer runtime's interface and interceptors), which
 * check_exports.py does not count as gortd's. */
int main(void)
{
    return 0;
}
