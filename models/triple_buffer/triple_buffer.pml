/* SPDX-License-Identifier: Apache-2.0
 *
 * SPIN model of the TripleBuffer protocol (include/triptych/sync/triple_buffer.hpp,
 * docs/verification.md): one state word {back index, dirty bit, generation},
 * one writer that fills its private slot in two separate plain writes (frame
 * id, then checksum) and publishes with exchange(acq_rel), one reader that
 * loads the state (acquire) and, when dirty, swaps its front slot in with
 * exchange(acq_rel). Both operations are one RMW, so wait-free. Checked: no
 * torn or stale frame is ever read, no data race on a slot, the three indices
 * stay distinct and in range, reader generations strictly increase, every
 * frame is consumed or counted as dropped, no deadlock, and (LIVENESS) the
 * reader eventually gets the last frame. Memory orders are switches so run.sh
 * can check a seeded bug (SEED_BUG: the reader's exchange loses its acquire);
 * TORN_ONLY keeps only the torn-frame assertion, to show that it alone fails.
 */

#ifndef NFRAMES
#define NFRAMES 4
#endif
#define NL 10
#define H (NFRAMES + 2)
#include "../lib/ra_memory.pml"

#define WRITER 0
#define READER 1
#define STATE 0
#define CELL_ID(s) (1 + 2 * (s))
#define CELL_SUM(s) (2 + 2 * (s))
#define SLOT_GEN(s) (7 + (s))

/* State word layout, as in the C++: bits 0-1 back index, bit 2 dirty, rest generation. */
#define BACK(x) ((x) & 3)
#define DIRTY(x) (((x) >> 2) & 1)
#define GEN(x) ((x) >> 3)
#define PACK(b, d, g) ((b) + 4 * (d) + 8 * (g))

#ifndef WRITER_ACQ
#define WRITER_ACQ 1
#endif
#ifndef WRITER_REL
#define WRITER_REL 1
#endif
#ifndef READER_LOAD_ACQ
#define READER_LOAD_ACQ 1
#endif
#ifndef READER_XCHG_ACQ
#ifdef SEED_BUG
#define READER_XCHG_ACQ 0
#else
#define READER_XCHG_ACQ 1
#endif
#endif
#ifndef READER_REL
#define READER_REL 1
#endif

/* Initial ownership as create() sets it: writer 0, back 1 (clean, generation 0), reader 2. */
byte w = 0;
byte r = 2;
byte dropped;
byte consumed;
byte ended;

#define INDICES_OK (w < 3 && r < 3 && w != r && w != BACK(RA_NOW(STATE)) && r != BACK(RA_NOW(STATE)))

proctype writer() {
  RA_LOCALS;
  byte g;
  byte old;
  do
  :: g < NFRAMES ->
     atomic { assert(INDICES_OK); na_write(WRITER, CELL_ID(w), g + 1) }
     atomic { assert(INDICES_OK); na_write(WRITER, CELL_SUM(w), g + 1) }
     /* slot_generation[w] = g + 1, relaxed: the exchange below publishes it. */
     atomic { ra_store(WRITER, SLOT_GEN(w), g + 1, 0) }
     atomic {
       ra_exchange(WRITER, STATE, PACK(w, 1, g + 1), old, WRITER_ACQ, WRITER_REL);
       if
       :: DIRTY(old) -> dropped++
       :: else -> skip
       fi;
       w = BACK(old);
       g++;
       printf("writer: published frame %d in slot %d, now fills slot %d\n", g, BACK(RA_NOW(STATE)), w);
       old = 0;
       assert(INDICES_OK)
     }
  :: else -> break
  od;
  ended++
}

proctype reader() {
  RA_LOCALS;
  byte s;
  byte old;
  byte gen;     /* generation of the front slot r */
  byte fid;
  byte fsum;
  byte sgen;
  do
  :: gen == NFRAMES -> break
  :: else ->
     atomic { ra_load(READER, STATE, s, READER_LOAD_ACQ) }
     if
     :: DIRTY(s) ->
        atomic {
          ra_exchange(READER, STATE, PACK(r, 0, gen), old, READER_XCHG_ACQ, READER_REL);
          r = BACK(old);
          assert(GEN(old) > gen);
          gen = GEN(old);
          printf("reader: took frame %d in slot %d\n", gen, r);
          consumed++;
          old = 0;
          assert(INDICES_OK)
        }
     :: else -> skip
     fi;
     s = 0;
     /* acquire_latest hands out the front slot whether or not it is new. */
     atomic { assert(INDICES_OK); na_read(READER, CELL_ID(r), fid) }
     atomic {
       assert(INDICES_OK);
       na_read(READER, CELL_SUM(r), fsum);
       printf("reader: slot %d holds id %d, checksum %d, expected frame %d\n", r, fid, fsum, gen);
       assert(fid == fsum);       /* torn: id and checksum from different frames */
#ifndef TORN_ONLY
       assert(fid == gen);        /* stale: not the frame the state word named */
#endif
       fid = 0;
       fsum = 0
     }
     /* slot_generation(r), relaxed: the header says the reader may trust it. */
     atomic {
       ra_load(READER, SLOT_GEN(r), sgen, 0);
#ifndef TORN_ONLY
       assert(sgen == gen);
#endif
       sgen = 0
     }
  od;
  assert(consumed + dropped == NFRAMES);
  ended++
}

init {
  d_step { ra_val[STATE * H] = PACK(1, 0, 0) }
  atomic { run writer(); run reader() }
}

#ifdef LIVENESS
ltl reader_gets_last_frame { <> (ended == 2) }
#endif
