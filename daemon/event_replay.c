/* daemon/event_replay.c - one stored event replayed on a machine (see
 * event_replay.h). */
#include "event_replay.h"

enum mm_status srv_event_replay(struct mm_machine *m,
                                const struct store_event *ev,
                                char err[MM_MSG_MAX])
{
    struct mm_op op = {
        .code = (enum mm_opcode)ev->op,
        .cpu = ev->cpu,
        .nargs = ev->nargs,
        .args = ev->args,
    };
    struct mm_result want = {
        .status = (enum mm_status)ev->status,
        .value = ev->value,
        .aux = ev->aux,
        .flags = ev->flags,
        .seq = ev->seq,
    };

    return mm_replay(m, &op, &want, err);
}
