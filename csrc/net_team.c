/*
 * net_team.c -- the two threads of pn_net_train_batches (net_train.c): where they meet,
 * and the main thread's choice, batch by batch, of working with the other thread (DUO)
 * or alone (SOLO, the other asleep).  The choice changes who computes what, never a bit
 * (net_train.c).
 *
 * Two threads help only when both have a core.  When the machine is busy the second
 * thread loses its core for milliseconds at a time and the first waits for it at every
 * meeting (here a session of another user running one process took half of the two
 * cores: two threads then got one core between them, and took longer than one).  So, as
 * train.c does for the fully connected engine: a meeting the main thread waits for longer
 * than NET_LATE_NS sends it solo for a while (unless together has been faster per sample
 * than solo); after the solo period it measures its time per sample and tries together
 * again; the next solo period is twice as long when together was slower per sample than
 * solo, and NET_SOLO_MIN again when it was faster.  A period together is also judged every
 * NET_JUDGE_BATCHES batches against the last solo time.  The solo period's length is kept
 * from call to call (the machine stays busy or quiet).
 */
#include "net.h"

#if PN_THREADS
#include <time.h>

/* A wait spins this long, then sleeps (its partner may have lost its core). */
#define NET_SPIN_NS 200000
/* Pauses between two clock reads while spinning. */
#define NET_SPIN_PAUSES 64
/* A batch of 10 of the book's network takes about 1.5 ms on one thread, and its halves
 * meet twice: a wait of more than 0.1 ms is a partner that lost its core. */
#define NET_LATE_NS 100000
#define NET_SOLO_MIN 2000000
#define NET_SOLO_MAX 1000000000
#define NET_JUDGE_BATCHES 64
static long long solo_len = NET_SOLO_MIN, solo_until;

long long net_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_once(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

int net_team_init(net_team *t)
{
    memset(t, 0, sizeof *t);
    if (pthread_mutex_init(&t->mu, NULL) != 0) return 0;
    if (pthread_cond_init(&t->cv, NULL) != 0) {
        pthread_mutex_destroy(&t->mu);
        return 0;
    }
    return 1;
}

void net_team_free(net_team *t)
{
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

/* Wait until *at != v (spinning, then asleep); returns the nanoseconds waited (0 for a
 * wait of at most NET_SPIN_PAUSES pauses: no clock is read). */
static long long wait_change(net_team *t, const long *at, long v)
{
    long long t0;
    int i;
    for (i = 0; i < NET_SPIN_PAUSES; i++) {
        if (__atomic_load_n(at, __ATOMIC_ACQUIRE) != v) return 0;
        pause_once();
    }
    t0 = net_now_ns();
    do {
        for (i = 0; i < NET_SPIN_PAUSES; i++) {
            if (__atomic_load_n(at, __ATOMIC_ACQUIRE) != v) return net_now_ns() - t0;
            pause_once();
        }
    } while (net_now_ns() - t0 < NET_SPIN_NS);
    pthread_mutex_lock(&t->mu);
    __atomic_add_fetch(&t->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(at, __ATOMIC_SEQ_CST) == v) pthread_cond_wait(&t->cv, &t->mu);
    __atomic_sub_fetch(&t->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&t->mu);
    return net_now_ns() - t0;
}

/* *at = v, and wake the other thread if it sleeps. */
static void set_and_wake(net_team *t, long *at, long v)
{
    __atomic_store_n(at, v, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&t->sleepers, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&t->mu);
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
}

long long net_team_meet(net_team *t)
{
    long gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&t->arrived, 1, __ATOMIC_ACQ_REL) == 2) {
        __atomic_store_n(&t->arrived, 0, __ATOMIC_RELAXED);
        set_and_wake(t, &t->gen, gen + 1);
        return 0;
    }
    return wait_change(t, &t->gen, gen);
}

void net_team_post(net_team *t, int split, long batch)
{
    __atomic_store_n(&t->split, split, __ATOMIC_RELAXED);
    __atomic_store_n(&t->batch, batch, __ATOMIC_RELAXED);
    set_and_wake(t, &t->posted, t->posted + 1);
}

int net_team_next(net_team *t, long *seen, long *batch)
{
    wait_change(t, &t->posted, *seen);
    *seen = __atomic_load_n(&t->posted, __ATOMIC_ACQUIRE);
    *batch = __atomic_load_n(&t->batch, __ATOMIC_RELAXED);
    return __atomic_load_n(&t->split, __ATOMIC_RELAXED);
}

/* The main thread's time per sample since the period began, now. */
static long long per_sample(const net_team *t, long long now, long samples)
{
    return samples > t->since_n ? (now - t->since) / (samples - t->since_n) : 0;
}

/* Solo from now on, for a period set by the measured times (see the top of the file). */
static int go_solo(net_team *t, long long now, long samples)
{
    long long len = __atomic_load_n(&solo_len, __ATOMIC_RELAXED);
    if (t->alone > 0)                   /* (no solo period yet in this call: as it was) */
        len = per_sample(t, now, samples) < t->alone ? NET_SOLO_MIN
            : len < NET_SOLO_MAX / 2 ? 2 * len : NET_SOLO_MAX;
    __atomic_store_n(&solo_len, len, __ATOMIC_RELAXED);
    __atomic_store_n(&solo_until, now + len, __ATOMIC_RELAXED);
    t->since = now;
    t->since_n = samples;
    return NET_SOLO;
}

int net_team_first(net_team *t)
{
    t->since = t->judged_at = net_now_ns();
    return t->since < __atomic_load_n(&solo_until, __ATOMIC_RELAXED) ? NET_SOLO : NET_DUO;
}

int net_team_choose(net_team *t, int split, long long late, long batches, long samples)
{
    long long now = net_now_ns();
    if (split == NET_DUO) {
        if (late > NET_LATE_NS && batches > t->since_b + 1) {
            if (t->alone <= 0 || per_sample(t, now, samples) > t->alone)
                return go_solo(t, now, samples);
            __atomic_store_n(&solo_len, NET_SOLO_MIN, __ATOMIC_RELAXED);   /* a hiccup */
        }
        if (batches - t->judged_b >= NET_JUDGE_BATCHES) {
            if (t->alone > 0 && samples > t->judged_n &&
                (now - t->judged_at) / (samples - t->judged_n) > t->alone)
                return go_solo(t, now, samples);
            t->judged_at = now;
            t->judged_b = batches;
            t->judged_n = samples;
        }
        return NET_DUO;
    }
    if (now < __atomic_load_n(&solo_until, __ATOMIC_RELAXED)) return NET_SOLO;
    if (samples > t->since_n) t->alone = per_sample(t, now, samples);
    t->since = t->judged_at = now;
    t->since_n = t->judged_n = samples;
    t->since_b = t->judged_b = batches;
    return NET_DUO;
}
#endif
