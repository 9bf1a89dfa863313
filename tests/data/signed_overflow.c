/* A program with undefined behaviour that optimisation exploits: at -O0 the signed addition
   wraps and the check is true; instcombine folds `x + 1 < x` (nsw) to false. A search must
   notice the changed output and never report such a sequence as its best result. */
#include <limits.h>
#include <stdio.h>

static int wraps(int x) { return x + 1 < x; }

int main(void) {
    volatile int big = INT_MAX;
    int hits = 0;
    for (int i = 0; i < 4; i++) hits += wraps(big - i + 3);
    printf("wraps: %d\n", wraps(big));
    printf("hits: %d\n", hits);
    return 0;
}
