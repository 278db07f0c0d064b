/* Keeps the wheel's glibc floor low (see README "Install").
 *
 * The static Swift runtime's Glibc overlay references hypotf. Linked against a
 * glibc >= 2.35, that reference binds to hypotf@GLIBC_2.35, the one symbol that
 * lifts the floor above 2.34 (RHEL / Rocky / Alma 9). The wheel build links with
 * `-Xlinker --wrap=hypotf`, which sends those references here instead. promptsel
 * itself never calls hypotf; this is a correct one all the same: a float squared is
 * exact in double, so one double sqrt gives the float result (ISO C: an infinite
 * argument gives +inf even beside a NaN). Without --wrap this file is inert. */
#include <math.h> /* first: it defines __GLIBC__ */

#if defined(__GLIBC__)
__attribute__((visibility("hidden"))) float __wrap_hypotf(float x, float y) {
    if (isinf(x) || isinf(y)) return INFINITY;
    double dx = (double)x, dy = (double)y;
    return (float)sqrt(dx * dx + dy * dy);
}
#endif
