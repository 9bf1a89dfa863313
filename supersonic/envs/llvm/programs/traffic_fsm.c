/* Traffic light state machine benchmark: a two-road intersection controller
 * with vehicle sensors, pedestrian requests, emergency preemption and night
 * flashing mode, simulated tick by tick; checks safety invariants and prints
 * statistics about states, transitions and queue lengths. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

enum state {
    S_NS_GREEN,
    S_NS_YELLOW,
    S_ALL_RED_1,
    S_EW_GREEN,
    S_EW_YELLOW,
    S_ALL_RED_2,
    S_PED_WALK,
    S_PED_CLEAR,
    S_EMERGENCY,
    S_NIGHT_FLASH,
    S_COUNT
};

enum light { L_RED, L_YELLOW, L_GREEN, L_FLASH_YELLOW, L_FLASH_RED };

static const char *state_names[S_COUNT] = {"NS_GREEN", "NS_YELLOW", "ALL_RED_1", "EW_GREEN",
                                           "EW_YELLOW", "ALL_RED_2", "PED_WALK", "PED_CLEAR",
                                           "EMERGENCY", "NIGHT_FLASH"};

struct inputs {
    bool car_ns, car_ew, ped_button, emergency, night;
};

struct controller {
    enum state st;
    enum state resume;
    unsigned timer;
    bool ped_pending;
    unsigned transitions;
    unsigned time_in[S_COUNT];
    unsigned trans_count[S_COUNT][S_COUNT];
};

struct roads {
    unsigned queue_ns, queue_ew, peds_waiting;
    unsigned served_ns, served_ew, peds_served;
    unsigned max_queue_ns, max_queue_ew;
};

static uint32_t rng = 0xA5A5A5A5u;

static uint32_t rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static bool chance(unsigned per_mille)
{
    return rnd() % 1000u < per_mille;
}

static unsigned min_time(enum state s)
{
    switch (s) {
    case S_NS_GREEN: return 12;
    case S_EW_GREEN: return 10;
    case S_NS_YELLOW:
    case S_EW_YELLOW: return 3;
    case S_ALL_RED_1:
    case S_ALL_RED_2: return 2;
    case S_PED_WALK: return 7;
    case S_PED_CLEAR: return 4;
    case S_EMERGENCY: return 5;
    case S_NIGHT_FLASH: return 1;
    default: return 1;
    }
}

static void lights(enum state s, enum light *ns, enum light *ew)
{
    *ns = L_RED;
    *ew = L_RED;
    switch (s) {
    case S_NS_GREEN: *ns = L_GREEN; break;
    case S_NS_YELLOW: *ns = L_YELLOW; break;
    case S_EW_GREEN: *ew = L_GREEN; break;
    case S_EW_YELLOW: *ew = L_YELLOW; break;
    case S_NIGHT_FLASH:
        *ns = L_FLASH_YELLOW;
        *ew = L_FLASH_RED;
        break;
    default: break;
    }
}

static void enter(struct controller *c, enum state next)
{
    c->trans_count[c->st][next]++;
    c->transitions++;
    c->st = next;
    c->timer = 0;
}

static void step(struct controller *c, const struct inputs *in)
{
    c->timer++;
    c->time_in[c->st]++;
    if (in->ped_button)
        c->ped_pending = true;

    if (in->emergency && c->st != S_EMERGENCY) {
        if (c->st == S_NS_GREEN || c->st == S_EW_GREEN)
            c->resume = c->st;
        else
            c->resume = S_NS_GREEN;
        enter(c, S_EMERGENCY);
        return;
    }

    unsigned t = c->timer;
    switch (c->st) {
    case S_NS_GREEN:
        if (in->night)
            enter(c, S_NIGHT_FLASH);
        else if (t >= min_time(S_NS_GREEN) && (in->car_ew || c->ped_pending || t >= 30))
            enter(c, S_NS_YELLOW);
        break;
    case S_NS_YELLOW:
        if (t >= min_time(S_NS_YELLOW))
            enter(c, S_ALL_RED_1);
        break;
    case S_ALL_RED_1:
        if (t >= min_time(S_ALL_RED_1))
            enter(c, c->ped_pending ? S_PED_WALK : S_EW_GREEN);
        break;
    case S_EW_GREEN:
        if (in->night)
            enter(c, S_NIGHT_FLASH);
        else if (t >= min_time(S_EW_GREEN) && (in->car_ns || c->ped_pending || t >= 25))
            enter(c, S_EW_YELLOW);
        break;
    case S_EW_YELLOW:
        if (t >= min_time(S_EW_YELLOW))
            enter(c, S_ALL_RED_2);
        break;
    case S_ALL_RED_2:
        if (t >= min_time(S_ALL_RED_2))
            enter(c, c->ped_pending ? S_PED_WALK : S_NS_GREEN);
        break;
    case S_PED_WALK:
        c->ped_pending = false;
        if (t >= min_time(S_PED_WALK))
            enter(c, S_PED_CLEAR);
        break;
    case S_PED_CLEAR:
        if (t >= min_time(S_PED_CLEAR))
            enter(c, (c->trans_count[S_ALL_RED_1][S_PED_WALK] + c->trans_count[S_ALL_RED_2][S_PED_WALK]) % 2u
                         ? S_EW_GREEN
                         : S_NS_GREEN);
        break;
    case S_EMERGENCY:
        if (!in->emergency && t >= min_time(S_EMERGENCY))
            enter(c, S_ALL_RED_2);
        break;
    case S_NIGHT_FLASH:
        if (!in->night)
            enter(c, S_ALL_RED_1);
        break;
    default:
        break;
    }
}

static bool safe(enum state s)
{
    enum light ns, ew;
    lights(s, &ns, &ew);
    bool ns_go = ns == L_GREEN || ns == L_YELLOW;
    bool ew_go = ew == L_GREEN || ew == L_YELLOW;
    if (ns_go && ew_go)
        return false;
    if (s == S_PED_WALK && (ns_go || ew_go))
        return false;
    return true;
}

static void update_roads(struct roads *r, enum state s, bool arr_ns, bool arr_ew, bool ped)
{
    enum light ns, ew;
    lights(s, &ns, &ew);
    if (arr_ns)
        r->queue_ns++;
    if (arr_ew)
        r->queue_ew++;
    if (ped)
        r->peds_waiting++;
    if ((ns == L_GREEN || ns == L_FLASH_YELLOW) && r->queue_ns > 0) {
        r->queue_ns--;
        r->served_ns++;
    }
    if ((ew == L_GREEN || (ew == L_FLASH_RED && r->queue_ns == 0)) && r->queue_ew > 0) {
        r->queue_ew--;
        r->served_ew++;
    }
    if (s == S_PED_WALK) {
        r->peds_served += r->peds_waiting;
        r->peds_waiting = 0;
    }
    if (r->queue_ns > r->max_queue_ns)
        r->max_queue_ns = r->queue_ns;
    if (r->queue_ew > r->max_queue_ew)
        r->max_queue_ew = r->queue_ew;
}

int main(void)
{
    struct controller c;
    struct roads r;
    memset(&c, 0, sizeof c);
    memset(&r, 0, sizeof r);
    c.st = S_NS_GREEN;
    c.resume = S_NS_GREEN;
    unsigned violations = 0, emergency_left = 0;
    uint32_t trace = 0;
    int printed = 0;
    for (unsigned tick = 0; tick < 20000; tick++) {
        unsigned hour = (tick / 400u) % 24u;
        bool rush = (hour >= 7 && hour <= 9) || (hour >= 16 && hour <= 18);
        struct inputs in;
        bool arr_ns = chance(rush ? 300 : 120);
        bool arr_ew = chance(rush ? 200 : 80);
        bool ped = chance(15);
        if (emergency_left == 0 && chance(2))
            emergency_left = 8 + rnd() % 10u;
        in.emergency = emergency_left > 0;
        if (emergency_left > 0)
            emergency_left--;
        in.night = hour < 5;
        in.ped_button = ped;
        update_roads(&r, c.st, arr_ns, arr_ew, ped);
        in.car_ns = r.queue_ns > 0;
        in.car_ew = r.queue_ew > 0;
        enum state before = c.st;
        step(&c, &in);
        if (!safe(c.st))
            violations++;
        if (c.st != before) {
            trace = trace * 16777619u ^ ((uint32_t)c.st * 131u + tick);
            if (printed < 12) {
                printf("t=%5u %-11s -> %s\n", tick, state_names[before], state_names[c.st]);
                printed++;
            }
        }
    }
    printf("transitions=%u violations=%u trace=%08x\n", c.transitions, violations, (unsigned)trace);
    for (int s = 0; s < S_COUNT; s++)
        printf("  %-11s ticks=%u\n", state_names[s], c.time_in[s]);
    printf("served ns=%u ew=%u peds=%u  queues ns=%u ew=%u  max ns=%u ew=%u\n", r.served_ns,
           r.served_ew, r.peds_served, r.queue_ns, r.queue_ew, r.max_queue_ns, r.max_queue_ew);
    unsigned edges = 0;
    for (int a = 0; a < S_COUNT; a++)
        for (int b = 0; b < S_COUNT; b++)
            if (c.trans_count[a][b])
                edges++;
    printf("distinct transition edges used=%u\n", edges);
    return 0;
}
