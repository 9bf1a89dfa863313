/* Two static functions for the inliner: `clamp_sum` is called from two places and is too big
 * for -Oz's inline threshold (25) but well under the default one (225); `checksum` is called
 * once, so inlining it removes it whatever the threshold. */
#include <stdio.h>

static int clamp_sum(const int *a, int n, int lo, int hi)
{
    int s = 0;
    for (int i = 0; i < n; i++) {
        int v = a[i];
        s += v < lo ? lo : v > hi ? hi : v;
    }
    return s;
}

static int checksum(const int *a, int n)
{
    return clamp_sum(a, n, 0, 100) ^ clamp_sum(a, n, -5, 5);
}

int main(void)
{
    int a[8] = {3, -9, 120, 7, 55, -1, 0, 42};
    printf("%d\n", checksum(a, 8));
    return 0;
}
