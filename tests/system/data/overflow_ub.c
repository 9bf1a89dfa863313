#include <limits.h>
#include <stdio.h>

/* Signed overflow is undefined: at -O0 the addition wraps and this returns 0 for INT_MAX;
   instcombine may assume it never overflows and fold the comparison to 1. */
static int grows(int x) { return x + 1 > x; }

int main(void) {
    volatile int v = INT_MAX;
    printf("%d\n", grows(v));
    return 0;
}
