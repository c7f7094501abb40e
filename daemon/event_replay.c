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
    struct mm_result want;

    /* Field by field: mm_replay() reads no message, and clearing its 256
     * bytes per event was a tenth of the bench's engine replay. */
    want.status = (enum mm_status)ev->status;
    want.value = ev->value;
    want.aux = ev->aux;
    want.flags = ev->flags;
    want.seq = ev->seq;
    want.msg[0] = '\0';
    return mm_replay(m, &op, &want, err);
}
