#include "util/civil.h"

void constra__civil_from_ms(int64_t unix_ms, int32_t offset_s, constra__civil *out)
{
    int64_t ms = unix_ms + (int64_t)offset_s * 1000;
    if (ms < 0) {
        ms = 0;
    }
    int64_t secs = ms / 1000;
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    out->ms = (int)(ms % 1000);
    out->hour = (int)(rem / 3600);
    out->minute = (int)(rem % 3600 / 60);
    out->second = (int)(rem % 60);
    /* Days since 1970-01-01 to a proleptic Gregorian date, counting in
     * 400-year eras that start on 1 March. */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = (int)(yoe + era * 400 + (out->month <= 2));
}
