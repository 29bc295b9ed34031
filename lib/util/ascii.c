#include "util/ascii.h"

int constra__ascii_casecmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (;; x++, y++) {
        int d = constra__ascii_lower(*x) - constra__ascii_lower(*y);
        if (d != 0 || *x == '\0') {
            return d;
        }
    }
}

int constra__ascii_ncaseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = constra__ascii_lower((unsigned char)a[i]);
        if (ca != constra__ascii_lower((unsigned char)b[i])) {
            return 0;
        }
        if (ca == '\0') {
            return 1;
        }
    }
    return 1;
}

int constra__ascii_ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '\0' ||
            constra__ascii_lower((unsigned char)a[i]) != constra__ascii_lower((unsigned char)b[i])) {
            return 0;
        }
    }
    return a[n] == '\0';
}
