/* daemon/event_replay.h - one stored event replayed on a machine.
 *
 * Recovery (persist.c) and the recovery bench (tests/bench/bench_recovery.c)
 * turn each stored event into the engine's operation and recorded result
 * the same way; this is that one conversion.  It needs only the engine and
 * the store's event struct, so a program that links libmm and libstore
 * links this object without the rest of the daemon.
 */
#ifndef ARMMAP_DAEMON_EVENT_REPLAY_H
#define ARMMAP_DAEMON_EVENT_REPLAY_H

#include "mm.h"
#include "store.h"

/**
 * srv_event_replay - re-apply stored event @ev on @m with mm_replay()
 * @m: the machine, at seq @ev->seq - 1
 * @ev: the stored event (its op, cpu, args and recorded result)
 * @err: set when the result differs (mm_replay()'s message)
 * Return: MM_OK if the recorded status, value, aux, flags and seq came back;
 * MM_INTERNAL otherwise.
 */
enum mm_status srv_event_replay(struct mm_machine *m,
                                const struct store_event *ev,
                                char err[MM_MSG_MAX]);

#endif
