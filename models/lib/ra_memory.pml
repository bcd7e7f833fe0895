/* SPDX-License-Identifier: Apache-2.0
 *
 * A small operational model of C++ release/acquire/relaxed memory for SPIN,
 * shared by the models in models/ (see docs/verification.md). SPIN interleaves
 * statements sequentially consistently, so every shared location here keeps a
 * short history of its writes in modification order, and each read may return
 * any write that the reading thread is not yet forced to see: one at or after
 * the newest write that happens-before the read (vector clocks) and at or after
 * what this thread last read or wrote there (coherence). An acquire read joins
 * the clock carried by the write it reads; a release write carries the writer's
 * clock; a read-modify-write reads the newest write and continues release
 * sequences. Plain (non-atomic) cells also run a happens-before race check.
 * Two threads (0 and 1); every operation below is one atomic model step.
 *
 * The includer defines NL (locations) and H (history depth), and declares
 * RA_LOCALS inside each proctype.
 */

#define NT 2

/* Per history entry: value, writing thread, epoch stamp, and the release
 * clock (one component per thread) an acquire read of it joins. */
byte ra_val[NL * H];
bit  ra_who[NL * H];
byte ra_ep[NL * H];
byte ra_m0[NL * H];
byte ra_m1[NL * H];
byte ra_n[NL] = 1;          /* live entries; entry 0 is the initial value */
byte ra_floor[NT * NL];     /* coherence: oldest entry each thread may still read */
byte ra_rd[NT * NL];        /* race check: epoch of each thread's last plain read */
byte ra_vc[NT * NT];        /* ra_vc[t*NT+u]: releases of u that happen-before t's next step */
#ifdef LIVENESS
byte ra_stale[NT * NL];     /* consecutive stale reads, bounded by RA_STALE_MAX */
#ifndef RA_STALE_MAX
#define RA_STALE_MAX 1
#endif
#endif
#ifndef RACE_CHECK
#define RACE_CHECK 1
#endif

/* A thread writes with stamp ra_vc[t][t]+1; a release bumps ra_vc[t][t] first, so
 * everything up to and including the release has a stamp <= the clock it sends. */
#define RA_STAMP(t) (ra_vc[(t) * NT + (t)] + 1)
#define RA_VIS(t, k) (ra_who[k] == (t) || ra_ep[k] <= ra_vc[(t) * NT + ra_who[k]])
#define RA_LATEST(L) ((L) * H + ra_n[L] - 1)
#define RA_NOW(L) (ra_val[RA_LATEST(L)])
#define RA_MAX(a, b) ((a) > (b) -> (a) : (b))

#define RA_LOCALS byte ra_i, ra_lo, ra_idx, ra_k, ra_m, ra_j, ra_L; bit race_free = 1

/* ra_lo := oldest entry of L that thread t may read. */
inline ra_lowest(t, L) {
  ra_lo = ra_floor[(t) * NL + (L)];
  ra_i = ra_n[L] - 1;
  do
  :: ra_i > ra_lo && !RA_VIS(t, (L) * H + ra_i) -> ra_i--
  :: else -> break
  od;
  ra_lo = ra_i
}

/* Drop entries neither thread can read any more, so equal futures share a state. */
inline ra_gc(L) {
  ra_lowest(0, L); ra_floor[0 * NL + (L)] = ra_lo;
  ra_lowest(1, L); ra_floor[1 * NL + (L)] = ra_lo;
  ra_m = (ra_floor[L] < ra_floor[NL + (L)] -> ra_floor[L] : ra_floor[NL + (L)]);
  if
  :: ra_m > 0 ->
     ra_j = 0;
     do
     :: ra_j + ra_m < ra_n[L] ->
        ra_val[(L) * H + ra_j] = ra_val[(L) * H + ra_j + ra_m];
        ra_who[(L) * H + ra_j] = ra_who[(L) * H + ra_j + ra_m];
        ra_ep[(L) * H + ra_j] = ra_ep[(L) * H + ra_j + ra_m];
        ra_m0[(L) * H + ra_j] = ra_m0[(L) * H + ra_j + ra_m];
        ra_m1[(L) * H + ra_j] = ra_m1[(L) * H + ra_j + ra_m];
        ra_j++
     :: else -> break
     od;
     do
     :: ra_j < ra_n[L] ->
        ra_val[(L) * H + ra_j] = 0; ra_who[(L) * H + ra_j] = 0; ra_ep[(L) * H + ra_j] = 0;
        ra_m0[(L) * H + ra_j] = 0; ra_m1[(L) * H + ra_j] = 0;
        ra_j++
     :: else -> break
     od;
     ra_n[L] = ra_n[L] - ra_m;
     ra_floor[L] = ra_floor[L] - ra_m;
     ra_floor[NL + (L)] = ra_floor[NL + (L)] - ra_m
  :: else -> skip
  fi
}

