#include <string.h>

#include "constra/version.h"
#include "constra_config.h"
#include "util/check.h"

const char *constra_version(void)
{
    return CONSTRA_VERSION_STRING;
}

int constra_version_number(void)
{
    return CONSTRA_VERSION_NUMBER;
}

const char *constra_features(void)
{
    return CONSTRA_FEATURES;
}

int constra_feature_enabled(const char *name)
{
    if (name == NULL) {
        return 0;
    }
    size_t len = constra__strnlen(name, 32);
    if (len == 0 || len >= 32) {
        return 0;
    }
    /* Whole-word match in the space-separated list. */
    const char *list = CONSTRA_FEATURES;
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len) {
        int starts = (p == list || p[-1] == ' ');
        int ends = (p[len] == '\0' || p[len] == ' ');
        if (starts && ends) {
            return 1;
        }
    }
    return 0;
}
