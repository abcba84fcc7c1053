/* initgo — init starts a goroutine, then fails. The refused plugin must
 * stay mapped until that goroutine has ended: it sleeps 300 ms in the
 * plugin's own code, then records that it finished in the environment
 * variable TP_INITGO_DONE (a test loading it in-process reads it). */
#include <errno.h>
#include <stdlib.h>

#include "gort/plugin.h"

static void sleeper(void *arg)
{
    (void)arg;
    gort_sleep(300 * 1000000LL);
    setenv("TP_INITGO_DONE", "1", 1); /* runs only if still mapped */
}

static int init(struct gort_plugin_registrar *reg, const char *config,
                void **state)
{
    (void)config;
    (void)state;
    if (gort_go(sleeper, NULL) < 0)
        return -ENOMEM;
    gort_plugin_set_error(reg, "refusing after starting a goroutine");
    return -EINVAL;
}

GORT_PLUGIN("initgo", "0.1.0", init, NULL);
