/* SPDX-License-Identifier: Apache-2.0
 *
 * SPIN model of the SpscRing protocol (include/triptych/ring/spsc_ring.hpp,
 * docs/verification.md) with capacity 2 and NMSG messages, so every cell is
 * reused. As in the C++, the producer owns `tail` and a cached copy of `head`,
 * the consumer owns `head` and a cached copy of `tail`; each refreshes its
 * cached copy (acquire load) only when the copy says full / empty, copies
 * cells with plain accesses, then release-stores its own index. Each attempt
 * is a try_push_n / try_pop_n of 1 or BATCH items (try_push / try_pop are the
 * 1-item case). Checked: no lost, duplicated or reordered message, no read of
 * an unwritten or stale cell, no data race on a cell, indices never more than
 * capacity apart, no deadlock, and (LIVENESS) every message is eventually
 * received while the consumer keeps polling. Memory orders are switches so
 * run.sh can check a seeded bug (SEED_BUG: the consumer's acquire load of
 * tail becomes relaxed).
 */

#ifndef NMSG
#define NMSG 5
#endif
#ifndef BATCH
#define BATCH 2
#endif
#define CAP 2
#define MASK 1
#define NL 4
#define H (NMSG + 2)
#include "../lib/ra_memory.pml"

#define PRODUCER 0
#define CONSUMER 1
#define TAIL 0
#define HEAD 1
#define CELL(pos) (2 + ((pos) & MASK))

#ifndef PROD_HEAD_ACQ
#define PROD_HEAD_ACQ 1
#endif
#ifndef PROD_TAIL_REL
#define PROD_TAIL_REL 1
#endif
#ifndef CONS_TAIL_ACQ
#ifdef SEED_BUG
#define CONS_TAIL_ACQ 0
#else
#define CONS_TAIL_ACQ 1
#endif
#endif
#ifndef CONS_HEAD_REL
#define CONS_HEAD_REL 1
#endif

#define MIN(a, b) ((a) < (b) -> (a) : (b))

byte sent;
byte rcvd;

active proctype producer() {
  RA_LOCALS;
  byte t;       /* tail: our own index, so we always know its latest value */
  byte ch;      /* cached_head */
  byte want;    /* items this try_push_n offers */
  byte n;       /* items it pushes */
  byte i;
  do
  :: t == NMSG -> break
  :: else ->
     if
     :: want = 1
     :: NMSG - t >= BATCH -> want = BATCH
     fi;
     if
     :: CAP - (t - ch) < want ->
        /* SYNC(spsc-head) */
        atomic {
          ra_load(PRODUCER, HEAD, ch, PROD_HEAD_ACQ);
          printf("producer: loaded head = %d (tail %d)\n", ch, t);
          assert(t - ch <= CAP)
        }
     :: else -> skip
     fi;
     n = MIN(CAP - (t - ch), want);
     want = 0;
     if
     :: n == 0 -> skip   /* full: the caller retries */
     :: else ->
        i = 0;
        do
        :: i < n -> atomic { na_write(PRODUCER, CELL(t + i), t + i + 1) }; i++
        :: else -> break
        od;
        /* SYNC(spsc-tail) */
        atomic {
          ra_store(PRODUCER, TAIL, t + n, PROD_TAIL_REL);
          printf("producer: wrote messages %d..%d, tail = %d\n", t + 1, t + n, t + n);
          t = t + n; sent = t; i = 0
        }
     fi;
     n = 0
  od
}

active proctype consumer() {
  RA_LOCALS;
  byte hd;      /* head: our own index */
  byte ct;      /* cached_tail */
  byte want;
  byte n;
  byte i;
  byte x;
  do
  :: hd == NMSG -> break
  :: else ->
     if
     :: want = 1
     :: want = BATCH
     fi;
     if
     :: ct - hd < want ->
        /* SYNC(spsc-tail) */
        atomic {
          ra_load(CONSUMER, TAIL, ct, CONS_TAIL_ACQ);
          printf("consumer: loaded tail = %d (head %d)\n", ct, hd);
          assert(ct - hd <= CAP)
        }
     :: else -> skip
     fi;
     n = MIN(ct - hd, want);
     want = 0;
     if
     :: n == 0 -> skip   /* empty: the caller retries */
     :: else ->
        i = 0;
        do
        :: i < n ->
           atomic {
             na_read(CONSUMER, CELL(hd + i), x);
             printf("consumer: cell %d holds %d, expected message %d\n", (hd + i) & MASK, x, hd + i + 1);
             assert(x != 0);            /* a cell nobody has written */
             assert(x == hd + i + 1);   /* lost, duplicated, reordered or stale */
             x = 0
           };
           i++
        :: else -> break
        od;
        /* SYNC(spsc-head) */
        atomic {
          ra_store(CONSUMER, HEAD, hd + n, CONS_HEAD_REL);
          printf("consumer: released cells, head = %d\n", hd + n);
          hd = hd + n; rcvd = hd; i = 0
        }
     fi;
     n = 0
  od
}

#ifdef LIVENESS
ltl every_message_received { <> (rcvd == NMSG) }
#endif
