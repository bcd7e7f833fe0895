/* SPDX-License-Identifier: Apache-2.0
 *
 * SPIN model of isolation mode's slot grants (include/triptych/isolate/
 * grants.hpp, docs/isolation.md "Grants"): the host grants frames to the
 * render process (RENDER{epoch, frame, generation}) with at most MAXOPEN
 * open; the child answers DONE, replays an old DONE, forges one for a frame
 * it was never given, or dies at any step (at most NDEATHS times). On a
 * death the supervisor reports it, the host hands every open grant back as
 * lost, starts a new epoch and a new child takes over; DONEs of the dead
 * child may still be queued. Checked: a DONE is accepted only for a frame
 * granted in the current epoch and still open (no ungranted accept); every
 * granted frame ends exactly once, accepted or lost (no lost grant, no
 * double count); no deadlock (a stuck system ends the host's loop, and
 * then the frames it never ended fail the final check). Seeded bugs (run.sh): SEED_NO_OPEN_CHECK (the
 * host accepts a DONE without checking the grant is open) and
 * SEED_NO_RECLAIM (a death does not hand back the open grants).
 */

#ifndef NFRAMES
#define NFRAMES 4
#endif
#ifndef MAXOPEN
#define MAXOPEN 2
#endif
#ifndef NDEATHS
#define NDEATHS 2
#endif

chan to_child = [MAXOPEN] of { byte, byte, byte };  /* epoch, frame, generation */
chan to_host = [3] of { byte, byte, byte };

byte epoch = 1;
bool alive = true;
byte deaths = 0;

/* The host's table. */
bool open[NFRAMES];
byte open_generation[NFRAMES];
byte nopen = 0;

/* Ghosts: what really happened, independent of the table. */
byte granted_epoch[NFRAMES];  /* 0: never granted */
byte ends[NFRAMES];           /* accepted + lost, per frame */

active proctype host() {
  byte next = 0, generation = 0, e, f, g, i;
  do
  :: alive && next < NFRAMES && nopen < MAXOPEN ->
     atomic {
       generation++;
       open[next] = true;
       open_generation[next] = generation;
       nopen++;
       granted_epoch[next] = epoch;
       to_child!epoch, next, generation;
       next++
     }
  :: to_host?e, f, g ->
     atomic {
       if
#ifdef SEED_NO_OPEN_CHECK
       :: e == epoch && f < NFRAMES && open_generation[f] == g ->
#else
       :: e == epoch && f < NFRAMES && open[f] && open_generation[f] == g ->
#endif
          assert(granted_epoch[f] == epoch);   /* no ungranted accept */
          open[f] = false;
          nopen--;
          ends[f]++;
          assert(ends[f] == 1)                 /* ended once */
       :: else -> skip                         /* a counted violation */
       fi
     }
  :: !alive ->                                 /* the supervisor saw the death */
     atomic {
#ifndef SEED_NO_RECLAIM
       i = 0;
       do
       :: i < NFRAMES ->
          if
          :: open[i] -> open[i] = false; ends[i]++; assert(ends[i] == 1)
          :: else -> skip
          fi;
          i++
       :: else -> break
       od;
       nopen = 0;
#endif
       do
       :: to_child?_, _, _
       :: empty(to_child) -> break
       od;
       epoch++;
       alive = true                            /* the standby takes over */
     }
  :: next == NFRAMES && nopen == 0 -> break
  :: timeout -> break                          /* stuck: the checks below say why */
  od;
  i = 0;
  do
  :: i < NFRAMES -> assert(ends[i] == 1); i++  /* no lost grant */
  :: else -> break
  od
}

active proctype child() {
  byte e, f, g, last_e, last_f, last_g;
  bool have_last = false;
end_serving:
  do
  :: alive && nempty(to_child) ->
     to_child?e, f, g;
     if
     :: to_host!e, f, g; last_e = e; last_f = f; last_g = g; have_last = true
     :: deaths < NDEATHS -> atomic { alive = false; deaths++ }
     fi
  :: alive && have_last && nfull(to_host) -> to_host!last_e, last_f, last_g      /* replay */
  :: alive && nempty(to_child) && nfull(to_host) -> to_host!epoch, NFRAMES - 1, 1  /* forged */
  :: alive && deaths < NDEATHS -> atomic { alive = false; deaths++ }
  od
}