/* An acquire changes what every location's readable window is: compact them all. */
inline ra_gc_all() {
  ra_L = 0;
  do
  :: ra_L < NL -> ra_gc(ra_L); ra_L++
  :: else -> break
  od
}

inline ra_join(t, k) {
  ra_vc[(t) * NT + 0] = RA_MAX(ra_vc[(t) * NT + 0], ra_m0[k]);
  ra_vc[(t) * NT + 1] = RA_MAX(ra_vc[(t) * NT + 1], ra_m1[k])
}

inline ra_clear() {
  ra_i = 0; ra_lo = 0; ra_idx = 0; ra_k = 0; ra_m = 0; ra_j = 0; ra_L = 0
}

/* v := a load of L by thread t; acq is 1 for acquire, 0 for relaxed. The choice
 * of which visible write it returns is SPIN's nondeterminism. */
inline ra_load(t, L, v, acq) {
  ra_lowest(t, L);
#ifdef LIVENESS
  if
  :: ra_stale[(t) * NL + (L)] >= RA_STALE_MAX -> ra_lo = ra_n[L] - 1
  :: else -> skip
  fi;
#endif
  ra_idx = ra_lo;
  do
  :: ra_idx < ra_n[L] - 1 -> ra_idx++
  :: break
  od;
  ra_k = (L) * H + ra_idx;
  v = ra_val[ra_k];
  ra_floor[(t) * NL + (L)] = ra_idx;
#ifdef LIVENESS
  if
  :: ra_idx < ra_n[L] - 1 -> ra_stale[(t) * NL + (L)]++
  :: else -> ra_stale[(t) * NL + (L)] = 0
  fi;
#endif
  if
  :: acq -> ra_join(t, ra_k); ra_gc_all()
  :: else -> ra_gc(L)
  fi;
  ra_clear()
}

/* A store of x to L by thread t; rel is 1 for release, 0 for relaxed. */
inline ra_store(t, L, x, rel) {
  assert(ra_n[L] < H);
  ra_k = (L) * H + ra_n[L];
  ra_val[ra_k] = x;
  ra_who[ra_k] = t;
  ra_ep[ra_k] = RA_STAMP(t);
  if
  :: rel ->
     ra_vc[(t) * NT + (t)]++;
     ra_m0[ra_k] = ra_vc[(t) * NT + 0];
     ra_m1[ra_k] = ra_vc[(t) * NT + 1]
  :: else -> skip
  fi;
  ra_floor[(t) * NL + (L)] = ra_n[L];
  ra_n[L]++;
  ra_gc(L);
  ra_clear()
}

/* old := exchange(L, x) by thread t. An RMW reads the newest write; with acq it
 * joins that write's clock, and its own write carries the release sequence on
 * (the old clock) plus, with rel, this thread's clock. */
inline ra_exchange(t, L, x, old, acq, rel) {
  assert(ra_n[L] < H);
  ra_j = RA_LATEST(L);
  old = ra_val[ra_j];
  if
  :: acq -> ra_join(t, ra_j)
  :: else -> skip
  fi;
  ra_k = ra_j + 1;
  ra_val[ra_k] = x;
  ra_who[ra_k] = t;
  ra_ep[ra_k] = RA_STAMP(t);
  if
  :: rel -> ra_vc[(t) * NT + (t)]++
  :: else -> skip
  fi;
  ra_m0[ra_k] = RA_MAX(ra_m0[ra_j], (rel -> ra_vc[(t) * NT + 0] : 0));
  ra_m1[ra_k] = RA_MAX(ra_m1[ra_j], (rel -> ra_vc[(t) * NT + 1] : 0));
  ra_floor[(t) * NL + (L)] = ra_n[L];
  ra_n[L]++;
  if
  :: acq -> ra_gc_all()
  :: else -> ra_gc(L)
  fi;
  ra_clear()
}

/* Plain (non-atomic) accesses: the same visibility rules, plus a check that the
 * access does not race, i.e. that every conflicting access happens-before it.
 * A racy plain access is undefined behaviour in C++, so it is an error even when
 * the value read happens to be right. */
inline na_read(t, L, v) {
#if RACE_CHECK
  race_free = RA_VIS(t, RA_LATEST(L));
  assert(race_free);
#endif
  ra_rd[(t) * NL + (L)] = RA_STAMP(t);
  ra_load(t, L, v, 0)
}

inline na_write(t, L, x) {
#if RACE_CHECK
  race_free = RA_VIS(t, RA_LATEST(L)) && ra_rd[(1 - (t)) * NL + (L)] <= ra_vc[(t) * NT + 1 - (t)];
  assert(race_free);
#endif
  ra_store(t, L, x, 0)
}
